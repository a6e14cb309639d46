"""The work of a live call's turns (activities/live/work.py): a reply starts with its first
sound, not the synthesizer's lead-in; a spelled street is looked up among the streets of the
place understood; items whose words came out garbled are heard in the audio."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from activities.live.work import LEAD_IN_LEVEL, CallWork, trim_leading_silence
from activities.speech.engine import SpeechEngine
from activities.speech.tts import Tts
from corpus import DEMO_DIR
from domain.dialogue import Lookup, LookupKind
from domain.media import FRAME_BYTES
from domain.models import Intent, SpokenAddress
from tests.fakes.audiosocket_client import load_slin8k


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


def test_items_the_words_garbled_are_heard_in_the_audio_and_never_forced(
    stt: SpeechEngine,
) -> None:
    """demo02's answer to the items question ("j'ai un frigo et un matelas à jeter") at 8 kHz,
    as the line gives it, under a transcript that names no item (« frigo » garbled): the audio
    names it. Another answer's audio (a sofa and chairs) under the same words names nothing:
    no name wins by the margin, none is forced."""
    work = CallWork(None, stt, None, None, None)  # type: ignore[arg-type]
    demo02 = load_slin8k(DEMO_DIR / "audio" / "demo02.wav")
    demo01 = load_slin8k(DEMO_DIR / "audio" / "demo01.wav")
    frigo = demo02[int(7.10 * 8000) * 2 : int(9.30 * 8000) * 2]
    sofa = demo01[int(6.55 * 8000) * 2 : int(9.60 * 8000) * 2]
    garbled = Lookup(LookupKind.ITEMS, text="J'ai un effigo à jeter.")
    heard = work.hear_items(garbled, frigo)
    assert heard.intent == Intent.BOOKING and "réfrigérateur" in {i.item for i in heard.items}
    assert work.hear_items(garbled, sofa).items == []
    assert work.hear_items(garbled, b"").items == []  # no audio kept: nothing to vote on


class BrokenVote:
    def refine_items(self, inp: object, audio: object = None) -> object:
        raise RuntimeError("J'ai un effigo à jeter: no memory left")


def test_a_failed_item_vote_asks_again_and_logs_no_words(caplog: pytest.LogCaptureFixture) -> None:
    work = CallWork(None, BrokenVote(), None, None, None)  # type: ignore[arg-type]
    heard = work.hear_items(
        Lookup(LookupKind.ITEMS, text="J'ai un effigo à jeter."), b"\x01" * 3200
    )
    assert heard.intent == Intent.BOOKING and heard.items == []  # the dialogue asks again
    assert "item vote failed (RuntimeError)" in caplog.text and "effigo" not in caplog.text
