"""Forced scoring of candidate addresses against the audio (activities/speech/address.py), on
the committed demo voicemails (one Whisper model per session: the `stt` fixture)."""

from __future__ import annotations

import pytest
from temporalio.converter import DataConverter

from activities.geocode import GeocodeActivities
from activities.speech.address import address_clip
from activities.speech.engine import SpeechEngine
from corpus import DEMO_DIR
from domain.address_models import (
    AddressCandidates,
    AddressScores,
    AddressScoringInput,
    AddressSearchInput,
    ItemRefineInput,
    PlaceEvidence,
    StreetCandidate,
)
from domain.models import GeocodeResult, Segment, SpokenAddress, Understanding

AUDIO = DEMO_DIR / "audio"


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
    stt: SpeechEngine, geocode: GeocodeActivities, demo01
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
    assert scores.transcript_quality == 1.0  # a clean message with a sure decoder


def test_nothing_to_score(stt: SpeechEngine, demo01) -> None:
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
        AddressCandidates(
            evidence=[PlaceEvidence("arrondissement", "14", 3, 20)],
            transcript_quality=0.4,
            self_corrected=True,
        ),
        AddressScores(transcript_quality=0.7),
        GeocodeResult("matched", doubt="address_conflict", transcript_quality=0.8),
        ItemRefineInput("a.wav", "t", [Segment(0, 1, "t", -0.1)], Understanding(intent="booking")),
    ],
)
def test_step_dataclasses_cross_the_temporal_boundary(value: object) -> None:
    converter = DataConverter.default.payload_converter
    (back,) = converter.from_payloads(converter.to_payloads([value]), [type(value)])
    assert back == value


def test_a_result_recorded_before_the_trust_checks_replays_as_it_was_decided() -> None:
    """A GeocodeResult in a history written before `doubt` and `transcript_quality` existed
    decodes with their defaults, so the workflow's decision on it is unchanged on replay."""
    from temporalio.api.common.v1 import Payload

    from domain.decision import DecisionKind, decide_address

    old = (
        b'{"status": "matched", "match": {"housenumber": "4", "street": "Rue Paradis",'
        b' "postcode": "13006", "citycode": "13206", "city": "Marseille", "lon": 5.38,'
        b' "lat": 43.29, "score": 0.97, "sector": "13206", "ban_id": ""}, "candidates": [],'
        b' "reason": "", "book_threshold": 0.0, "confirm_threshold": 0.0}'
    )
    payload = Payload(metadata={"encoding": b"json/plain"}, data=old)
    converter = DataConverter.default.payload_converter
    (geo,) = converter.from_payloads([payload], [GeocodeResult])
    assert (geo.doubt, geo.transcript_quality) == ("", 1.0)
    assert decide_address(geo).kind == DecisionKind.BOOK
