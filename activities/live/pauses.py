"""A caller's long pauses inside a turn, shortened before the turn is transcribed.

Whisper, given a turn with a pause of a second or more in it (« au… douze… boulevard Chave »,
the turn detector waiting through it), often writes what came before the pause and stops:
« J'habite au dur. » for the whole address. Silero VAD, which the voicemail path uses for the
same purpose, drops 8 kHz telephone speech in these turns (measured on the scripted calls
replayed: 7 of 29 booked right with it, 23 without), so the pauses are found by their energy
here: a run of frames much quieter than the turn's own speech and near the line's floor,
longer than `LONGEST_PAUSE_S`, is cut down to that length (the words on both sides kept
whole, their order and their timing inside each stretch of speech unchanged).
"""

from __future__ import annotations

import numpy as np

FRAME_S = 0.02
# Pauses up to this long are left as they are: a breath between two words, a comma.
LONGEST_PAUSE_S = 0.6
# A frame is quiet below this fraction of the turn's loud frames' level (its 90th percentile
# RMS): line noise at an SNR of 20 dB sits at about a tenth of speech...
QUIET_FRACTION = 0.12
# ... and near the line's own floor (its 5th percentile RMS, times this; a turn ends on a
# pause of 0.7 s at least, so its quietest frames are the line's): on a clean line,
# speech said softer (a caller turning from the phone) is far above the floor and is kept.
FLOOR_MARGIN = 3.0
# ... or, on a line with no noise at all, below this fraction of the loud level.
SILENT_FRACTION = 0.02
# A turn whose loud frames are this quiet (float RMS) has no speech to measure a pause by.
FLOOR = 0.003
# The silence put around a turn Whisper gave no segment for (`with_margins`): as long as
# the turn detector's pre-roll before it, and about its shortest end pause after it.
MARGIN_BEFORE_S = 0.3
MARGIN_AFTER_S = 0.5


def close_pauses(audio: np.ndarray, rate: int = 16000) -> np.ndarray:
    """`audio` (float32 mono) with each inner pause longer than LONGEST_PAUSE_S shortened to
    it; the leading and trailing silence are left (the transcription handles them)."""
    frame = int(rate * FRAME_S)
    count = len(audio) // frame
    if count < 3:
        return audio
    frames = audio[: count * frame].reshape(count, frame).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    loud_level = float(np.percentile(rms, 90))
    if loud_level < FLOOR:
        return audio
    floor = float(np.percentile(rms, 5))
    quiet = rms < min(
        loud_level * QUIET_FRACTION, max(floor * FLOOR_MARGIN, loud_level * SILENT_FRACTION)
    )
    spoken = np.flatnonzero(~quiet)
    if spoken.size == 0:
        return audio
    first, last = int(spoken[0]), int(spoken[-1])
    keep = int(LONGEST_PAUSE_S / FRAME_S)
    pieces: list[np.ndarray] = []
    start = 0
    i = first
    while i <= last:
        if not quiet[i]:
            i += 1
            continue
        end = i
        while end <= last and quiet[end]:
            end += 1
        if end - i > keep:
            half = keep // 2
            pieces.append(audio[start * frame : (i + half) * frame])
            start = end - (keep - half)
        i = end
    if not pieces:
        return audio
    pieces.append(audio[start * frame :])
    return np.concatenate(pieces)


def with_margins(audio: np.ndarray, rate: int = 16000) -> np.ndarray:
    """`audio` with digital silence before and after it (MARGIN_BEFORE_S, MARGIN_AFTER_S).

    Whisper base returns no segment at all for a lone short word cut tight, with no silence
    around it: « oui » (0.8 s at -45 dBFS, the call set's vm004) on an Intel Xeon host, under
    every line condition of the call set, clean included; the same clip with these margins
    is heard « Oui. » under all six (the replayed call set, whose answers are cut at the
    clip's bounds, lost 7 confirmations so; a live turn has the detector's pre-roll and end
    pause of line audio around it, and gets here only when Whisper gave no segment). A
    louder clip (gain ×4) was heard on two conditions of six: level is not the cause.
    """
    before = np.zeros(int(rate * MARGIN_BEFORE_S), dtype=audio.dtype)
    after = np.zeros(int(rate * MARGIN_AFTER_S), dtype=audio.dtype)
    return np.concatenate([before, audio, after])
