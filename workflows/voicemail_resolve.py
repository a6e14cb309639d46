"""An agent's resolution of a voicemail case waiting in the agent queue (the `resolve` Update):
the validator, and the `retry`, `choose` and `correct` actions (the callback-task actions
`no_answer` and `close` are the agent queue's, workflows/agent_queue.py). A correction of the
address is looked up at once, so that the agent sees whether it exists; a failure rejects
the Update and the case keeps waiting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import calls
from workflows.common import SA_SECTOR
from workflows.voicemail_state import VoicemailState

with workflow.unsafe.imports_passed_through():
    from domain.agent import canonical_item, validate_resolution
    from domain.case_state import Escalation, Step
    from domain.disclosure import CORRECTION_REJECTED
    from domain.models import (
        AddressMatch,
        GeocodeInput,
        GeocodeStatus,
        Intent,
        ItemCount,
        ResolveInput,
        ResolveResult,
        SpokenAddress,
        Understanding,
    )
    from domain.phone import to_e164


def validate(s: VoicemailState, inp: ResolveInput) -> None:
    """Refuse (ApplicationError) an Update the case cannot take."""
    if s.escalation is None:
        raise ApplicationError("Ce dossier n'attend pas d'agent.", type=CORRECTION_REJECTED)
    problem = validate_resolution(
        inp,
        reason=s.escalation.reason,
        candidates=s.escalation.candidates,
        has_items=bool(s.understanding and s.understanding.items),
        has_match=s.match is not None,
        reference=s.reference,
    )
    if problem:
        # Readable in the Web UI although failures are encrypted (domain/disclosure.py):
        # the message names the rule, never the caller's data.
        raise ApplicationError(problem, type=CORRECTION_REJECTED)


async def resolve_case(
    s: VoicemailState, inp: ResolveInput, note: Callable[[str], None]
) -> ResolveResult:
    """`retry` the step that failed, `choose` a candidate address, or `correct` the request;
    the workflow then resumes at the step that the case now needs."""
    assert s.escalation is not None
    escalation = s.escalation
    s.agent_actor = f"agent:{inp.agent_id.strip()}"
    if inp.action == "retry":
        note(f"agent {inp.agent_id}: nouvel essai de l'étape {escalation.step}")
        s.step = escalation.step
        s.resolved = True
        return ResolveResult(True, f"Nouvel essai de l'étape « {escalation.step} ».")
    if inp.action == "choose":
        return await _choose(s, inp, escalation, note)
    # action == "correct"
    apply_corrections(s, inp)
    u = s.understanding
    assert u is not None
    message = "Corrections enregistrées."
    if inp.street:
        # Resolve the address now so the agent sees at once whether it exists; a failure
        # rejects this Update and the workflow keeps waiting.
        address = SpokenAddress(
            housenumber=inp.housenumber,
            street=inp.street,
            postcode=inp.postcode,
            city=inp.city,
        )
        s.match = await geocode_for_agent(address)
        u.address = address
        workflow.upsert_search_attributes([SA_SECTOR.value_set(s.match.sector)])
        message = f"Adresse retenue : {s.match.label()} (secteur {s.match.sector})."
    note(f"agent {inp.agent_id}: corrections ({escalation.reason})")
    s.step = resume_step_after_correction(s, escalation)
    s.resolved = True
    return ResolveResult(True, message)


async def _choose(
    s: VoicemailState, inp: ResolveInput, escalation: Escalation, note: Callable[[str], None]
) -> ResolveResult:
    chosen = escalation.candidates[inp.candidate - 1]
    apply_corrections(s, inp)
    if inp.housenumber.strip() and inp.housenumber.strip() != chosen.housenumber:
        # The agent heard the number the bot missed: that number must exist.
        chosen = await geocode_for_agent(
            SpokenAddress(
                housenumber=inp.housenumber.strip(),
                street=chosen.street,
                postcode=chosen.postcode,
                citycode=chosen.citycode,
                city=chosen.city,
            )
        )
    s.match = chosen
    workflow.upsert_search_attributes([SA_SECTOR.value_set(chosen.sector)])
    note(f"agent {inp.agent_id}: candidat {inp.candidate} retenu")
    s.step = Step.BOOK
    s.resolved = True
    return ResolveResult(True, f"Adresse retenue : {chosen.label()}.")


async def geocode_for_agent(address: SpokenAddress) -> AddressMatch:
    """Look up an agent's address; rejects the Update (the workflow keeps waiting) unless
    it is a single existing address inside a collection sector."""
    result = await calls.GEOCODE(GeocodeInput(address=address))
    match = result.match
    if result.status != GeocodeStatus.MATCHED or match is None or not match.sector:
        # The message is shown in clear by the Web UI: no address in it. What the
        # gazetteer said and the addresses close to it go into the (encrypted) details,
        # which `encombot agent resolve` prints.
        why = {
            GeocodeStatus.NOT_FOUND: "rue introuvable dans le référentiel",
            GeocodeStatus.NUMBER_NOT_FOUND: "ce numéro n'existe pas dans cette rue",
            GeocodeStatus.AMBIGUOUS: "plusieurs rues correspondent : précisez",
            GeocodeStatus.OUT_OF_TERRITORY: "adresse hors du territoire",
        }.get(GeocodeStatus(result.status), "adresse hors de toute zone de collecte")
        raise ApplicationError(
            f"Adresse refusée : {why}.",
            {
                "status": result.status,
                "reason": result.reason,
                "candidates": [c.label() for c in result.candidates[:3]],
            },
            type=CORRECTION_REJECTED,
        )
    # An agent-confirmed address is certain by definition.
    return replace(match, score=1.0)


def resume_step_after_correction(s: VoicemailState, escalation: Escalation) -> str:
    u = s.understanding
    assert u is not None
    if not u.items and u.refused_items:
        return Step.NOTIFY
    if escalation.step in (Step.NOTIFY, Step.ANSWER):
        # The booking's SMS has gone when the side question waits: only the answer is left.
        return escalation.step
    if s.match is None:
        return Step.GEOCODE
    if s.booked():
        return Step.NOTIFY
    return Step.BOOK


def apply_corrections(s: VoicemailState, inp: ResolveInput) -> None:
    assert s.inp is not None
    if s.understanding is None:
        # Unusable audio: the agent listened to the message and supplies the request.
        s.understanding = Understanding(intent=Intent.BOOKING.value)
    u = s.understanding
    if u.intent != Intent.BOOKING and (inp.street or inp.items):
        u.intent = Intent.BOOKING.value
    if inp.items:
        ref = s.reference
        u.items = [
            ItemCount(item=(canonical_item(i.item, ref) if ref else None) or i.item, count=i.count)
            for i in inp.items
        ]
    if inp.callback_number:
        u.callback_number = to_e164(inp.callback_number) or u.callback_number
