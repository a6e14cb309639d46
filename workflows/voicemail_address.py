"""The geocoding step of a voicemail, and the address settled with the caller by SMS: offered
when uncertain ("Répondez 1 pour …"), asked when none was heard or its street came without
its number.

Asked (issue 16): a pickup request whose message named items but no address (or a street
without its house number), from a caller with a mobile, is not handed to a person who would
have to call back for it; for a street without its number, a reply giving the number alone
(« 12 », « au 12 ») completes it. The replies are understood like a written message, the
address resolved from their words (the recording does not hold them, so no audio vote) with
every trust rule, and always read back by SMS before it is booked. No usable reply in time, a
reply that cancels, or no SMS possible: a person takes the case, with the reason.

Deterministic: the SMS goes through the callable the workflow gives."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows import calls
from workflows.agent_queue import ACK_WAIT
from workflows.common import error_message
from workflows.voicemail_state import MAX_ADDRESS_REPLIES, VoicemailState

with workflow.unsafe.imports_passed_through():
    from domain.case_state import Escalation, Step
    from domain.decision import Decision, DecisionKind, ask_instead, confirm_instead
    from domain.labels import items_label
    from domain.models import (
        AddressMatch,
        EscalationReason,
        Intent,
        ItemCount,
        NotifyResult,
        Status,
        Understanding,
        UnderstandInput,
    )
    from domain.numbers import normalize_housenumber
    from domain.pipeline import PipelineSteps, decide_on_address, resolve_address

# How long the address choice may try to reach the caller by SMS. Asking the caller only
# makes sense while the SMS can go now; during an SMS outage the case goes to a person (who
# can call back) instead of waiting for the provider with the caller's question unanswered.
CHOICE_SMS_WAIT = ACK_WAIT
# workflow.patched id of that bound: cases begun before it keep their unbounded retry.
CHOICE_SMS_BOUNDED = "choice-sms-bounded"
# workflow.patched id of the address choices being open from the moment the SMS goes: the
# caller's reply can reach the case before the SMS activity's completion does (it was kept
# as a plain reply then, and the case waited for an answer already given).
CHOICE_OPEN_DURING_SEND = "choice-open-during-send"
# workflow.patched id: an address not heard is asked by SMS; cases begun before it went to
# the agent queue at once (no_address).
ADDRESS_BY_SMS = "address-by-sms"

SendSms = Callable[..., Awaitable[NotifyResult]]
# The case history's note: a line for the log and the agent, and words for the agent only.
Note = Callable[..., None]


async def confirm_by_sms(
    s: VoicemailState,
    candidates: list[AddressMatch],
    *,
    send: SendSms,
    set_status: Callable[[Status], None],
    note: Note,
) -> AddressMatch | None:
    """Ask the caller to pick the address by SMS reply ("1", "2"…); None when the SMS
    cannot be sent or no usable reply comes in time."""
    assert s.inp is not None
    choices = [{"number": n, "label": c.label()} for n, c in enumerate(candidates, 1)]
    bound = CHOICE_SMS_WAIT if workflow.patched(CHOICE_SMS_BOUNDED) else None
    if workflow.patched(CHOICE_OPEN_DURING_SEND):
        s.pending_choices = candidates
    try:
        await send("address_choice", "address_choice", {"choices": choices}, within=bound)
    except ActivityError as err:
        s.sms_choice, s.pending_choices = None, []
        note(f"SMS de choix d'adresse impossible: {error_message(err)}")
        return None
    s.pending_choices = candidates
    note(f"choix d'adresse demandé par SMS ({len(candidates)} propositions)")
    set_status(Status.WAITING_CALLER)
    try:
        await workflow.wait_condition(
            lambda: s.sms_choice is not None,
            timeout=timedelta(seconds=s.inp.confirm_timeout_s),
        )
    except TimeoutError:
        note("pas de réponse au SMS de choix d'adresse")
    chosen, s.sms_choice, s.pending_choices = s.sms_choice, None, []
    set_status(Status.GEOCODING)
    return chosen


def _no_address(why: str) -> Escalation:
    return Escalation(EscalationReason.NO_ADDRESS, Step.GEOCODE, f"aucune adresse entendue ; {why}")


def _quoted(replies: list[str]) -> str:
    return " / ".join(f"« {r} »" for r in replies)


# A reply that only says stop: never booked, never asked again.
_STOP_WORDS = frozenset({"stop", "annuler", "annulez", "annulation"})


async def ask_address_by_sms(
    s: VoicemailState,
    *,
    send: SendSms,
    set_status: Callable[[Status], None],
    note: Note,
) -> Escalation | None:
    """Ask once; None when the caller's replies gave an address (in `s.understanding`, their
    text in `s.address_text`): the geocoding step goes on from it. Otherwise the escalation,
    the replies quoted for the agent."""
    assert s.inp is not None and s.understanding is not None
    s.address_asked = True
    if not s.can_text():
        return _no_address("pas de numéro mobile pour la demander par SMS")
    # Open before the send: the reply can reach the case before the send's completion does.
    s.awaiting_address, s.address_replies = True, []
    context: dict[str, Any] = {"items_label": items_label(s.understanding.items)}
    try:
        await send("address_request", "address_request", context, within=CHOICE_SMS_WAIT)
    except ActivityError as err:
        note(f"SMS de demande d'adresse impossible: {error_message(err)}")
        if not s.address_replies:  # else the SMS went after all: the caller answered it
            s.awaiting_address = False
            return _no_address("le SMS qui la demandait n'a pas pu partir")
    else:
        note("adresse demandée par SMS")
    set_status(Status.WAITING_CALLER)
    try:
        return await _read_replies(s, note)
    finally:
        s.awaiting_address = False
        set_status(Status.GEOCODING)


# What may introduce a number given alone: « au 12 », « c'est le 12 », « numéro 12 ».
_NUMBER_LEAD = re.compile(r"^(?:c'est |c’est )?(?:au |le |num[ée]ro |n° ?|no )", re.IGNORECASE)


def _number_alone(replies: list[str]) -> str:
    """The house number a reply gives on its own (the last such reply), or ""."""
    for reply in reversed(replies):
        number = normalize_housenumber(_NUMBER_LEAD.sub("", reply.strip(" .!").strip()))
        if number:
            return number
    return ""


def _more_than(s: VoicemailState, n: int) -> Callable[[], bool]:
    return lambda: len(s.address_replies) > n


async def _read_replies(s: VoicemailState, note: Note) -> Escalation | None:
    """Each new reply, with the ones before it, until they give a street and its number,
    cancel, or the time (confirm_timeout_s from the request) or the replies run out."""
    assert s.inp is not None and s.understanding is not None
    deadline = workflow.now() + timedelta(seconds=s.inp.confirm_timeout_s)
    read = 0
    while True:
        left = (deadline - workflow.now()).total_seconds()
        try:
            if left <= 0:
                raise TimeoutError
            await workflow.wait_condition(_more_than(s, read), timeout=timedelta(seconds=left))
        except TimeoutError:
            note("pas d'adresse en réponse au SMS qui la demandait")
            if not s.address_replies:
                return _no_address("pas de réponse au SMS qui la demandait")
            return _no_address(
                f"les réponses SMS n'en contiennent pas : {_quoted(s.address_replies)}"
            )
        read = len(s.address_replies)
        replies = s.address_replies[:read]
        # Commas, not full stops: an address split over two texts (« au 12 » / « rue
        # Paradis ») is read as one.
        text = ", ".join(r.strip(" .,") for r in replies)
        if any(r.strip(" .!").lower() in _STOP_WORDS for r in replies):
            return Escalation(
                EscalationReason.CANCEL_REQUEST,
                Step.GEOCODE,
                f"l'appelant a répondu par SMS qu'il annule : {_quoted(replies)}",
            )
        try:
            written = await calls.UNDERSTAND(
                UnderstandInput(text=text, caller_number=s.inp.caller_number)
            )
        except ActivityError as err:
            note(f"réponse SMS non analysée: {error_message(err)}")
            return _no_address(f"réponse SMS non analysée : {_quoted(replies)}")
        if written.intent == Intent.CANCEL:
            # Never booked on a reply that cancels, whatever address it also gives.
            return Escalation(
                EscalationReason.CANCEL_REQUEST,
                Step.GEOCODE,
                f"l'appelant a répondu par SMS qu'il annule : {_quoted(replies)}",
            )
        if len(s.address_replies) > read:
            continue  # more came while this was read: read them all (a « non, annulez » too)
        heard = written.address
        known = s.understanding.address
        if (heard is None or not heard.street) and known is not None and known.street:
            # Asked for a street heard without its number: « 12 » is enough.
            number = _number_alone(replies)
            if number:
                heard = replace(known, housenumber=number, corrected=False)
                text = " ".join(x for x in (number, known.street, known.postcode, known.city) if x)
        if heard is not None and heard.street and heard.housenumber:
            note("adresse reçue par SMS")
            s.understanding.address = heard
            added, refused = add_written_items(s.understanding, written)
            # The items stay in the case (encrypted), out of the log line.
            if added:
                note("objets ajoutés par SMS", items_label(added))
            if refused:
                note("objets non collectés écrits par SMS", items_label(refused))
            if written.intent == Intent.QUESTION and not s.understanding.question:
                # « c'est au 12 bd Chave, vous passez quand ? »: answered after the booking.
                s.understanding.question = written.question or text
            s.address_text = text
            return None
        if read >= MAX_ADDRESS_REPLIES:
            return _no_address(f"les réponses SMS n'en contiennent pas : {_quoted(replies)}")


def add_written_items(
    u: Understanding, written: Understanding
) -> tuple[list[ItemCount], list[ItemCount]]:
    """Items the caller wrote beside the address (« 12 bd Chave, et aussi un frigo ») that the
    message did not name join it: the confirmation lists them and the crew plans for them. An
    item the message named keeps the message's count (« c'est pour les canapés » counts 2,
    whatever the message said). Refused items written join only a message that named none:
    the advice on where to take them is the reply's, for exactly those (the catalogue joins
    several places into one phrase, which two phrases cannot be merged into). Not a command of
    its own: the same activities run, the booking carries more items. (items added, refused
    items added)"""
    named = {i.item for i in u.items} | {i.item for i in u.refused_items}
    added = [i for i in written.items if i.item not in named]
    u.items = [*u.items, *added]
    refused: list[ItemCount] = []
    if not u.refused_items and written.refused_items:
        refused = [i for i in written.refused_items if i.item not in named]
        if len(refused) == len(written.refused_items):
            u.refused_items, u.refusal_advice = refused, written.refusal_advice
        else:
            refused = []
    return added, refused


def _may_ask(s: VoicemailState) -> bool:
    """Whether the address may be asked by SMS: once, never once an agent has acted."""
    return not s.address_asked and not s.agent_actor and workflow.patched(ADDRESS_BY_SMS)


async def _decide(s: VoicemailState, steps: PipelineSteps, note: Note) -> tuple[Decision, Decision]:
    """(the decision without asking the caller, the one to act on)."""
    assert s.understanding is not None
    result = await resolve_address(steps, s.address_message(), s.understanding, note=note)
    decision = decide_on_address(result)
    if s.address_text:
        # The thresholds are calibrated on transcripts, not on what callers write: an
        # address written by SMS is read back to them before it is booked.
        return decision, confirm_instead(decision, "adresse écrite par l'appelant, à confirmer")
    return decision, ask_instead(decision, result, can_text=s.can_text())


async def settle_address(
    s: VoicemailState,
    steps: PipelineSteps,
    *,
    send: SendSms,
    set_status: Callable[[Status], None],
    note: Note,
) -> tuple[AddressMatch, str] | Escalation:
    """The geocoding step: (the address to book, why), or the escalation. The address is
    asked by SMS when none was heard or its street came without its number; offered by SMS
    when uncertain."""
    u = s.understanding
    assert u is not None
    if u.address is None or u.address.is_empty():
        if not _may_ask(s):
            return Escalation(EscalationReason.NO_ADDRESS, Step.GEOCODE, "aucune adresse entendue")
        asked = await ask_address_by_sms(s, send=send, set_status=set_status, note=note)
        if asked is not None:
            return asked
    escalate, decision = await _decide(s, steps, note)
    if decision.kind == DecisionKind.ASK_ADDRESS:
        # The street without its number: the whole address is asked, once.
        if not _may_ask(s):
            decision = escalate
        else:
            asked = await ask_address_by_sms(s, send=send, set_status=set_status, note=note)
            if asked is not None:
                if asked.reason == EscalationReason.CANCEL_REQUEST:
                    return asked
                why = asked.detail.removeprefix("aucune adresse entendue ; ")
                detail = f"{escalate.detail} ; adresse demandée par SMS : {why}"
                return Escalation(escalate.reason, Step.GEOCODE, detail, escalate.candidates)
            _, decision = await _decide(s, steps, note)
    if decision.kind == DecisionKind.BOOK and decision.match is not None:
        return decision.match, "adresse trouvée"
    if decision.kind == DecisionKind.CONFIRM_BY_SMS:
        chosen = await confirm_by_sms(
            s, decision.candidates, send=send, set_status=set_status, note=note
        )
        if chosen is not None:
            return chosen, "adresse confirmée par l'appelant"
        return Escalation(
            EscalationReason.LOW_CONFIDENCE,
            Step.GEOCODE,
            "adresse incertaine, pas de choix de l'appelant par SMS" + s.written(),
            decision.candidates,
        )
    return Escalation(
        decision.reason, Step.GEOCODE, decision.detail + s.written(), decision.candidates
    )
