"""Connecting to Temporal and starting workflows: the one place clients are built, so every
client (CLI, demo, tests, HTTP ingress) gets the same data converter and conventions."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.audio_store import is_remote
from domain.missed_call import caller_e164
from domain.missed_call_models import (
    MISSED_CALL_SIGNAL,
    MISSED_CALL_WORKFLOW,
    MissedCallInput,
    MissedCallResult,
    MissedCallSignal,
    missed_call_workflow_id,
    withheld_call_workflow_id,
)
from domain.models import VoicemailInput, VoicemailResult
from domain.names import SEARCH_ATTRIBUTES, VOICEMAIL_WORKFLOW, voicemail_workflow_id
from domain.phone import phone_key
from workers.codec.payload import data_converter
from workers.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from temporalio.runtime import Runtime

_SA_TYPES = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


async def connect(
    settings: Settings, starting_timeout_s: float = 30.0, runtime: Runtime | None = None
) -> Client:
    """A client whose payloads (and failure messages) are encrypted with the settings' keys;
    workers built on it inherit its data converter.

    `runtime`: the Temporal runtime of the process (e.g. one that serves the SDK metrics,
    workers/metrics.py `build_runtime`); None: the SDK's default runtime.

    A server that is still starting (its port open, "Frontend is not healthy yet") is waited
    for, up to `starting_timeout_s`; any other connection error is raised at once."""
    converter = data_converter(settings)
    deadline = time.monotonic() + starting_timeout_s
    while True:
        try:
            return await Client.connect(
                settings.temporal.address,
                namespace=settings.temporal.namespace,
                data_converter=converter,
                runtime=runtime,
            )
        except RuntimeError as exc:
            if "not healthy yet" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register missing custom search attributes; returns those it added.

    An unregistered attribute makes every workflow task that upserts it fail and retry
    forever, so workers check this at start instead of discovering it per workflow."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        name: _SA_TYPES[kind]
        for name, kind in SEARCH_ATTRIBUTES.items()
        if name not in listed.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
    return sorted(missing)


async def submit_voicemail(
    client: Client,
    settings: Settings,
    *,
    call_id: str,
    audio_path: Path | str,
    caller_number: str,
    received_at: datetime | None = None,
    confirm_timeout_s: int | None = None,
    audio_refused: str = "",
) -> tuple[WorkflowHandle[object, VoicemailResult], bool]:
    """Start the workflow for a call; returns (handle, started).

    The workflow id is the call id: a duplicate notification, even after the first run has
    finished, gets the existing workflow back and never a second run."""
    inp = VoicemailInput(
        call_id=call_id,
        # A local file (absolute), or an object store's reference as it is.
        audio_path=(
            ""
            if audio_refused
            else audio_path
            if isinstance(audio_path, str) and is_remote(audio_path)
            else str(Path(audio_path).resolve())
        ),
        caller_number=caller_number,
        received_at=(received_at or datetime.now(UTC)).isoformat(),
        stt_task_queue=settings.temporal.stt_task_queue,
        audio_refused=audio_refused,
    )
    if confirm_timeout_s is not None:
        inp.confirm_timeout_s = confirm_timeout_s
    workflow_id = voicemail_workflow_id(call_id)
    try:
        handle: WorkflowHandle[object, VoicemailResult] = await client.start_workflow(
            VOICEMAIL_WORKFLOW,
            inp,
            id=workflow_id,
            task_queue=settings.temporal.task_queue,
            result_type=VoicemailResult,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=f"Message vocal {call_id}",
        )
        return handle, True
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(workflow_id, result_type=VoicemailResult), False


async def start_missed_call(
    client: Client,
    settings: Settings,
    phone_secret: Callable[[], bytes],
    *,
    call_id: str,
    caller_id: str,
    received_at: datetime,
) -> tuple[WorkflowHandle[Any, MissedCallResult], bool | None]:
    """Start the MissedCallWorkflow of a call, or join the running case of its number;
    returns (handle, created): True / False (a retried webhook) for a withheld number, None
    when signal-with-start started or joined the number's case."""
    cfg = settings.ingress
    number = caller_e164(caller_id)
    received = received_at.isoformat()
    inp = MissedCallInput(
        call_id=call_id,
        caller_number=number or "",
        received_at=received,
        reply_timeout_s=cfg.missed_call_reply_timeout_s,
        merge_window_s=cfg.missed_call_merge_window_s,
        stt_task_queue=settings.temporal.stt_task_queue,
    )
    if number is None:
        # Withheld: nothing to group calls by, one case per call id.
        workflow_id = withheld_call_workflow_id(call_id)
        try:
            handle = await client.start_workflow(
                MISSED_CALL_WORKFLOW,
                inp,
                id=workflow_id,
                task_queue=settings.temporal.task_queue,
                result_type=MissedCallResult,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                static_summary="Appel manqué (numéro masqué)",
            )
        except WorkflowAlreadyStartedError:
            return client.get_workflow_handle(workflow_id, result_type=MissedCallResult), False
        return handle, True
    # One case per number: started, or joined through the signal (a retried webhook repeats a
    # call id, which the workflow counts once).
    handle = await client.start_workflow(
        MISSED_CALL_WORKFLOW,
        inp,
        id=missed_call_workflow_id(phone_key(number, phone_secret())),
        task_queue=settings.temporal.task_queue,
        result_type=MissedCallResult,
        start_signal=MISSED_CALL_SIGNAL,
        start_signal_args=[MissedCallSignal(call_id=call_id, received_at=received)],
        static_summary="Appel manqué",
    )
    return handle, None
