"""`encombot agent list | show | resolve` against the real dev server: an escalated voicemail
(unreadable audio, so no Whisper time) is listed, shown, refused an incomplete correction with
the validator's message, then resolved and booked."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from typer.testing import CliRunner

from activities.transcribe import TranscribeActivities
from domain.models import Status
from tests.workflows.test_voicemail import case_settings, running_worker, submit
from workers.agent_cli import (
    AgentCliError,
    ResolveRejected,
    list_cases,
    needs_agent_query,
    parse_resolution,
    resolve_case,
    show_case,
    workflow_id_for,
)
from workers.cli import app
from workers.demo import wait_settled
from workers.devserver import DevServer
from workers.settings import Settings

CORRECTION = {
    "agent_id": "agent-42",
    "action": "correct",
    "housenumber": "12",
    "street": "Boulevard Chave",
    "postcode": "13005",
    "items": [{"item": "canapé", "count": 1}],
}


def test_query_and_input_parsing() -> None:
    assert needs_agent_query() == "NeedsAgent = true"
    assert needs_agent_query("13208", "no_slot") == (
        'NeedsAgent = true AND Sector = "13208" AND EscalationReason = "no_slot"'
    )
    with pytest.raises(AgentCliError):
        needs_agent_query('13208" OR NeedsAgent = false OR Sector = "x')
    with pytest.raises(AgentCliError, match="unknown reason"):
        needs_agent_query(reason="bored")
    assert workflow_id_for("abc") == "voicemail-abc" == workflow_id_for("voicemail-abc")
    without_agent = {k: v for k, v in CORRECTION.items() if k != "agent_id"}
    inp = parse_resolution(json.dumps(without_agent), agent_id="a7")
    assert inp.agent_id == "a7" and inp.items[0].item == "canapé" and inp.items[0].count == 1
    with pytest.raises(AgentCliError, match="invalid JSON"):
        parse_resolution("{agent_id: 1}")
    with pytest.raises(AgentCliError, match=r"unknown field\(s\) colour"):
        parse_resolution('{"agent_id": "a", "colour": "blue"}')
    with pytest.raises(AgentCliError, match="invalid correction"):
        parse_resolution('{"agent_id": "a", "items": [{"count": 1}]}')


def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    """The typer command in-process (its own event loop, hence a thread)."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return result.exit_code, result.output


async def test_agent_list_show_resolve(
    client: Client,
    dev_server: DevServer,
    base_settings: Settings,
    stt: TranscribeActivities,
    tmp_path: Path,
) -> None:
    settings = case_settings(base_settings, tmp_path)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    call_id = f"agent-{uuid.uuid4().hex[:6]}"
    env = {
        "ENCOMBOT_TEMPORAL__ADDRESS": dev_server.address,
        "ENCOMBOT_DATA_DIR": str(base_settings.data_dir),  # the session's codec key
    }
    async with running_worker(client, settings, stt):
        handle, _ = await submit(client, settings, "demo01", call_id, bad)
        await wait_settled(handle, timeout_s=60)

        # Visibility is eventually consistent: the upsert shows up within moments.
        for _ in range(50):
            cases = {c.call_id: c for c in await list_cases(client)}
            if call_id in cases:
                break
            await asyncio.sleep(0.2)
        case = cases[call_id]
        assert case.workflow_id == handle.id
        assert case.reason == "audio_unusable" and case.sector == ""
        assert case.status == Status.WAITING_AGENT and case.waiting_since is not None
        assert call_id not in {c.call_id for c in await list_cases(client, sector="13208")}

        view = await show_case(client, call_id)
        assert view.execution_status == "RUNNING"
        assert view.summary == f"Message vocal {call_id}"
        assert "À traiter" in view.current_details and "resolve" in view.current_details
        assert view.state is not None and view.state.escalation is not None
        assert view.state.escalation.reason == "audio_unusable"

        # The validator's message comes back readable, and the workflow keeps waiting.
        incomplete = parse_resolution(json.dumps({"agent_id": "agent-42", "action": "correct"}))
        with pytest.raises(ResolveRejected) as rejected:
            await resolve_case(client, call_id, incomplete)
        assert "Adresse manquante" in rejected.value.message

        code, out = await asyncio.to_thread(run_cli, env, "agent", "list", "--json")
        assert code == 0, out
        listed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert any(c["call_id"] == call_id for c in listed)
        code, out = await asyncio.to_thread(run_cli, env, "agent", "show", call_id)
        assert code == 0, out
        assert "audio inexploitable" in out
        code, out = await asyncio.to_thread(
            run_cli, env, "agent", "resolve", call_id, "--json", '{"agent_id": "agent-42"}'
        )
        assert code == 1 and "refusé" in out and "Adresse manquante" in out, out
        code, out = await asyncio.to_thread(
            run_cli, env, "agent", "resolve", call_id, "--json", json.dumps(CORRECTION)
        )
        assert code == 0 and "accepté" in out and "Boulevard Chave" in out, out

        result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == Status.BOOKED
    assert result.sector == "13205"
