"""Caller turns for live-call tests, cut from the demo and development voicemails (Kokoro
voices that Whisper base understands; eSpeak's French is not understood well enough to play
the caller). Cut at fixed times found once with Whisper word timestamps; converted to what a
phone line carries (slin16, 8 kHz). Nothing is written to the repository."""

from __future__ import annotations

from pathlib import Path

from corpus import DEMO_DIR
from domain.media import SAMPLE_RATE
from tests.fakes.audiosocket_client import load_slin8k

SHARED_VOICEMAILS = Path(__file__).resolve().parents[2].parent / "shared" / "voicemails" / "audio"

# name: (file, start s, end s, what is said)
TURNS: dict[str, tuple[Path, float, float, str]] = {
    "address": (
        DEMO_DIR / "audio" / "demo01.wav",
        2.70,
        6.45,
        "j'habite au douze boulevard Chave, treize mille cinq Marseille",
    ),
    # The street, cut from "address" (for a caller who types the number and postcode). Not the
    # two words alone (3.42-4.45): Whisper base heard them « C'est bon, va ch'à » once the
    # line's silence was around them, on one CPU and not another. With the number before, the
    # cuts 3.04-3.08 s to 4.42-4.52 s, each in 6 paddings of silence (36 clips), were all heard
    # « … boulevard Chave » on the CPU where the two words failed.
    "street": (DEMO_DIR / "audio" / "demo01.wav", 3.06, 4.47, "au douze boulevard Chave"),
    "items": (
        DEMO_DIR / "audio" / "demo01.wav",
        6.55,
        9.60,
        "je voudrais faire enlever un canapé et deux chaises",
    ),
    "yes": (SHARED_VOICEMAILS / "vm019.wav", 0.0, 1.07, "oui"),
    "question": (
        SHARED_VOICEMAILS / "vm019.wav",
        4.25,
        6.95,
        "est-ce que vous ramassez les gravats ?",
    ),
}


def caller_turn(name: str) -> bytes:
    """The turn as slin16 8 kHz."""
    path, start, end, _ = TURNS[name]
    if not path.is_file():
        raise FileNotFoundError(path)
    pcm = load_slin8k(path)
    a, b = int(start * SAMPLE_RATE) * 2, int(end * SAMPLE_RATE) * 2
    return pcm[a:b]
