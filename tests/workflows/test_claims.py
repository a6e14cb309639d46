"""Two agents sharing the queue, on the real dev server: a claimed case shows `AssignedTo` and
who holds it since when in its details; the second agent's claim, `resolve` and `release` are
refused with a readable message; released, the case goes to the other agent; leaving the queue
unsets `AssignedTo`. A voicemail's details carry the caller's number for every reason (an
`audio_unusable` case included) and, once claimed, a signed link to the message."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey

from activities.speech.engine import SpeechEngine
from domain import names
from domain.claims import ClaimInput, ClaimResult
from domain.models import ResolveInput, ResolveResult
from domain.sms_models import IncomingSmsInput
from tests.workflows.test_incoming_sms import SENDER, started
from tests.workflows.test_voicemail import CALLER, case_settings, running_worker, submit
from workers.dev.demo import wait_settled
from workers.settings import Settings

SA_ASSIGNED_TO = SearchAttributeKey.for_keyword(names.SA_ASSIGNED_TO)
WORKFLOW_METADATA_QUERY = "__temporal_workflow_metadata"


async def details(handle: WorkflowHandle[Any, Any]) -> str:
    from temporalio.api.sdk.v1 import WorkflowMetadata

    meta = await handle.query(WORKFLOW_METADATA_QUERY, result_type=WorkflowMetadata)
    return meta.current_details


async def update(handle: WorkflowHandle[Any, Any], name: str, inp: Any, result: type) -> Any:
    return await handle.execute_update(name, inp, result_type=result)


async def refused(handle: WorkflowHandle[Any, Any], name: str, inp: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(name, inp, result_type=ClaimResult)
    return str(failure.value.cause)


async def assigned_to(handle: WorkflowHandle[Any, Any], expected: str | None) -> None:
    for _ in range(100):
        attrs = (await handle.describe()).typed_search_attributes
        if attrs.get(SA_ASSIGNED_TO) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"AssignedTo never became {expected!r}")


async def test_two_agents_share_a_case(client: Client, unique_queue: str) -> None:
    inp = IncomingSmsInput(f"m-{uuid.uuid4().hex[:8]}", SENDER, "Le camion n'est pas passé")
    async with started(client, unique_queue, inp) as handle:
        for _ in range(100):  # queued once its first task ran
            if "SMS reçu" in await details(handle):
                break
            await asyncio.sleep(0.05)
        assert "**Libre**" in await details(handle)

        taken = await update(handle, names.CLAIM_UPDATE, ClaimInput("agent-1"), ClaimResult)
        assert taken.accepted and taken.assigned_to == "agent-1" and taken.until > taken.since
        await assigned_to(handle, "agent-1")
        text = await details(handle)
        assert "Pris par agent-1** depuis" in text and "SMS reçu" in text

        why = await refused(handle, names.CLAIM_UPDATE, ClaimInput("agent-2"))
        assert "Dossier pris par agent-1 depuis" in why
        close = ResolveInput(agent_id="agent-2", action="close", comment="rappelé")
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await handle.execute_update(names.RESOLVE_UPDATE, close, result_type=ResolveResult)
        assert "Dossier pris par agent-1" in str(failure.value.cause)
        assert "seul cet agent" in await refused(
            handle, names.RELEASE_UPDATE, ClaimInput("agent-2")
        )
        # The holder renews, then gives it back.
        again = await update(handle, names.CLAIM_UPDATE, ClaimInput("agent-1", 45), ClaimResult)
        assert again.since == taken.since and again.until > taken.until
        back = await update(handle, names.RELEASE_UPDATE, ClaimInput("agent-1"), ClaimResult)
        assert back.accepted and back.assigned_to == ""
        await assigned_to(handle, None)
        assert "**Libre**" in await details(handle)

        await update(handle, names.CLAIM_UPDATE, ClaimInput("agent-2"), ClaimResult)
        await assigned_to(handle, "agent-2")
        done = await handle.execute_update(names.RESOLVE_UPDATE, close, result_type=ResolveResult)
        assert done.accepted
        await handle.result()
        await assigned_to(handle, None)  # out of the queue: nobody holds it
        state = await handle.query(names.STATE_QUERY)
        assert any("agent-2: dossier pris" in line for line in state["history"])


async def test_a_voicemail_shows_the_caller_and_plays_once_claimed(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    """audio_unusable (an empty file): the number is in the details, not only in the raw
    input; the claim gets a signed link to the file kept in the audio directory."""
    settings = case_settings(base_settings, tmp_path)
    settings.audio_dir.mkdir(parents=True, exist_ok=True)
    audio = settings.audio_dir / f"vm-{uuid.uuid4().hex}.wav"
    audio.write_bytes(b"")
    async with running_worker(client, settings, stt):
        handle, _ = await submit(client, settings, "demo01", f"cl-{uuid.uuid4().hex[:6]}", audio)
        state, _ = await wait_settled(handle, timeout_s=60)
        assert state.escalation is not None and state.escalation.reason == "audio_unusable"
        text = await details(handle)
        assert f"**Appelant** : {CALLER}" in text
        assert "prenez le dossier (Update `claim`)" in text
        await update(handle, names.CLAIM_UPDATE, ClaimInput("agent-7"), ClaimResult)
        text = await details(handle)
        assert "Pris par agent-7" in text
        assert "[▶ écouter](http://127.0.0.1:8234/audio/" in text
        assert f"/audio/{audio.name}?exp=" in text and "&sig=" in text
        # The file purged meanwhile (retention): the next claim says so instead of a link.
        audio.unlink()
        await update(handle, names.CLAIM_UPDATE, ClaimInput("agent-7"), ClaimResult)
        assert "audio supprimé" in await details(handle)
        await handle.execute_update(
            names.RESOLVE_UPDATE,
            ResolveInput(agent_id="agent-7", action="close", comment="test"),
            result_type=ResolveResult,
        )
        await asyncio.wait_for(handle.result(), 30)
