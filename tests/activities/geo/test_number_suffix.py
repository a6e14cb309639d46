"""A house number the words alone gave, in a street that also has it with a suffix ("12"
heard, "12 bis" exists): a transcription that drops the "bis" cannot be ruled out, so the
caller confirms by SMS, offered both (issue 16: the wrong bookings left on the development
corpora's text channel were of this kind, 24 booked for 24 bis). The audio vote, when it
scored the numbers, tells them apart and is not second-guessed."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from activities.geo.gazetteer import Gazetteer
from activities.geo.sectors import SectorIndex
from activities.geocode import GeocodeActivities
from corpus import CORPUS_DIR
from domain.address_models import AddressScores, ResolveAddressInput
from domain.catalogue import Catalogue
from domain.decision import DecisionKind, decide_address
from domain.models import EscalationReason, GeocodeResult
from domain.understanding import Territory, understand
from tests.activities.geo.helpers import SEARCH_HEADER, SEARCH_SECTORS, propose


@pytest.fixture(scope="module")
def suffixed(tmp_path_factory: pytest.TempPathFactory, territory: Territory) -> GeocodeActivities:
    """Rue Paradis (13006) numbers 1–30, and 12 bis and 12 ter beside 12."""
    tmp = tmp_path_factory.mktemp("suffix")
    ban = tmp / "adresses-test.csv"
    with ban.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(SEARCH_HEADER)
        rows = [("Rue Paradis", n, "") for n in range(1, 31)]
        rows += [("Rue Paradis", 12, "bis"), ("Rue Paradis", 12, "ter")]
        # Five suffixes beside 20; one street under two spellings, 7 bis under the other.
        rows += [("Rue Paradis", 20, rep) for rep in ("a", "b", "bis", "quater", "ter")]
        rows += [("Traverse Camp Long", n, "") for n in range(1, 31)]
        rows += [("Traverse Camp-Long", 7, "bis")]
        for street, n, rep in sorted(rows):
            lat = 43.285 + 0.0003 * n + (0.0001 if rep else 0.0)
            lon = 5.411 if street == "Rue Paradis" else 5.412
            writer.writerow(
                [f"{street}_{n}{rep}", n, rep, street, "13006", "13206", "Marseille", lon, lat]
            )
    sectors = tmp / "sectors.geojson"
    sectors.write_text(json.dumps(SEARCH_SECTORS), encoding="utf-8")
    gz = Gazetteer.load(ban, tmp / "cache")
    return GeocodeActivities(gz, SectorIndex.load(sectors), min_score=0.82, territory=territory)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    data = yaml.safe_load((CORPUS_DIR / "items.yaml").read_text(encoding="utf-8"))
    return Catalogue.from_dict(data)


def _resolve(
    acts: GeocodeActivities,
    catalogue: Catalogue,
    territory: Territory,
    text: str,
    scores: AddressScores | None = None,
) -> GeocodeResult:
    u = understand(text, "+33611223344", catalogue, territory)
    cands = propose(acts, text, u.address)
    return acts.resolve_address(
        ResolveAddressInput(candidates=cands, scores=scores, address=u.address)
    )


def test_a_number_with_a_suffixed_twin_is_confirmed_with_both_offered(
    suffixed: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    geo = _resolve(
        suffixed, catalogue, territory, "J'habite au douze rue Paradis, 13006 Marseille."
    )
    assert geo.match is not None and geo.match.housenumber == "12"
    assert geo.doubt == EscalationReason.NUMBER_SUFFIX
    decision = decide_address(geo, book_threshold=0.0)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS
    assert {c.housenumber for c in decision.candidates} >= {"12", "12 bis", "12 ter"}


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("J'habite au douze bis rue Paradis, 13006 Marseille.", "12 bis"),
        ("J'habite au quatorze rue Paradis, 13006 Marseille.", "14"),
    ],
)
def test_a_suffix_said_or_a_number_without_twin_raises_no_doubt(
    suffixed: GeocodeActivities,
    catalogue: Catalogue,
    territory: Territory,
    said: str,
    number: str,
) -> None:
    geo = _resolve(suffixed, catalogue, territory, said)
    assert geo.match is not None and geo.match.housenumber == number
    assert geo.doubt == ""


def test_a_twin_under_another_spelling_of_the_street_counts(
    suffixed: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    geo = _resolve(
        suffixed, catalogue, territory, "J'habite au sept traverse Camp Long, 13006 Marseille."
    )
    assert geo.match is not None and geo.match.housenumber == "7"
    assert geo.doubt == EscalationReason.NUMBER_SUFFIX
    assert "7 bis" in {c.housenumber for c in decide_address(geo).candidates}


def test_bis_and_ter_are_offered_first_among_many_twins(
    suffixed: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    geo = _resolve(suffixed, catalogue, territory, "J'habite au vingt rue Paradis, 13006.")
    decision = decide_address(geo)
    assert decision.kind == DecisionKind.CONFIRM_BY_SMS
    assert [c.housenumber for c in decision.candidates] == ["20", "20 bis", "20 ter"]


def _voted(
    acts: GeocodeActivities,
    catalogue: Catalogue,
    territory: Territory,
    numbers: list[str],
    number_scores: list[float],
) -> GeocodeResult:
    """« au douze » transcribed, the audio's scores of `numbers` on Rue Paradis."""
    text = "J'habite au douze rue Paradis, 13006 Marseille."
    u = understand(text, "+33611223344", catalogue, territory)
    cands = propose(acts, text, u.address)
    street = next(i for i, c in enumerate(cands.candidates) if c.street == "Rue Paradis")
    scores = AddressScores(
        street_scores=[0.0 if i == street else -40.0 for i in range(len(cands.candidates))],
        number_street=street,
        numbers=numbers,
        number_scores=number_scores,
    )
    return acts.resolve_address(
        ResolveAddressInput(candidates=cands, scores=scores, address=u.address)
    )


