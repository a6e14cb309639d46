"""SmsPollWorkflow: one pass over the SMS waiting at the provider (callers' replies).

Started by the `encombot-sms-poll` Temporal Schedule every `sms.poll_interval_s` seconds
(workers/worker/schedules.py, overlap SKIP). The activity routes each message to the case
waiting for it or keeps it for an agent (activities/sms_inbox.py). Retries are short on
purpose: the next run of the Schedule is only seconds away, and a provider that stays down
shows as a row of failed runs in the Schedule's recent actions rather than one workflow
retrying for hours.
"""

from __future__ import annotations

from temporalio import workflow

from workflows import calls

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.sms_models import SmsPollInput, SmsPollResult


@workflow.defn(name=names.SMS_POLL_WORKFLOW)
class SmsPollWorkflow:
    @workflow.run
    async def run(self, inp: SmsPollInput) -> SmsPollResult:
        return await calls.POLL_INCOMING_SMS(inp)
