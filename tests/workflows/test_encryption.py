"""No personal data in clear in Temporal: a voicemail runs to completion on the real dev server
with the project's client (`connect` encrypts), then its raw history, fetched through a client
WITHOUT the codec, is searched byte by byte for the caller's name, number, street, transcript
and SMS text. The escalated case's failure messages and current details are encrypted too,
and the Temporal CLI reads it all back through the codec server."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from pathlib import Path

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.history.v1 import History
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import Client
from temporalio.converter import DataConverter

from activities.speech.engine import SpeechEngine
from domain.models import ItemCount, ResolveInput, ResolveResult, Status
from domain.names import RESOLVE_UPDATE
from tests.workflows.test_voicemail import CALLER, case_settings, outbox, running_worker, submit
from workers.codec.payload import ENCODING, codec_from_settings
from workers.codec.server import CodecServerConfig, RunningCodecServer, make_app
from workers.dev.demo import wait_settled
from workers.dev.devserver import DevServer, temporal_cli
from workers.settings import Settings

WORKFLOW_METADATA_QUERY = "__temporal_workflow_metadata"


def needles_for(text: str) -> set[bytes]:
    """`text` as it could appear in clear: UTF-8 and JSON-escaped (the JSON converter escapes
    non-ASCII characters)."""
    return {text.encode(), json.dumps(text)[1:-1].encode()}


def leaks(raw: bytes, secrets: list[str]) -> list[str]:
    return [s for s in secrets if any(n in raw for n in needles_for(s))]


async def raw_history(address: str, namespace: str, workflow_id: str) -> bytes:
    plain = await Client.connect(address, namespace=namespace)  # no codec at all
    history = await plain.get_workflow_handle(workflow_id).fetch_history()
    return History(events=history.events).SerializeToString()


def cli_show(address: str, workflow_id: str, *extra: str) -> str:
    out = subprocess.run(
        [
            temporal_cli(),
            "workflow",
            "show",
            "--address",
            address,
            "--workflow-id",
            workflow_id,
            "--output",
            "json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # The CLI's own words when it fails (a codec refusal shows only there).
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


async def test_history_holds_no_personal_data_in_clear(
    client: Client,
    dev_server: DevServer,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
) -> None:
    settings = case_settings(base_settings, tmp_path)
    call_id = f"enc-{uuid.uuid4().hex[:6]}"
    async with running_worker(client, settings, stt):
        handle, _ = await submit(client, settings, "demo01", call_id)
        result = await asyncio.wait_for(handle.result(), 240)
    assert result.status == Status.BOOKED
    [sms] = outbox(settings)
    state_text = sms["text"]
    raw = await raw_history(dev_server.address, settings.temporal.namespace, handle.id)

    # Positive control: the data is there, encrypted.
    assert ENCODING in raw
    assert result.booking_reference in state_text and "Chave" in state_text

    secrets = [
        "Claire",
        "Martin",
        CALLER,
        CALLER.removeprefix("+33"),
        "Chave",
        "boulevard",
        "canapé",
        "chaise",
        "habite",  # transcript
        "enlever",
        result.booking_reference,  # SMS text
        "enlèvement confirmé",
        settings.sms.service_name,
        state_text,
        *[line.strip() for line in state_text.splitlines() if len(line.strip()) > 8],
    ]
    assert leaks(raw, secrets) == []

    # The Temporal CLI reads it back through a token-protected codec server.
    app = make_app(codec_from_settings(base_settings), CodecServerConfig(token="tok-123"))
    with RunningCodecServer(app) as server:
        encrypted = await asyncio.to_thread(cli_show, dev_server.address, handle.id)
        decoded = await asyncio.to_thread(
            cli_show,
            dev_server.address,
            handle.id,
            "--codec-endpoint",
            server.url,
            "--codec-auth",
            "Bearer tok-123",
        )

    def first_input(output: str) -> tuple[bytes, bytes]:
        started = json.loads(output)["events"][0]["workflowExecutionStartedEventAttributes"]
        payload = started["input"]["payloads"][0]
        encoding = base64.b64decode(payload["metadata"]["encoding"])
        return encoding, base64.b64decode(payload["data"])

    encoding, data = first_input(encrypted)
    assert encoding == ENCODING and CALLER.encode() not in data
    encoding, data = first_input(decoded)  # decoded by the CLI through /decode
    assert encoding == b"json/plain"
    assert json.loads(data)["caller_number"] == CALLER


async def test_escalated_case_failures_and_current_details_are_encrypted(
    client: Client,
    dev_server: DevServer,
    codec_server: RunningCodecServer,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
) -> None:
    settings = case_settings(base_settings, tmp_path)
    bad = tmp_path / "message-de-Claire-Martin.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" + bytes(range(256)) * 8)
    namespace = settings.temporal.namespace
    async with running_worker(client, settings, stt):
        handle, _ = await submit(client, settings, "demo01", f"encx-{uuid.uuid4().hex[:6]}", bad)
        state, _ = await wait_settled(handle, timeout_s=60)
        assert state.escalation is not None and state.escalation.reason == "audio_unusable"

        # The failed activity: message and stack trace only in the encrypted attributes.
        plain = await Client.connect(dev_server.address, namespace=namespace)
        history = await plain.get_workflow_handle(handle.id).fetch_history()
        failures = [
            e.activity_task_failed_event_attributes.failure
            for e in history.events
            if e.HasField("activity_task_failed_event_attributes")
        ]
        assert failures
        for failure in failures:
            assert failure.message == "Encoded failure"
            assert failure.stack_trace == ""
            assert failure.encoded_attributes.metadata["encoding"] == ENCODING
        raw = History(events=history.events).SerializeToString()
        secrets = [
            "Claire-Martin",
            CALLER,
            "illisible",
            "Invalid data found",
            "Traceback",
            "transcribe.py",
        ]
        assert leaks(raw, secrets) == []
        started = history.events[0].workflow_execution_started_event_attributes
        assert started.input.payloads[0].metadata["encoding"] == ENCODING
        # The summary shown in the UI list is a payload too.
        assert history.events[0].user_metadata.summary.metadata["encoding"] == ENCODING

        # Current details (what an agent reads) leave the worker encrypted...
        response = await plain.workflow_service.query_workflow(
            QueryWorkflowRequest(
                namespace=namespace,
                execution=WorkflowExecution(workflow_id=handle.id),
                query=WorkflowQuery(query_type=WORKFLOW_METADATA_QUERY),
            )
        )
        [payload] = response.query_result.payloads
        assert payload.metadata["encoding"] == ENCODING
        assert b"traiter" not in payload.SerializeToString()
        # ...and the codec (server) restores them for the UI.
        [opened] = await codec_from_settings(base_settings).decode([payload])
        metadata = DataConverter.default.payload_converter.from_payload(opened, WorkflowMetadata)
        assert "À traiter" in metadata.current_details

        done = await handle.execute_update(
            RESOLVE_UPDATE,
            ResolveInput(
                agent_id="agent-9",
                housenumber="12",
                street="Boulevard Chave",
                postcode="13005",
                items=[ItemCount("canapé", 1)],
            ),
            result_type=ResolveResult,
        )
        assert done.accepted
        await asyncio.wait_for(handle.result(), 60)
    # The agent's correction (an Update input) is encrypted too.
    raw = await raw_history(dev_server.address, namespace, handle.id)
    assert leaks(raw, ["Chave", "agent-9", CALLER]) == []
