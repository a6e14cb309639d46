"""PurgeWorkflow: the daily retention run (started by the `encombot-purge` Temporal Schedule).

Deletes stored voicemail audio and anonymises bookings past the retention period. The cut-offs
are computed here, from the workflow clock (or the `now` override of the input), and passed to
the activities as plain values, so a retried activity applies the same cut-off.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows import calls

with workflow.unsafe.imports_passed_through():
    from domain.retention import (
        CLOSE_STALE_PATCH,
        PURGE_SMS_PATCH,
        PURGE_WORKFLOW,
        AnonymiseInput,
        CloseStaleInput,
        PurgeAudioInput,
        PurgeInput,
        PurgeResult,
        PurgeSmsInput,
    )


@workflow.defn(name=PURGE_WORKFLOW)
class PurgeWorkflow:
    @workflow.run
    async def run(self, inp: PurgeInput) -> PurgeResult:
        if inp.booking_days < 1 or inp.audio_days < 1:
            raise ApplicationError("retention periods must be at least one day", non_retryable=True)
        now = datetime.fromisoformat(inp.now) if inp.now else workflow.now()
        if now.tzinfo is None:
            raise ApplicationError("`now` needs a UTC offset", non_retryable=True)
        audio_older_than = now - timedelta(days=inp.audio_days)
        pickup_before = (now - timedelta(days=inp.booking_days)).date()
        result = PurgeResult(
            now=now.isoformat(),
            audio_older_than=audio_older_than.isoformat(),
            pickup_before=pickup_before.isoformat(),
        )
        workflow.set_current_details(
            f"Purge : audio antérieur au {audio_older_than:%d/%m/%Y %H:%M}, réservations dont "
            f"l'enlèvement est antérieur au {pickup_before:%d/%m/%Y}."
        )
        audio = await calls.PURGE_AUDIO(PurgeAudioInput(older_than=audio_older_than.isoformat()))
        result.audio_deleted = audio.deleted
        result.errors.extend(audio.errors)
        bookings = await calls.ANONYMISE_BOOKINGS(
            AnonymiseInput(pickup_before=pickup_before.isoformat())
        )
        result.bookings_anonymised = bookings.anonymised
        if inp.sms_days >= 1 and workflow.patched(PURGE_SMS_PATCH):
            sms_older_than = now - timedelta(days=inp.sms_days)
            sms = await calls.PURGE_SMS_RECORDS(PurgeSmsInput(sms_older_than.isoformat()))
            result.sms_ledger_deleted = sms.ledger_deleted
            result.sms_routes_deleted = sms.routes_deleted
            result.sms_lines_deleted = sms.lines_deleted
            result.errors.extend(sms.errors)
        if inp.case_days >= 1 and workflow.patched(CLOSE_STALE_PATCH):
            stale_before = now - timedelta(days=inp.case_days)
            stale = await calls.CLOSE_STALE_CASES(
                CloseStaleInput(stale_before.isoformat(), task_queue=inp.case_task_queue)
            )
            result.stale_cases_closed = stale.closed
        workflow.logger.info(
            "purge: %d audio file(s) deleted, %d booking(s) anonymised",
            result.audio_deleted,
            result.bookings_anonymised,
        )
        if result.errors:
            # Something personal could not be deleted: fail visibly (ops see a failed run in
            # the Schedule's recent actions) rather than report success.
            raise ApplicationError(
                f"purge incomplete: {len(result.errors)} file(s) not deleted",
                result,
                type="PurgeIncomplete",
                non_retryable=True,
            )
        return result