@pytest.mark.parametrize("bis_score", [0.0, 1.0, 5.0])
def test_a_transcript_without_bis_does_not_outvote_the_audio(
    suffixed: GeocodeActivities, catalogue: Catalogue, territory: Territory, bis_score: float
) -> None:
    """The reading « douze » supports 12 bis as much as 12: when the audio hears the « bis »
    as well or better, 12 is never booked."""
    geo = _voted(
        suffixed, catalogue, territory, ["11", "12", "12 bis", "13"], [-20.0, 0.0, bis_score, -20]
    )
    decision = decide_address(geo)
    assert not (decision.kind == DecisionKind.BOOK and geo.match and geo.match.housenumber == "12")


def test_a_twin_the_audio_did_not_score_is_still_confirmed(
    suffixed: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    geo = _voted(suffixed, catalogue, territory, ["11", "12", "13"], [-20.0, 0.0, -20.0])
    assert geo.match is not None and geo.match.housenumber == "12"
    assert geo.doubt == EscalationReason.NUMBER_SUFFIX


def test_the_audio_vote_on_the_numbers_is_not_second_guessed(
    suffixed: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    text = "J'habite au douze rue Paradis, 13006 Marseille."
    u = understand(text, "+33611223344", catalogue, territory)
    cands = propose(suffixed, text, u.address)
    street = next(i for i, c in enumerate(cands.candidates) if c.street == "Rue Paradis")
    scores = AddressScores(
        street_scores=[0.0 if i == street else -40.0 for i in range(len(cands.candidates))],
        number_street=street,
        numbers=["12", "12 bis", "12 ter"],
        number_scores=[0.0, -12.0, -12.0],
    )
    geo = suffixed.resolve_address(
        ResolveAddressInput(candidates=cands, scores=scores, address=u.address)
    )
    assert geo.match is not None and geo.match.housenumber == "12"
    assert geo.doubt != EscalationReason.NUMBER_SUFFIX


def test_a_number_the_caller_wrote_raises_no_doubt(
    suffixed: GeocodeActivities, catalogue: Catalogue, territory: Territory
) -> None:
    """An SMS: the caller who writes « 12 » means 12 (no transcription to drop a « bis »)."""
    text = "J'habite au 12 rue Paradis, 13006 Marseille."
    u = understand(text, "+33611223344", catalogue, territory)
    cands = propose(suffixed, text, u.address)
    geo = suffixed.resolve_address(
        ResolveAddressInput(candidates=cands, address=u.address, written=True)
    )
    assert geo.match is not None and geo.match.housenumber == "12" and geo.doubt == ""
