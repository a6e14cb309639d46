"""Claims of queued cases (domain/claims.py): a claim is refused to a second agent while it
holds, renewed by its holder, lapses after its minutes, and only its holder (or a forced
release) gives it back; the messages name agent ids only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.claims import (
    DEFAULT_CLAIM_MINUTES,
    ClaimInput,
    claim_banner,
    claim_problem,
    held_by_other,
    new_claim,
    release_problem,
)

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # 14:00 in Paris


def test_a_held_case_is_refused_to_another_agent_until_it_lapses() -> None:
    first = new_claim(ClaimInput("agent-1"), None, T0)
    assert first.until == T0 + timedelta(minutes=DEFAULT_CLAIM_MINUTES)
    refused = claim_problem(
        ClaimInput("agent-2"), first, queued=True, now=T0 + timedelta(minutes=5)
    )
    assert refused == (
        "Dossier pris par agent-1 depuis 14:00 (jusqu'à 14:30) : choisissez un autre dossier."
    )
    assert held_by_other("agent-2", first, T0) == refused
    assert held_by_other("agent-1", first, T0) is None  # the holder may resolve
    # Lapsed: anyone may take it.
    later = first.until
    assert claim_problem(ClaimInput("agent-2"), first, queued=True, now=later) is None
    assert held_by_other("agent-2", first, later) is None


def test_the_holder_renews_and_keeps_the_start() -> None:
    first = new_claim(ClaimInput("agent-1", minutes=10), None, T0)
    renewed = new_claim(ClaimInput("agent-1", minutes=45), first, T0 + timedelta(minutes=8))
    assert renewed.since == T0 and renewed.until == T0 + timedelta(minutes=53)
    taken_over = new_claim(ClaimInput("agent-2"), first, T0 + timedelta(minutes=11))
    assert taken_over.since == T0 + timedelta(minutes=11)


def test_claim_input_is_checked() -> None:
    assert "identifiant" in (claim_problem(ClaimInput(""), None, queued=True, now=T0) or "")
    assert "invalide" in (claim_problem(ClaimInput("a b"), None, queued=True, now=T0) or "")
    assert "n'attend pas" in (claim_problem(ClaimInput("a"), None, queued=False, now=T0) or "")
    assert "Durée" in (claim_problem(ClaimInput("a", minutes=600), None, queued=True, now=T0) or "")


def test_release_by_the_holder_or_forced() -> None:
    claim = new_claim(ClaimInput("agent-1"), None, T0)
    assert release_problem(ClaimInput("agent-1"), claim, now=T0) is None
    assert "seul cet agent" in (release_problem(ClaimInput("agent-2"), claim, now=T0) or "")
    assert release_problem(ClaimInput("agent-2", force=True), claim, now=T0) is None
    assert "personne" in (release_problem(ClaimInput("agent-1"), None, now=T0) or "")


def test_banner_says_who_holds_it_since_when() -> None:
    claim = new_claim(ClaimInput("agent-1"), None, T0)
    assert "Pris par agent-1** depuis 14:00 (jusqu'à 14:30)" in claim_banner(claim, T0)
    assert "Libre" in claim_banner(claim, claim.until)
    assert "Libre" in claim_banner(None, T0)
