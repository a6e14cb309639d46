"""What an agent can do with a booking from its follow-up workflow (`booking-{call_id}`): the
`change_booking` Update (move to another day, cancel, change the items), its validator, the
SMS the caller gets for each change, the `BookingKeys` search attribute by which an agent finds
the booking, and the current details that show the booking as it stands.

One object, `BookingDesk`, holds all of it, so that the follow-up keeps its own state apart
(it only asks the desk whether the day moved or the booking was cancelled). Deterministic, no
I/O: the store's work is done by activities (workflows/calls.py)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

from workflows import calls
from workflows.agent_queue import CaseHistory
from workflows.common import SHORT_RETRY, error_message

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.booking_changes import (
        BookingChangeInput,
        BookingChangeOutcome,
        BookingChangeResult,
        BookingView,
        ChangeAction,
        ChangeItemsInput,
        ChangeStatus,
        DescribeBookingInput,
        MoveBookingInput,
        booking_details_markdown,
        validate_change,
    )
    from domain.booking_models import CancelBookingInput, CancelStatus, FollowUpInput
    from domain.case_carry import DeskState
    from domain.disclosure import CORRECTION_REJECTED
    from domain.labels import date_label, items_label

SA_BOOKING_KEYS = SearchAttributeKey.for_keyword_list(names.SA_BOOKING_KEYS)
# workflow.patched id: follow-ups begun before agents could change bookings do not read the
# booking at start (they do it at the first change).
AGENT_CHANGES = "agent-booking-changes"
# The SMS of a change: the agent is waiting on the Update; after this it is accepted anyway and
# says that the caller must be told by phone.
CHANGE_SMS_WAIT = timedelta(seconds=60)
SMS_TEMPLATES = {
    ChangeAction.MOVE: "booking_moved",
    ChangeAction.ITEMS: "booking_items_changed",
    ChangeAction.CANCEL: "booking_cancelled_by_agent",
}


class BookingDesk:
    def __init__(self, history: CaseHistory, state: DeskState) -> None:
        # The follow-up's carried state holds it: it survives continue-as-new.
        self.s = state
        self._history = history
        # One change at a time: two agents' Updates never interleave their activities.
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ start

    async def publish(self, inp: FollowUpInput) -> None:
        """Read the booking, publish its lookup keys and show it (at the follow-up's start)."""
        if not workflow.patched(AGENT_CHANGES):
            return
        try:
            await self._describe(inp)
        except ActivityError as err:
            # The booking is still followed; the first change reads it again.
            self._history.note(f"réservation illisible pour les agents : {error_message(err)}")

    async def _describe(self, inp: FollowUpInput) -> BookingView:
        view = await calls.DESCRIBE_BOOKING(
            DescribeBookingInput(reference=inp.reference, numbers=[inp.to]), retry=SHORT_RETRY
        )
        self.s.view = view
        new_keys = sorted(set(self.s.keys) | set(view.lookup_keys))
        if new_keys != self.s.keys:
            self.s.keys = new_keys
            workflow.upsert_search_attributes([SA_BOOKING_KEYS.value_set(new_keys)])
        self.show()
        return view

    def show(self, note: str = "") -> None:
        if self.s.view is not None:
            workflow.set_current_details(booking_details_markdown(self.s.view, note=note))

    # ------------------------------------------------------------------ the Update

    def check(self, inp: BookingChangeInput, status: str) -> None:
        """The validator: refuses (readable in the Web UI) what can be refused without the
        database."""
        view = self.s.view
        problem = validate_change(inp, status=status, max_items=view.max_items if view else 0)
        if problem:
            raise ApplicationError(problem, type=CORRECTION_REJECTED)

    async def apply(self, follow: FollowUpInput, inp: BookingChangeInput) -> BookingChangeResult:
        async with self._lock:
            if self.s.cancelled:
                raise ApplicationError(
                    "Réservation annulée : plus rien à modifier.", type=CORRECTION_REJECTED
                )
            outcome = await self._change(follow, inp)
            if outcome.status == ChangeStatus.UNCHANGED:
                return BookingChangeResult(
                    True,
                    f"Rien à changer : {outcome.message}",
                    reference=follow.reference,
                    status="booked",
                    pickup_date=outcome.pickup_date,
                    items=outcome.items,
                )
            if outcome.status != ChangeStatus.DONE:
                # Names the rule only ("complet", "pas un jour de collecte"): shown in clear.
                raise ApplicationError(outcome.message, type=CORRECTION_REJECTED)
            self.s.changes += 1
            agent = inp.agent_id.strip()
            if inp.action == ChangeAction.MOVE:
                self.s.pickup_date, self.s.reminder_at = outcome.pickup_date, outcome.reminder_at
                self.s.moves += 1
                what = f"réservation déplacée au {outcome.pickup_date}"
            elif inp.action == ChangeAction.ITEMS:
                what = "objets de la réservation modifiés"
            else:
                self.s.cancelled = True
                what = "réservation annulée"
            self._history.note(f"agent {agent}: {what}", private=inp.comment or None)
            sent = await self._tell_caller(follow, inp.action, outcome)
            # The change is done; if this read fails the details catch up at the next one.
            with contextlib.suppress(ActivityError):
                await self._describe(follow)
            told = "SMS envoyé à l'appelant." if sent else "SMS non envoyé : prévenez l'appelant."
            self.show(note=f"{what[0].upper()}{what[1:]} par {agent}. {told}")
            return BookingChangeResult(
                True,
                f"{what[0].upper()}{what[1:]}. {told}",
                reference=follow.reference,
                status="cancelled" if self.s.cancelled else "booked",
                pickup_date=outcome.pickup_date,
                items=outcome.items,
                sms_sent=sent,
            )

    async def _change(self, follow: FollowUpInput, inp: BookingChangeInput) -> BookingChangeOutcome:
        if self.s.view is None:
            await self._describe(follow)  # a follow-up begun before agents could change it
        actor = f"agent:{inp.agent_id.strip()}"
        update = workflow.current_update_info()
        request_id = f"{workflow.info().workflow_id}:{update.id if update else self.s.changes}"
        if inp.action == ChangeAction.MOVE:
            return await calls.MOVE_BOOKING(
                MoveBookingInput(
                    follow.reference, inp.pickup_date.strip(), actor, inp.comment, request_id
                )
            )
        if inp.action == ChangeAction.ITEMS:
            return await calls.CHANGE_BOOKING_ITEMS(
                ChangeItemsInput(follow.reference, list(inp.items), actor, inp.comment, request_id)
            )
        result = await calls.CANCEL_BOOKING(
            CancelBookingInput(
                reference=follow.reference, actor=actor, reason=inp.comment, request_id=request_id
            )
        )
        status = {
            CancelStatus.CANCELLED: ChangeStatus.DONE,
            CancelStatus.NOT_FOUND: ChangeStatus.NOT_FOUND,
        }.get(CancelStatus(result.status), ChangeStatus.NOT_BOOKED)
        view = self.s.view
        return BookingChangeOutcome(
            status.value,
            "Réservation déjà annulée ou collectée." if status != ChangeStatus.DONE else "",
            reference=follow.reference,
            pickup_date=result.pickup_date,
            items=list(view.items) if view else [],
        )

    async def _tell_caller(
        self, follow: FollowUpInput, action: str, outcome: BookingChangeOutcome
    ) -> bool:
        context = {
            "reference": follow.reference,
            "pickup_date_label": date_label(outcome.pickup_date or follow.pickup_date),
            "address_label": follow.address_label,
            "items_label": items_label(outcome.items),
        }
        try:
            await calls.send_sms(
                f"change-{self.s.changes}",
                follow.to,
                SMS_TEMPLATES[ChangeAction(action)],
                context,
                within=CHANGE_SMS_WAIT,
            )
        except ActivityError as err:
            self._history.note(f"SMS du changement impossible : {error_message(err)}")
            return False
        return True

    # ------------------------------------------------------------------ for the follow-up

    def reminder_after_move(self) -> datetime | None:
        return datetime.fromisoformat(self.s.reminder_at) if self.s.reminder_at else None
