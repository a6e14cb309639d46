"""What every workflow of the project shares: retry policies, the search-attribute keys of
the agent queue, and how an activity failure reads. Deterministic, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

from domain import names

with workflow.unsafe.imports_passed_through():
    from domain.booking_models import FollowUpInput

# Infrastructure failures (database down, SMS provider 5xx) are retried until they heal:
# losing a request is worse than a late SMS. Permanent failures are non-retryable errors.
PATIENT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=0,
)
# Pure CPU steps: a handful of attempts covers a worker crash; more would only repeat a bug.
SHORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=20),
    maximum_attempts=5,
)
# A call cannot be replayed: one attempt, whatever happens.
NO_RETRY = RetryPolicy(maximum_attempts=1)
# The daily retention run (workflows/purge.py).
PURGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=10,
)
# The SMS poll: short on purpose, the next run of its Schedule is seconds away
# (workflows/sms_poll.py).
POLL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)

SA_STATUS = SearchAttributeKey.for_keyword(names.SA_STATUS)
SA_REASON = SearchAttributeKey.for_keyword(names.SA_REASON)
SA_SECTOR = SearchAttributeKey.for_keyword(names.SA_SECTOR)
SA_NEEDS_AGENT = SearchAttributeKey.for_bool(names.SA_NEEDS_AGENT)
SA_WAITING_SINCE = SearchAttributeKey.for_datetime(names.SA_WAITING_SINCE)
SA_SMS_PHONE_KEY = SearchAttributeKey.for_keyword_list(names.SA_SMS_PHONE_KEY)


def agent_queue_entered(status: str, reason: str) -> list[SearchAttributeUpdate]:
    """What makes a case show in the agent queue (`NeedsAgent = true`), oldest first."""
    return [
        SA_STATUS.value_set(status),
        SA_REASON.value_set(reason),
        SA_NEEDS_AGENT.value_set(True),
        SA_WAITING_SINCE.value_set(workflow.now()),
    ]


def agent_queue_left() -> list[SearchAttributeUpdate]:
    return [
        SA_NEEDS_AGENT.value_set(False),
        SA_REASON.value_unset(),
        SA_WAITING_SINCE.value_unset(),
    ]


def error_message(err: BaseException) -> str:
    cause = err.cause if isinstance(err, ActivityError) else err
    return str(cause.message if isinstance(cause, ApplicationError) else cause)


async def start_booking_follow_up(inp: FollowUpInput, log: Callable[[str], None]) -> None:
    """Hand a new booking to its own workflow (delivery report, ANNULER, eve reminder); it
    outlives the case that made it (the reminder is days away)."""
    try:
        await workflow.start_child_workflow(
            names.BOOKING_FOLLOW_UP_WORKFLOW,
            inp,
            id=names.booking_follow_up_workflow_id(inp.call_id),
            task_queue=workflow.info().task_queue,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
        )
        log("suivi de la réservation confié à son propre workflow")
    except WorkflowAlreadyStartedError:
        log("suivi de la réservation déjà en cours")
