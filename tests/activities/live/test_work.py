"""A live call's reply starts with its first sound, not the synthesizer's lead-in
(activities/live/work.py)."""

from __future__ import annotations

import numpy as np

from activities.live.work import LEAD_IN_LEVEL, trim_leading_silence
from activities.speech.tts import Tts
from domain.media import FRAME_BYTES


def test_reply_starts_with_its_first_sound() -> None:
    pcm = Tts().synthesize("C'est noté. Vous allez recevoir un SMS de confirmation.")
    trimmed = trim_leading_silence(pcm)
    lead_in = (len(pcm) - len(trimmed)) // 2
    assert 0 < lead_in <= 8000 // 5, lead_in  # eSpeak starts with some dead air; it is gone
    first = np.abs(np.frombuffer(trimmed[:FRAME_BYTES], dtype="<i2").astype(np.int32))
    assert first.max() >= LEAD_IN_LEVEL  # the first 20 ms frame already carries the voice
    assert trim_leading_silence(b"\x00" * 640) == b"\x00" * 640  # silence only: left alone
