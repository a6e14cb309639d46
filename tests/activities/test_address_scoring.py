"""Forced scoring of candidate addresses and items against the audio, and the second pass
(activities/transcribe.py), on the committed demo voicemails (one Whisper model per session:
the `stt` fixture)."""

from __future__ import annotations

import re

import pytest
from temporalio.converter import DataConverter

from activities.geo.gazetteer import Gazetteer
from activities.geo.sectors import SectorIndex
from activities.geocode import GeocodeActivities
from activities.transcribe import TranscribeActivities, address_clip
from corpus import DEMO_DIR
from domain.address_models import (
    AddressCandidates,
    AddressPassInput,
    AddressScores,
    AddressScoringInput,
    AddressSearchInput,
    ItemRefineInput,
    StreetCandidate,
)
from domain.models import Intent, Segment, SpokenAddress, TranscribeInput, Understanding
from domain.understanding import Territory

AUDIO = DEMO_DIR / "audio"


@pytest.fixture(scope="module")
def geocode(tmp_path_factory: pytest.TempPathFactory, territory: Territory) -> GeocodeActivities:
    gz = Gazetteer.load(DEMO_DIR / "adresses-demo.csv", tmp_path_factory.mktemp("gz"))
    sectors = SectorIndex.load(DEMO_DIR / "secteurs-demo.geojson")
    return GeocodeActivities(gz, sectors, 0.82, territory)


@pytest.fixture(scope="module")
def demo01(stt: TranscribeActivities):
    return stt.transcribe_file(TranscribeInput(audio_path=str(AUDIO / "demo01.wav")))


def test_address_clip_covers_the_address_segment() -> None:
    text = "Bonjour. J'habite au douze boulevard Chave, 13005. Merci."
    segments = [
        Segment(0.0, 1.0, "Bonjour.", -0.2),
        Segment(1.0, 4.0, "J'habite au douze boulevard Chave, 13005.", -0.2),
        Segment(4.0, 5.0, "Merci.", -0.2),
    ]
    start = text.index("douze")
    cands = AddressCandidates(
        candidates=[StreetCandidate("Boulevard Chave", "13005", "13205", "Marseille", 1.0)],
        region_start=start,
        region_end=text.index(","),
        determiner="au",
    )
    clip = address_clip(text, segments, cands)
    assert clip is not None
    assert clip.start_s == pytest.approx(0.85)
    assert clip.end_s == pytest.approx(4.25)
    assert clip.prefix == "J'habite au"
    assert clip.suffix == ", 13005."
    assert clip.determiner == ""  # "au" is already in the transcript


def test_no_clip_without_a_located_address() -> None:
    assert address_clip("Bonjour.", [Segment(0, 1, "Bonjour.", 0)], AddressCandidates()) is None


def test_the_audio_picks_the_street_and_the_number(
    stt: TranscribeActivities, geocode: GeocodeActivities, demo01
) -> None:
    spoken = SpokenAddress(housenumber="12", street="boulevard Chave", postcode="13005")
    cands = geocode.propose_addresses(AddressSearchInput(text=demo01.text, address=spoken))
    streets = [c.street for c in cands.candidates]
    assert "Boulevard Chave" in streets
    scores = stt.score_address_candidates(
        AddressScoringInput(
            audio_path=str(AUDIO / "demo01.wav"),
            text=demo01.text,
            segments=demo01.segments,
            candidates=cands,
        )
    )
    assert len(scores.street_scores) == len(cands.candidates)
    best = max(range(len(streets)), key=lambda k: scores.street_scores[k])
    assert streets[best] == "Boulevard Chave"
    assert scores.number_street == best
    ranked = sorted(zip(scores.number_scores, scores.numbers, strict=True), reverse=True)
    assert "12" in [n for _, n in ranked[:2]]
    assert scores.heard_score is not None
    assert scores.processing_s > 0


def test_nothing_to_score(stt: TranscribeActivities, demo01) -> None:
    scores = stt.score_address_candidates(
        AddressScoringInput(
            audio_path=str(AUDIO / "demo01.wav"),
            text=demo01.text,
            segments=demo01.segments,
            candidates=AddressCandidates(),
        )
    )
    assert scores.street_scores == []
    assert scores.reason


def test_items_the_words_do_not_name_are_chosen_by_the_audio(
    stt: TranscribeActivities, demo01
) -> None:
    # The transcript as if "un canapé" had come out as "un tanapé" (a non-word the catalogue
    # does not read as any item): the audio still says "canapé".
    found = re.search(r"\b(un|en)\s+(canap\w*)", demo01.text, re.IGNORECASE)
    if found is None:
        pytest.skip("the demo voicemail's transcript no longer says « un canapé »")
    said = found.group(0)
    garbled = demo01.text.replace(said, "un tanapé")
    segments = [
        Segment(s.start, s.end, s.text.replace(said, "un tanapé"), s.avg_logprob)
        for s in demo01.segments
    ]
    u = Understanding(intent=Intent.BOOKING.value)
    refined = stt.refine_items(
        ItemRefineInput(
            audio_path=str(AUDIO / "demo01.wav"), text=garbled, segments=segments, understanding=u
        )
    )
    assert "canapé" in {i.item for i in refined.items}


def test_refine_items_leaves_other_intents_alone(stt: TranscribeActivities, demo01) -> None:
    u = Understanding(intent=Intent.QUESTION.value)
    out = stt.refine_items(
        ItemRefineInput(
            audio_path=str(AUDIO / "demo01.wav"),
            text=demo01.text,
            segments=demo01.segments,
            understanding=u,
        )
    )
    assert out == u


def test_second_pass_rewrites_the_address_segment(
    stt: TranscribeActivities, geocode: GeocodeActivities, demo01
) -> None:
    cands = geocode.propose_addresses(AddressSearchInput(text=demo01.text))
    result = stt.transcribe_address(
        AddressPassInput(
            audio_path=str(AUDIO / "demo01.wav"),
            text=demo01.text,
            segments=demo01.segments,
            candidates=cands,
        )
    )
    assert result.segment_text
    # Only the address segment is rewritten: the last segment is untouched.
    assert result.text.endswith(demo01.segments[-1].text)
    assert " ".join(s.text for s in result.segments) == result.text


@pytest.mark.parametrize(
    "value",
    [
        AddressCandidates(
            candidates=[
                StreetCandidate("Rue Paradis", "13006", "13206", "Marseille", 0.9, 0.08, ["1"])
            ],
            region_start=3,
            region_end=10,
            determiner="au",
            housenumbers=["12"],
            postcodes=["13006"],
        ),
        AddressScores([1.5, -2.0], 4.0, 0, ["1", "2"], [3.0, 1.0], 0.5),
        ItemRefineInput("a.wav", "t", [Segment(0, 1, "t", -0.1)], Understanding(intent="booking")),
    ],
)
def test_step_dataclasses_cross_the_temporal_boundary(value: object) -> None:
    converter = DataConverter.default.payload_converter
    (back,) = converter.from_payloads(converter.to_payloads([value]), [type(value)])
    assert back == value
