"""LiveCallWorkflow: a call the bot answers itself.

Started by the telephony process when a call's media starts (id `live-call-{call_id}`). The
dialogue runs as one long activity (`run_live_call`) on the task queue of the process that
holds the media: it heartbeats what it has understood, and is never retried (a call cannot be
replayed). Then:

- the caller confirmed the read-back: the same `book_pickup` and `send_sms` activities as a
  voicemail (the booking takes the day that was proposed, or the next free one if it went
  meanwhile), and the booking's follow-up workflow;
- the caller only asked questions, all answered: the case ends;
- the caller hung up before anything was understood, and no number is known (AudioSocket
  carries none): status `abandoned`, no task (an agent could neither read nor call anything);
- anything else (transfer asked, two failures, hang-up mid-dialogue, the telephony process
  lost, a booking that fails): what was understood goes to the agent queue as a callback task
  (`NeedsAgent = true`, `EscalationReason = live_call_callback`), ended by the `resolve`
  Update (`close` with a comment, or `no_answer`).

A transfer is that same task, shown while the dialplan rings the agents: the agent who takes
the call claims it and reads what the bot understood. When the caller hung up during the
transfer's announcement, or no agent has claimed the case `transfer_answer_s` after it, the
caller is texted (the `callback` SMS) that a person will call back (patch
`live-call-transfer-sms`).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from workflows import calls
from workflows.agent_queue import AgentQueue, CaseHistory, ClaimableCase
from workflows.common import (
    SA_SECTOR,
    SA_SMS_PHONE_KEY,
    SA_STATUS,
    error_message,
    start_booking_follow_up,
)

with workflow.unsafe.imports_passed_through():
    from temporalio.converter import value_to_type

    from domain import names
    from domain.agent import validate_callback_task
    from domain.booking_models import FollowUpInput
    from domain.dialogue import callback_details_markdown
    from domain.disclosure import CORRECTION_REJECTED
    from domain.labels import date_label, items_label
    from domain.live_call_models import (
        CALLBACK_REASON,
        LiveCallActivityInput,
        LiveCallInput,
        LiveCallProgress,
        LiveCallResult,
        LiveCallState,
        LiveCallStatus,
        Outcome,
    )
    from domain.models import (
        BookingStatus,
        BookInput,
        BookResult,
        NotifyResult,
        ResolveInput,
        ResolveResult,
        SmsReplyInput,
    )
    from domain.phone import sms_mobile, sms_recipient


def progress_from_failure(err: ActivityError) -> LiveCallProgress | None:
    """What the dialogue had understood when it failed: the last heartbeat (process lost) or
    the error's details (the dialogue's own failure)."""
    cause = err.cause
    details: Any = ()
    if isinstance(cause, TemporalTimeoutError):
        details = cause.last_heartbeat_details
    elif isinstance(cause, ApplicationError):
        details = cause.details
    if not details:
        return None
    try:
        progress = value_to_type(LiveCallProgress, details[0])
    except Exception:  # an older or foreign payload: the transcript is lost, not the case
        return None
    return progress if isinstance(progress, LiveCallProgress) else None


# Texting a transferred caller whom no agent reached: new commands in a running workflow.
TRANSFER_SMS_PATCH = "live-call-transfer-sms"
# The caller's SMS replies a live call keeps for the agent who calls back (the rest counted).
MAX_SMS_REPLIES = 20


@workflow.defn(name=names.LIVE_CALL_WORKFLOW)
class LiveCallWorkflow(ClaimableCase):
    def __init__(self) -> None:
        self._inp: LiveCallInput | None = None
        self._status = LiveCallStatus.IN_CALL.value
        self._progress: LiveCallProgress | None = None
        self._booking: BookResult | None = None
        self._sms: NotifyResult | None = None
        self._history = CaseHistory()
        self._queue = AgentQueue(self._history)
        self._callback_pending = False
        self._closed = False
        self._closed_reason = ""
        self._why = ""
        self._replies: list[str] = []
        self._replies_dropped = 0
        self._seen_sms: set[str] = set()

    @workflow.run
    async def run(self, inp: LiveCallInput) -> LiveCallResult:
        self._inp = inp
        workflow.upsert_search_attributes([SA_STATUS.value_set(self._status)])
        outcome = await self._dialogue()
        if outcome == Outcome.CONFIRMED:
            problem = await self._book_and_notify()
            if problem is None:
                return self._result(outcome)
            await self._callback(problem)
            return self._result(outcome)
        if outcome == Outcome.ANSWERED:
            await self._set_status(LiveCallStatus.ANSWERED)
            self._history.note("questions répondues en ligne, rien d'autre à faire")
            return self._result(outcome)
        if outcome == Outcome.HANGUP and self._nothing_to_act_on():
            await self._set_status(LiveCallStatus.ABANDONED)
            self._history.note("appel abandonné: rien de compris, aucun numéro à rappeler")
            return self._result(outcome)
        await self._callback(self._callback_why(outcome), transfer=outcome == Outcome.TRANSFER)
        return self._result(outcome)

    # ------------------------------------------------------------------ steps

    async def _dialogue(self) -> str:
        assert self._inp is not None
        inp = self._inp
        try:
            self._progress = await calls.RUN_LIVE_CALL(
                LiveCallActivityInput(
                    call_id=inp.call_id, caller_number=inp.caller_number, max_call_s=inp.max_call_s
                ),
                task_queue=inp.media_task_queue,
                start_to_close=timedelta(seconds=inp.max_call_s + 60),
                heartbeat=timedelta(seconds=inp.heartbeat_timeout_s),
            )
        except ActivityError as err:
            # The telephony process died, or the dialogue failed: the call is gone with it.
            # Never pretend: keep what had been understood and let a person call back.
            self._progress = progress_from_failure(err)
            self._history.note(f"dialogue interrompu: {error_message(err)}")
            return Outcome.INTERRUPTED.value
        p = self._progress
        self._history.note(
            f"dialogue terminé: {p.outcome}"
            + (f" ({p.transfer_reason})" if p.transfer_reason else "")
            + f", {p.turns} tour(s)"
        )
        return p.outcome

    async def _book_and_notify(self) -> str | None:
        """Book what the caller confirmed and text the confirmation; the reason a person must
        take over otherwise."""
        assert self._inp is not None and self._progress is not None
        p = self._progress
        u, match = p.understanding, p.match
        if u is None or match is None or not u.items:
            return "confirmation sans adresse ou objets : incohérence du dialogue"
        workflow.upsert_search_attributes([SA_SECTOR.value_set(match.sector)])
        await self._set_status(LiveCallStatus.BOOKING)
        try:
            self._booking = await calls.BOOK(
                BookInput(
                    call_id=self._inp.call_id,
                    sector=match.sector,
                    address=match,
                    items=u.items,
                    caller_number=self._recipient(),
                    requested_on=workflow.now().isoformat(),
                    preferred_date=p.proposed_date,
                )
            )
        except ActivityError as err:
            return f"réservation refusée: {error_message(err)}"
        booking = self._booking
        if booking.status not in (BookingStatus.BOOKED, BookingStatus.ALREADY_BOOKED):
            return f"réservation impossible ({booking.status}): {booking.reason}"
        if booking.pickup_date != p.proposed_date:
            # The day went to another caller between the proposal and the booking.
            self._history.note(
                f"jour proposé {p.proposed_date} pris entre-temps: {booking.pickup_date}"
            )
        self._history.note(f"réservation {booking.status}: {booking.pickup_date}")
        await self._set_status(LiveCallStatus.NOTIFYING)
        try:
            self._sms = await self._send_sms(
                "confirmation",
                {
                    "reference": booking.reference,
                    "pickup_date_label": date_label(booking.pickup_date),
                    "address_label": match.label(),
                    "items_label": items_label(booking.items or u.items),
                    "refused_label": items_label(u.refused_items),
                    "refused_destination": (u.refusal_advice or "une déchèterie")
                    if u.refused_items
                    else "",
                    "left_out_label": items_label(booking.left_out),
                    "cancel_hint": "Pour annuler, répondez ANNULER.",
                },
            )
        except ActivityError as err:
            return f"réservé ({booking.reference}) mais SMS impossible: {error_message(err)}"
        self._history.note(f"SMS envoyé ({self._sms.segments} segment(s))")
        if booking.status == BookingStatus.BOOKED:
            await self._start_follow_up(booking, self._sms)
        await self._set_status(LiveCallStatus.BOOKED)
        return None

    async def _send_sms(self, template: str, context: dict[str, Any]) -> NotifyResult:
        result = await calls.send_sms(template, self._recipient(), template, context)
        if result.phone_key:
            workflow.upsert_search_attributes([SA_SMS_PHONE_KEY.value_set([result.phone_key])])
        return result

    async def _start_follow_up(self, booking: BookResult, sms: NotifyResult) -> None:
        assert self._inp is not None and self._progress is not None
        match = self._progress.match
        await start_booking_follow_up(
            FollowUpInput(
                call_id=self._inp.call_id,
                reference=booking.reference,
                pickup_date=booking.pickup_date,
                to=self._recipient(),
                address_label=match.label() if match else "",
                reminder_at=booking.reminder_at,
                phone_key=sms.phone_key,
                sms_message_id=sms.message_id,
                sms_backend=sms.backend,
                delivery_checks_s=list(self._inp.delivery_checks_s),
                listen_after_reminder_s=self._inp.listen_after_reminder_s,
            ),
            self._history.note,
        )

    async def _callback(self, why: str, *, transfer: bool = False) -> None:
        """A callback task in the agent queue, with what the caller had said."""
        self._callback_pending = True
        self._why = why
        self._history.note(f"rappel nécessaire: {why}")
        self._refresh_details()
        self._status = LiveCallStatus.WAITING_AGENT.value
        self._queue.enter(self._status, CALLBACK_REASON)
        unreached: asyncio.Task[None] | None = None
        if transfer and workflow.patched(TRANSFER_SMS_PATCH):
            unreached = asyncio.create_task(self._text_if_unreached())
        await workflow.wait_condition(lambda: self._closed)
        if unreached is not None and not unreached.done():
            # The case is closed: a text still waiting (or retrying) would be stale.
            unreached.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await unreached
        self._callback_pending = False
        self._status = LiveCallStatus.CLOSED.value
        self._queue.leave(self._status)
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _text_if_unreached(self) -> None:
        """After a transfer: text the caller that a person will call back, when they hung up
        during its announcement or no agent took the case in time (the agents' phones rang
        out, or the line dropped). An agent's claim or close means the call was taken."""
        assert self._inp is not None and self._progress is not None
        u = self._progress.understanding
        if not sms_mobile(u.callback_number if u else "", self._inp.caller_number):
            return  # no mobile number known: the callback task is all there is
        if not self._progress.dropped:
            try:
                await workflow.wait_condition(
                    lambda: self._closed or self._queue.claimed_ever,
                    timeout=timedelta(seconds=self._inp.transfer_answer_s),
                )
                return
            except TimeoutError:
                pass
        try:
            await self._send_sms("callback", {})
        except ActivityError as err:
            self._history.note(f"SMS de rappel impossible: {error_message(err)}")
            return
        self._history.note("transfert sans agent: SMS « un conseiller va vous rappeler » envoyé")

    # ------------------------------------------------------------------ messages

    @workflow.update(name=names.RESOLVE_UPDATE)
    def resolve(self, inp: ResolveInput) -> ResolveResult:
        if inp.action == "no_answer":
            result = self._queue.no_answer(inp.agent_id)
            self._refresh_details()
            return result
        self._closed_reason = inp.comment.strip()
        self._closed = True
        return self._queue.close(inp.agent_id, self._closed_reason)

    @workflow.signal(name=names.SMS_REPLY_SIGNAL)
    def sms_reply(self, inp: SmsReplyInput) -> None:
        """A reply to this call's SMS (the confirmation before its follow-up starts, the
        « un conseiller va vous rappeler » after a transfer): kept for the agent's details.
        No command: replays of cases begun before this handler are unchanged."""
        if inp.message_id:
            if inp.message_id in self._seen_sms:
                return  # the router re-delivered it after a crash
            if len(self._seen_sms) < 2 * MAX_SMS_REPLIES:
                self._seen_sms.add(inp.message_id)
        if len(self._replies) >= MAX_SMS_REPLIES:
            self._replies_dropped += 1
            return
        self._replies.append(inp.text.strip())
        self._history.note("réponse SMS reçue")
        if self._callback_pending and not self._closed:
            self._refresh_details()

    @resolve.validator
    def validate_resolve(self, inp: ResolveInput) -> None:
        if not self._callback_pending or self._closed:
            raise ApplicationError("Ce dossier n'attend pas d'agent.", type=CORRECTION_REJECTED)
        self._queue.refuse_if_held(inp.agent_id)
        problem = validate_callback_task(inp, "un appel non abouti")
        if problem:
            raise ApplicationError(problem, type=CORRECTION_REJECTED)

    @workflow.query(name=names.STATE_QUERY)
    def state(self) -> LiveCallState:
        booking = self._booking
        return LiveCallState(
            call_id=self._inp.call_id if self._inp else "",
            status=self._status,
            progress=self._progress,
            booking_reference=booking.reference if booking else "",
            pickup_date=booking.pickup_date if booking else "",
            callback_attempts=self._queue.attempts,
            history=list(self._history.lines),
        )

    # ------------------------------------------------------------------ helpers

    def _callback_why(self, outcome: str) -> str:
        p = self._progress
        if outcome == Outcome.TRANSFER and p is not None:
            return {
                "caller_asked": "l'appelant a demandé à parler à une personne",
                "two_failures": "deux échecs sur la même question",
                "no_slot": "aucun jour libre à proposer",
                "no_answer": "l'appelant ne répondait plus",
                "too_long": "appel trop long",
                "out_of_territory": "code postal hors du territoire du service",
            }.get(p.transfer_reason, "transfert vers un conseiller")
        if outcome == Outcome.HANGUP:
            return "l'appelant a raccroché avant la fin"
        return "appel interrompu (service téléphonique perdu ou arrêté)"

    def _nothing_to_act_on(self) -> bool:
        """No word transcribed, nothing understood, no number: a callback task would say
        "Numéro : inconnu" and nothing else."""
        if self._recipient():
            return False
        p = self._progress
        if p is None:
            return True
        if any(line.strip() for line in p.heard) or p.faq_entries or p.match is not None:
            return False
        u = p.understanding
        return u is None or (
            (u.address is None or u.address.is_empty()) and not u.items and not u.refused_items
        )

    def _recipient(self) -> str:
        assert self._inp is not None
        u = self._progress.understanding if self._progress else None
        callback = u.callback_number if u else ""
        return sms_recipient(callback, self._inp.caller_number)

    def _refresh_details(self) -> None:
        assert self._inp is not None
        self._queue.show(
            callback_details_markdown(
                self._progress,
                why=self._why,
                caller_number=self._inp.caller_number,
                attempts=self._queue.attempts,
                replies=self._replies,
            )
        )

    async def _set_status(self, status: LiveCallStatus) -> None:
        if self._status != status.value:
            self._status = status.value
            workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])

    def _result(self, outcome: str) -> LiveCallResult:
        assert self._inp is not None
        booking = self._booking
        p = self._progress
        booked = booking is not None and booking.status in (
            BookingStatus.BOOKED,
            BookingStatus.ALREADY_BOOKED,
        )
        return LiveCallResult(
            call_id=self._inp.call_id,
            status=self._status,
            outcome=outcome,
            booking_reference=booking.reference if booking and booked else "",
            pickup_date=booking.pickup_date if booking and booked else "",
            proposed_date=p.proposed_date if p else "",
            sector=p.match.sector if p and p.match else "",
            sms_text=self._sms.text if self._sms else "",
            reason=self._closed_reason or self._why,
        )
