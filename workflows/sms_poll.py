"""SmsPollWorkflow: one pass over the SMS waiting at the provider (callers' replies).

Started by the `encombot-sms-poll` Temporal Schedule every `sms.poll_interval_s` seconds
(workers/worker/schedules.py, overlap SKIP). The activity routes each message to the case
waiting for it or keeps it for an agent (activities/sms_inbox.py). Retries are short on
purpose: the next run of the Schedule is only seconds away, and a provider that stays down
shows as a row of failed runs in the Schedule's recent actions rather than one workflow
retrying for hours.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.sms_models import SmsPollInput, SmsPollResult

POLL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)


@workflow.defn(name=names.SMS_POLL_WORKFLOW)
class SmsPollWorkflow:
    @workflow.run
    async def run(self, inp: SmsPollInput) -> SmsPollResult:
        result: SmsPollResult = await workflow.execute_activity(
            names.POLL_INCOMING_SMS,
            inp,
            result_type=SmsPollResult,
            start_to_close_timeout=timedelta(minutes=2),
            # One message routed takes a few Temporal calls: a silent minute is a stuck poll.
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=POLL_RETRY,
        )
        return result
