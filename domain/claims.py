"""Who works a queued case: an agent *claims* it (Update `claim`), so that two agents sharing
the queue never call the same person back, and *releases* it (Update `release`) when they
leave it to others.

A claim is a lease: it lapses `minutes` after it was taken (or renewed: the holder claims
again), so a case an agent forgot never stays locked. While it holds, the case is refused to
any other agent: their claim and their `resolve` are rejected with the holder's id (an agent
id, never personal data: the refusal is shown in clear by the Web UI, domain/disclosure.py).

Pure and deterministic: the workflow passes its clock (`workflow.now()`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# How long a claim holds when the agent does not say (`encombot agent claim` sends
# `agents.claim_minutes` of the settings); a longer one is refused so that nobody locks a case
# for a whole day.
DEFAULT_CLAIM_MINUTES = 30
MAX_CLAIM_MINUTES = 8 * 60
# What an agent id may be: it is written in clear (search attribute, audit trail "agent:<id>").
AGENT_ID = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
# Where the call centre works: the times agents read.
AGENT_TZ = ZoneInfo("Europe/Paris")


@dataclass
class ClaimInput:
    """The `claim` and `release` Updates: the agent, and for a claim how long it holds (0: the
    default); `force` releases a case held by another agent (a supervisor, or the holder gone
    home: the history records who forced it)."""

    agent_id: str = ""
    minutes: int = 0
    force: bool = False


@dataclass
class ClaimResult:
    accepted: bool
    message: str
    assigned_to: str = ""  # the holder after the Update; "" when released
    since: str = ""  # ISO 8601, when the holder took it
    until: str = ""  # ISO 8601, when the claim lapses


@dataclass
class Claim:
    agent_id: str
    since: datetime
    until: datetime

    def holds(self, now: datetime) -> bool:
        return now < self.until


def agent_id_problem(agent_id: str) -> str | None:
    if not agent_id.strip():
        return "Indiquez votre identifiant d'agent (agent_id)."
    if not AGENT_ID.match(agent_id.strip()):
        return "Identifiant d'agent invalide (lettres, chiffres, . _ @ -, 64 au plus)."
    return None


def claim_problem(
    inp: ClaimInput, claim: Claim | None, *, queued: bool, now: datetime
) -> str | None:
    """A French reason to refuse the claim, or None."""
    problem = agent_id_problem(inp.agent_id)
    if problem:
        return problem
    if not queued:
        return "Ce dossier n'attend pas d'agent : rien à prendre."
    if inp.minutes < 0 or inp.minutes > MAX_CLAIM_MINUTES:
        return f"Durée invalide : de 1 à {MAX_CLAIM_MINUTES} minutes (0 : {DEFAULT_CLAIM_MINUTES})."
    return held_by_other(inp.agent_id, claim, now)


def release_problem(inp: ClaimInput, claim: Claim | None, *, now: datetime) -> str | None:
    problem = agent_id_problem(inp.agent_id)
    if problem:
        return problem
    if claim is None or not claim.holds(now):
        return "Ce dossier n'est pris par personne."
    if claim.agent_id != inp.agent_id.strip() and not inp.force:
        return (
            f"Dossier pris par {claim.agent_id} : seul cet agent peut le rendre "
            '(ou "force": true pour le reprendre à sa place).'
        )
    return None


def held_by_other(agent_id: str, claim: Claim | None, now: datetime) -> str | None:
    """The refusal an agent gets for a case another agent holds; None when it is free, lapsed
    or theirs."""
    if claim is None or not claim.holds(now) or claim.agent_id == agent_id.strip():
        return None
    return (
        f"Dossier pris par {claim.agent_id} depuis {hhmm(claim.since)} "
        f"(jusqu'à {hhmm(claim.until)}) : choisissez un autre dossier."
    )


def new_claim(inp: ClaimInput, claim: Claim | None, now: datetime) -> Claim:
    """The claim after `inp` was accepted: the holder's renewal keeps its start."""
    minutes = inp.minutes or DEFAULT_CLAIM_MINUTES
    agent = inp.agent_id.strip()
    since = (
        claim.since if claim is not None and claim.holds(now) and claim.agent_id == agent else now
    )
    return Claim(agent_id=agent, since=since, until=now + timedelta(minutes=minutes))


def hhmm(at: datetime) -> str:
    """The time of `at` as agents read it."""
    return at.astimezone(AGENT_TZ).strftime("%H:%M")


def claim_banner(claim: Claim | None, now: datetime) -> str:
    """The line on top of the case's current details: who holds it since when."""
    if claim is None or not claim.holds(now):
        return (
            "> **Libre** : prenez le dossier avant d'appeler (More Actions → Send an Update → "
            '`claim`, `{"agent_id": "agent-42"}`).'
        )
    return (
        f"> **Pris par {claim.agent_id}** depuis {hhmm(claim.since)} "
        f"(jusqu'à {hhmm(claim.until)}) — Update `release` pour le rendre."
    )
