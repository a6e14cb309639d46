"""The work of a live call's turns (activities/live/work.py): a reply starts with its first
sound, not the synthesizer's lead-in; a spelled street is looked up among the streets of the
place understood; items whose words came out garbled are heard in the audio."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from activities.geo.gazetteer import Gazetteer
from activities.geo.sectors import SectorIndex
from activities.geo.territory_file import load_territory
from activities.geocode import GeocodeActivities
from activities.live.pauses import MARGIN_AFTER_S, MARGIN_BEFORE_S
from activities.live.turns import TurnTaking
from activities.live.work import (
    LEAD_IN_LEVEL,
    CallWork,
    located,
    trim_leading_silence,
    turn_words,
)
from activities.speech.engine import SpeechEngine
from activities.speech.tts import Tts
from activities.understand import load_catalogue
from corpus import DEMO_DIR
from domain.address_models import (
    AddressCandidates,
    AddressScores,
    AddressSearchInput,
    ResolveAddressInput,
)
from domain.catalogue import Catalogue
from domain.decision import BOOK_THRESHOLD
from domain.dialogue import Expect, Lookup, LookupKind
from domain.media import FRAME_BYTES
from domain.models import GeocodeResult, GeocodeStatus, Intent, SpokenAddress, Understanding
from domain.understanding import Territory, understand
from tests.activities.geo.helpers import DEMO_BAN, DEMO_SECTORS, MIN_SCORE
from tests.fakes.audiosocket_client import load_slin8k
from tests.fakes.caller_turns import SHARED_VOICEMAILS


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


def test_a_typed_street_is_matched_by_its_keys_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = CallWork(None, None, StreetsOf13005(), None, None)  # type: ignore[arg-type]
    place = SpokenAddress(housenumber="12", postcode="13005")
    caplog.set_level(logging.INFO)
    # C H A V E on the keypad; the same keys as letters would be no spelling at all.
    keys = Lookup(LookupKind.SPELLED, text="24283", address=place, keyed=True)
    assert work.spelled_street(keys) == "Boulevard Chave"
    assert work.spelled_street(replace(keys, text="24284")) == ""
    logged = caplog.text.lower()
    assert "typed street found" in logged and "typed street not found" in logged
    assert "24283" not in logged and "chave" not in logged


def test_items_the_words_garbled_are_heard_in_the_audio_and_never_forced(
    stt: SpeechEngine,
) -> None:
    """demo02's answer to the items question ("j'ai un frigo et un matelas à jeter") at 8 kHz,
    as the line gives it, under a transcript that names no item (« frigo » garbled): the audio
    names it. Another answer's audio (a sofa and chairs) under the same words names nothing:
    no name wins by the margin, none is forced (the vote alone: not heard again)."""
    once = TurnTaking(stt_beam_size=1, stt_items_beam_size=1)
    work = CallWork(None, stt, None, None, None, turns=once)  # type: ignore[arg-type]
    demo02 = load_slin8k(DEMO_DIR / "audio" / "demo02.wav")
    demo01 = load_slin8k(DEMO_DIR / "audio" / "demo01.wav")
    frigo = demo02[int(7.10 * 8000) * 2 : int(9.30 * 8000) * 2]
    sofa = demo01[int(6.55 * 8000) * 2 : int(9.60 * 8000) * 2]
    garbled = Lookup(LookupKind.ITEMS, text="J'ai un effigo à jeter.")
    heard = work.hear_items(garbled, frigo)
    assert heard.intent == Intent.BOOKING and "réfrigérateur" in {i.item for i in heard.items}
    assert work.hear_items(garbled, sofa).items == []
    assert work.hear_items(garbled, b"").items == []  # no audio kept: nothing to vote on
    # Heard again with the items' beam, the sofa's audio says its own items.
    again = CallWork(None, stt, None, None, None)  # type: ignore[arg-type]
    assert {i.item for i in again.hear_items(garbled, sofa).items} == {"canapé", "chaise"}


class BrokenVote:
    def refine_items(self, inp: object, audio: object = None) -> object:
        raise RuntimeError("J'ai un effigo à jeter: no memory left")


def test_a_failed_item_vote_asks_again_and_logs_no_words(caplog: pytest.LogCaptureFixture) -> None:
    once = TurnTaking(stt_beam_size=1, stt_items_beam_size=1)
    work = CallWork(None, BrokenVote(), None, None, None, turns=once)  # type: ignore[arg-type]
    heard = work.hear_items(
        Lookup(LookupKind.ITEMS, text="J'ai un effigo à jeter."), b"\x01" * 3200
    )
    assert heard.intent == Intent.BOOKING and heard.items == []  # the dialogue asks again
    assert "item vote failed (RuntimeError)" in caplog.text and "effigo" not in caplog.text


class BeamRecorder:
    """The Whisper side of an items answer: greedy decoding garbles the item, the wider beam
    hears it; records the beam each transcription asks for."""

    def __init__(self) -> None:
        self.beams: list[int] = []

    def model(self) -> BeamRecorder:
        return self

    def catalogue(self) -> Catalogue:
        return load_catalogue()

    def territory(self) -> Territory:
        return load_territory()

    def transcribe(self, audio: object, **kw: object) -> tuple[list[object], None]:
        beam = int(kw["beam_size"])  # type: ignore[call-overload]
        self.beams.append(beam)
        text = "Alors, une gazinière." if beam > 1 else "Alors, il n'y a pas d'hier."
        return [SimpleNamespace(text=text, no_speech_prob=0.1)], None

    def refine_items(self, inp: object, audio: object = None) -> object:
        raise AssertionError("no vote: the wider beam named the item")


def test_an_items_answer_naming_nothing_is_heard_again_with_the_items_beam() -> None:
    stt = BeamRecorder()
    turns = TurnTaking(stt_beam_size=1, stt_items_beam_size=5)
    work = CallWork(None, stt, None, None, None, turns=turns)  # type: ignore[arg-type]
    pcm = b"\x00\x01" * 1600
    text = work.transcribe(pcm, Expect.SPEECH)
    assert text == "Alors, il n'y a pas d'hier." and stt.beams == [1]  # the turn: greedy
    heard = work.hear_items(Lookup(LookupKind.ITEMS, text=text), pcm)
    assert stt.beams == [1, 5]
    assert heard.intent == Intent.BOOKING and [(i.item, i.count) for i in heard.items] == [
        ("cuisinière", 1)
    ]


class BrokenHearing(BeamRecorder):
    """The second hearing fails (a review's case: it escaped and hung up on the caller)."""

    def transcribe(self, audio: object, **kw: object) -> tuple[list[object], None]:
        raise RuntimeError("Alors, une gazinière: no memory left")


def test_a_failed_second_hearing_asks_again_and_logs_no_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = CallWork(None, BrokenHearing(), None, None, None)  # type: ignore[arg-type]
    heard = work.hear_items(
        Lookup(LookupKind.ITEMS, text="Alors, il n'y a pas d'hier."), b"\x01" * 3200
    )
    assert heard.intent == Intent.BOOKING and heard.items == []  # the dialogue asks again
    assert "item vote failed (RuntimeError)" in caplog.text and "gazini" not in caplog.text


class RefusedOnSecondHearing(BeamRecorder):
    """The wider beam hears only a refused item: the bot must not refuse what was not said."""

    def transcribe(self, audio: object, **kw: object) -> tuple[list[object], None]:
        self.beams.append(int(kw["beam_size"]))  # type: ignore[call-overload]
        return [SimpleNamespace(text="Alors, une bouteille de gaz.", no_speech_prob=0.1)], None

    def refine_items(self, inp: object, audio: object = None) -> object:
        return Understanding(intent=Intent.BOOKING.value)


def test_a_refused_item_heard_only_the_second_time_is_not_taken() -> None:
    stt = RefusedOnSecondHearing()
    work = CallWork(None, stt, None, None, None)  # type: ignore[arg-type]
    heard = work.hear_items(Lookup(LookupKind.ITEMS, text="Alors, une bouteille."), b"\x01" * 3200)
    assert stt.beams == [5] and heard.items == [] and heard.refused_items == []


@pytest.fixture(scope="module")
def demo_search(
    tmp_path_factory: pytest.TempPathFactory, territory: Territory
) -> GeocodeActivities:
    gazetteer = Gazetteer.load(DEMO_BAN, tmp_path_factory.mktemp("gazetteer-cache"))
    return GeocodeActivities(gazetteer, SectorIndex.load([DEMO_SECTORS]), MIN_SCORE, territory)


@pytest.mark.parametrize(
    ("words", "region", "determiner"),
    [
        # The vote's own decoding: the address after its cue, wherever it now sits.
        ("Euh bonjour. J'habite au douze rue Julia, 13005.", "douze rue Julia", "au"),
        # No cue: the street the words parse as, its locality left out of the region (the
        # hypotheses keep it after the street, as the audio has it).
        ("douze boulevard Chave, treize mille cinq Marseille.", "douze boulevard Chave", ""),
        # The street alone, asked for, no street type heard: all of it, without the stop.
        ("rejoulier.", "rejoulier", ""),
    ],
)
def test_the_vote_cuts_the_audio_where_its_own_words_put_the_address(
    demo_search: GeocodeActivities,
    territory: Territory,
    words: str,
    region: str,
    determiner: str,
) -> None:
    # Located in the turn's words (another decoding), or nowhere (a lookup after keys).
    lookup_words = AddressCandidates(region_start=40, region_end=52, determiner="le")
    said = understand(words, "", load_catalogue(), territory).address
    where = demo_search.propose_addresses(AddressSearchInput(text=words, address=said))
    found = located(lookup_words, words, where)
    assert words[found.region_start : found.region_end] == region
    assert found.determiner == determiner


class VotingStt:
    """The speech side of an address vote: the turn heard again, the streets and every
    house number scored (the audio prefers « 1 » to the number typed)."""

    def catalogue(self) -> Catalogue:
        return load_catalogue()

    def transcribe_file(self, inp: object) -> object:
        return SimpleNamespace(text="boulevard Chave", segments=[])

    def score_address_candidates(self, inp: object) -> AddressScores:
        return AddressScores(
            street_scores=[3.0], number_street=0, numbers=["1", "12"], number_scores=[9.0, 1.0]
        )


class ResolveRecorder:
    def __init__(self, search: GeocodeActivities) -> None:
        self.search = search
        self.territory = search.territory
        self.book_threshold = search.book_threshold
        self.scores: list[AddressScores | None] = []

    def propose_addresses(self, inp: AddressSearchInput) -> AddressCandidates:
        return self.search.propose_addresses(inp)

    def resolve_address(self, inp: ResolveAddressInput) -> GeocodeResult:
        self.scores.append(inp.scores)
        return GeocodeResult(GeocodeStatus.NOT_FOUND)


@pytest.mark.parametrize(("typed", "numbers"), [("12", []), ("", ["1", "12"])])
def test_the_audio_never_outvotes_a_typed_number(
    demo_search: GeocodeActivities, typed: str, numbers: list[str]
) -> None:
    geocode = ResolveRecorder(demo_search)
    work = CallWork(None, VotingStt(), geocode, None, None)  # type: ignore[arg-type]
    address = SpokenAddress(housenumber="12", street="boulevard Chave", postcode="13005")
    lookup = Lookup(LookupKind.ADDRESS, address=address, typed_place="13005", typed_number=typed)
    work.vote_address(lookup, AddressCandidates(), b"\x01" * 3200)
    (scores,) = geocode.scores
    assert scores is not None and scores.street_scores == [3.0]
    assert scores.numbers == numbers  # typed: the street is the audio's, the number the keys'


@pytest.mark.parametrize("deployment", [0.0, 0.95])
def test_a_calls_lookup_keeps_the_calls_threshold_not_the_voicemails(
    tmp_path: Path, territory: Territory, deployment: float
) -> None:
    """The address steps mark their result with the committed threshold of its path (0.99 for
    an address the audio voted on); a call reads every address back, so its lookup keeps the
    deployment's own (0: the dialogue's 0.90)."""
    geo = GeocodeActivities(
        Gazetteer.load(DEMO_BAN, tmp_path),
        SectorIndex.load([DEMO_SECTORS]),
        MIN_SCORE,
        territory,
        book_threshold=deployment,
    )
    address = SpokenAddress(housenumber="12", street="boulevard Chave", postcode="13005")
    voicemail = geo.resolve_address(
        ResolveAddressInput(
            candidates=geo.propose_addresses(
                AddressSearchInput("12 boulevard Chave 13005", address)
            ),
            address=address,
        )
    )
    assert voicemail.book_threshold == (deployment or BOOK_THRESHOLD)  # the words alone
    work = CallWork(None, None, geo, None, None)  # type: ignore[arg-type]
    _, result = work.lookup_address(Lookup(LookupKind.ADDRESS, address=address))
    assert result.status == GeocodeStatus.MATCHED and result.book_threshold == deployment


class TightWordStt(BeamRecorder):
    """Whisper on a lone short word cut tight: no segment at all, until silence is around
    it; records the length of each audio it is given."""

    def __init__(self, answer: list[object]) -> None:
        super().__init__()
        self.answer = answer
        self.lengths: list[int] = []

    def transcribe(self, audio: object, **kw: object) -> tuple[list[object], None]:
        self.lengths.append(len(audio))  # type: ignore[arg-type]
        return (self.answer if len(self.lengths) > 1 else []), None


def test_a_turn_heard_as_nothing_is_heard_again_with_silence_around_it() -> None:
    stt = TightWordStt([SimpleNamespace(text="Oui.", no_speech_prob=0.6)])
    work = CallWork(None, stt, None, None, None, turns=TurnTaking())  # type: ignore[arg-type]
    assert work.transcribe(b"\x00\x10" * 6400, Expect.YES_NO) == "Oui."
    bare, padded = stt.lengths
    assert padded - bare == int(16000 * (MARGIN_BEFORE_S + MARGIN_AFTER_S))


def test_the_bench_without_margins_hears_the_turn_once() -> None:
    # bench_yes_no's « before » column: the same decoding, without the retry.
    stt = TightWordStt([SimpleNamespace(text="Oui.", no_speech_prob=0.6)])
    audio = np.full(6400, 0.01, dtype=np.float32)
    assert turn_words(stt, audio, beam_size=1, prompt=None, margins=False) == ""
    assert len(stt.lengths) == 1


class NoSpeechStt(TightWordStt):
    """Whisper's own verdict: a segment, with a high "no speech" probability."""

    def transcribe(self, audio: object, **kw: object) -> tuple[list[object], None]:
        self.lengths.append(len(audio))  # type: ignore[arg-type]
        return [SimpleNamespace(text="Merci.", no_speech_prob=0.9)], None


def test_a_segment_filtered_as_no_speech_is_not_heard_again() -> None:
    stt = NoSpeechStt([])
    work = CallWork(None, stt, None, None, None, turns=TurnTaking())  # type: ignore[arg-type]
    assert work.transcribe(b"\x00\x10" * 6400, Expect.YES_NO) == ""
    assert len(stt.lengths) == 1  # once: a segment came, filtered as no speech


def test_a_lone_oui_cut_tight_is_heard(stt: SpeechEngine) -> None:
    # vm004's « oui » (0.0-0.8 s) at 8 kHz, no silence around it: no segment at all on an
    # Intel Xeon host before the margins (heard on an AMD EPYC one).
    path = SHARED_VOICEMAILS / "vm004.wav"
    if not path.is_file():
        pytest.skip(f"no development voicemails ({path})")
    pcm = load_slin8k(path)[: int(0.8 * 8000) * 2]
    work = CallWork(None, stt, None, None, None, turns=TurnTaking())  # type: ignore[arg-type]
    assert work.transcribe(pcm, Expect.YES_NO).strip(" .").lower() == "oui"
