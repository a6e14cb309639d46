"""The work of a live call's turns (activities/live/work.py): a reply starts with its first
sound, not the synthesizer's lead-in; a spelled street is looked up among the streets of the
place understood."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from activities.live.work import LEAD_IN_LEVEL, CallWork, trim_leading_silence
from activities.speech.tts import Tts
from domain.dialogue import Lookup, LookupKind
from domain.media import FRAME_BYTES
from domain.models import SpokenAddress


def test_reply_starts_with_its_first_sound() -> None:
    pcm = Tts().synthesize("C'est noté. Vous allez recevoir un SMS de confirmation.")
    trimmed = trim_leading_silence(pcm)
    lead_in = (len(pcm) - len(trimmed)) // 2
    assert 0 < lead_in <= 8000 // 5, lead_in  # eSpeak starts with some dead air; it is gone
    first = np.abs(np.frombuffer(trimmed[:FRAME_BYTES], dtype="<i2").astype(np.int32))
    assert first.max() >= LEAD_IN_LEVEL  # the first 20 ms frame already carries the voice
    assert trim_leading_silence(b"\x00" * 640) == b"\x00" * 640  # silence only: left alone


class StreetsOf13005:
    """The gazetteer's side of a spelled street: the streets of the place asked for."""

    def __init__(self) -> None:
        self.asked: list[SpokenAddress] = []

    def streets_of(self, address: SpokenAddress) -> list[str]:
        self.asked.append(address)
        return ["Boulevard Chave", "Rue Chape"] if address.postcode == "13005" else []


def test_spelled_street_is_looked_up_in_the_place_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    geo = StreetsOf13005()
    work = CallWork(None, None, geo, None, None)  # type: ignore[arg-type]
    place = SpokenAddress(housenumber="12", postcode="13005")
    caplog.set_level(logging.INFO)
    assert work.spelled_street(Lookup(LookupKind.SPELLED, text="chave", address=place)) == (
        "Boulevard Chave"
    )
    assert geo.asked == [place]
    # Chave or Chape, one letter off each: no guess.
    assert work.spelled_street(Lookup(LookupKind.SPELLED, text="chae", address=place)) == ""
    elsewhere = SpokenAddress(postcode="13006")
    assert work.spelled_street(Lookup(LookupKind.SPELLED, text="chave", address=elsewhere)) == ""
    logged = caplog.text.lower()
    assert "spelled street found" in logged and "chave" not in logged and "chae" not in logged
