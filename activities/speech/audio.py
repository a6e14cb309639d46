"""Audio decoding for speech-to-text: any container/codec PyAV understands, to 16 kHz mono
float32, with every bound checked before the file can cost much (size, duration, silence)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from temporalio.exceptions import ApplicationError

from domain.errors import AUDIO_UNUSABLE

SAMPLE_RATE = 16_000
# Peak amplitude under which a recording is treated as silence (float samples in [-1, 1]).
SILENCE_PEAK = 1e-3


def unusable(reason: str) -> ApplicationError:
    return ApplicationError(reason, type=AUDIO_UNUSABLE, non_retryable=True)


def load_audio(path: Path, max_duration_s: float) -> np.ndarray:
    """Decode any container/codec PyAV understands to 16 kHz mono float32.

    Every way this can fail is a property of the file, not of the worker, so it is reported
    as a non-retryable AUDIO_UNUSABLE error rather than retried."""
    if not path.is_file():
        raise unusable(f"fichier audio introuvable: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise unusable("fichier audio vide (0 octet)")
    # A cheap guard before decoding: 16-bit PCM at 48 kHz stereo is ~192 kB/s, so anything
    # far larger than max_duration at that rate cannot be a valid short message.
    if size > max_duration_s * 192_000 * 4:
        raise unusable(f"fichier audio trop volumineux ({size} octets)")
    try:
        audio = decode_bounded(path, max_duration_s)
    except ApplicationError:
        raise
    except Exception as exc:  # PyAV raises many types for corrupt input
        raise unusable(f"audio illisible: {type(exc).__name__}") from exc
    duration = audio.shape[0] / SAMPLE_RATE
    if audio.size == 0 or duration < 0.2:
        raise unusable("audio vide ou trop court")
    if duration > max_duration_s:
        raise unusable(f"message trop long ({duration:.0f} s > {max_duration_s:.0f} s)")
    if not np.isfinite(audio).all():
        raise unusable("audio corrompu (échantillons invalides)")
    if float(np.max(np.abs(audio))) < SILENCE_PEAK:
        raise unusable("message silencieux")
    return audio


def decode_bounded(path: Path, max_duration_s: float) -> np.ndarray:
    """faster_whisper.audio.decode_audio, but stopping as soon as the decoded audio passes
    `max_duration_s`: a compressed file of a few megabytes can hold hours of audio (or a
    header can claim it), and decoding it all first would cost minutes and gigabytes before
    the duration check could refuse it."""
    import av

    limit = int((max_duration_s + 1.0) * SAMPLE_RATE)
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    invalid = 0
    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise unusable("aucune piste audio")
        stream = container.streams.audio[0]
        # Packet by packet, so that a corrupt packet costs only itself: an exception out of
        # container.decode() would end that generator, and with it the rest of the message.
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                invalid += 1
                if invalid > 1000:  # nothing but corrupt packets: not a damaged message
                    raise unusable("audio illisible: trop de paquets corrompus") from None
                continue
            for frame in frames:
                frame.pts = None
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.shape[0]
            if total > limit:
                raise unusable(f"message trop long (plus de {max_duration_s:.0f} s)")
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32) / 32768.0
