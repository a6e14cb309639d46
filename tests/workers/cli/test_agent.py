"""`encombot agent list | show | resolve` against the real dev server: an escalated voicemail
(unreadable audio, so no Whisper time) is listed, shown, refused an incomplete correction with
the validator's message, then resolved and booked; an SMS nobody waited for (another workflow
type in the same queue) is listed with its type and workflow id, shown, and closed."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from typer.testing import CliRunner

from activities.speech.engine import SpeechEngine
from domain import names
from domain.models import EscalationReason, Status
from domain.sms_models import IncomingSmsInput, IncomingSmsResult
from tests.workflows.test_incoming_sms import SENDER, started
from tests.workflows.test_voicemail import case_settings, running_worker, submit
from workers.cli.agent import (
    AgentCase,
    AgentCliError,
    ResolveRejected,
    list_cases,
    needs_agent_query,
    parse_resolution,
    resolve_case,
    show_case,
    workflow_id_for,
)
from workers.cli.main import app
from workers.dev.demo import wait_settled
from workers.dev.devserver import DevServer
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
    with pytest.raises(AgentCliError, match="motif inconnu"):
        needs_agent_query(reason="bored")
    for reason in EscalationReason:
        assert needs_agent_query(reason=reason.value).endswith(f'= "{reason.value}"')
    assert needs_agent_query(reason="missed_call_callback") == (
        'NeedsAgent = true AND EscalationReason = "missed_call_callback"'
    )
    assert workflow_id_for("abc") == "voicemail-abc" == workflow_id_for("voicemail-abc")
    assert workflow_id_for(" abc\n") == "voicemail-abc"
    for full in ("sms-m-1", "missed-call-0a1b", "missed-call-withheld-c1", "booking-c1"):
        assert workflow_id_for(full) == full
    # Only the known prefixes: anything else is a voicemail's call id.
    assert workflow_id_for("smsx-1") == "voicemail-smsx-1"
    for empty in ("", " ", "sms-", "voicemail-"):
        with pytest.raises(AgentCliError, match="identifiant d'appel ou de workflow"):
            workflow_id_for(empty)
    without_agent = {k: v for k, v in CORRECTION.items() if k != "agent_id"}
    inp = parse_resolution(json.dumps(without_agent), agent_id="a7")
    assert inp.agent_id == "a7" and inp.items[0].item == "canapé" and inp.items[0].count == 1
    with pytest.raises(AgentCliError, match="JSON invalide"):
        parse_resolution("{agent_id: 1}")
    with pytest.raises(AgentCliError, match=r"champ\(s\) inconnu\(s\) colour"):
        parse_resolution('{"agent_id": "a", "colour": "blue"}')
    with pytest.raises(AgentCliError, match="correction invalide"):
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
    stt: SpeechEngine,
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
        assert case.workflow_id == handle.id and case.workflow_type == names.VOICEMAIL_WORKFLOW
        assert case.reason == "audio_unusable" and case.sector == ""
        assert case.status == Status.WAITING_AGENT and case.waiting_since is not None
        assert call_id not in {c.call_id for c in await list_cases(client, sector="13208")}

        view = await show_case(client, call_id)
        assert view.execution_status == "RUNNING"
        assert view.workflow_type == names.VOICEMAIL_WORKFLOW
        assert view.summary == f"Message vocal {call_id}"
        assert "À traiter" in view.current_details and "resolve" in view.current_details
        # The state query as plain JSON values, whatever the workflow type.
        assert isinstance(view.state, dict) and view.state["call_id"] == call_id
        assert view.state["escalation"]["reason"] == "audio_unusable"
        assert (await show_case(client, handle.id)).state == view.state

        # The validator's message comes back readable, and the workflow keeps waiting.
        incomplete = parse_resolution(json.dumps({"agent_id": "agent-42", "action": "correct"}))
        with pytest.raises(ResolveRejected) as rejected:
            await resolve_case(client, call_id, incomplete)
        assert "Adresse manquante" in rejected.value.message

        code, out = await asyncio.to_thread(run_cli, env, "agent", "list", "--json")
        assert code == 0, out
        listed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        mine = [c for c in listed if c["call_id"] == call_id]
        assert [(c["workflow_id"], c["workflow_type"]) for c in mine] == [
            (handle.id, names.VOICEMAIL_WORKFLOW)
        ]
        code, out = await asyncio.to_thread(run_cli, env, "agent", "show", call_id)
        assert code == 0, out
        assert "audio inexploitable" in out
        code, out = await asyncio.to_thread(run_cli, env, "agent", "show", "--json", call_id)
        assert code == 0, out
        assert json.loads(out)["escalation"]["reason"] == "audio_unusable"
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


async def wait_listed(client: Client, workflow_id: str, **query: str) -> AgentCase:
    # Visibility is eventually consistent: the upsert shows up within moments.
    for _ in range(50):
        cases = {c.workflow_id: c for c in await list_cases(client, **query)}
        if workflow_id in cases:
            return cases[workflow_id]
        await asyncio.sleep(0.2)
    raise AssertionError(f"{workflow_id} not in the agent queue")


async def test_agent_handles_an_unmatched_sms(
    client: Client, dev_server: DevServer, base_settings: Settings, unique_queue: str
) -> None:
    """Another workflow type in the same queue: listed with its type and full workflow id,
    shown by that id with its own state, closed by the agent through the same commands."""
    message_id = f"m-{uuid.uuid4().hex[:8]}"
    text = "Bonjour, le camion n'est pas passé"
    inp = IncomingSmsInput(message_id, SENDER, text, received_at="2026-11-25T22:00:00+01:00")
    env = {
        "ENCOMBOT_TEMPORAL__ADDRESS": dev_server.address,
        "ENCOMBOT_DATA_DIR": str(base_settings.data_dir),  # the session's codec key
    }
    async with started(client, unique_queue, inp) as handle:
        assert handle.id == f"sms-{message_id}"
        case = await wait_listed(client, handle.id, reason="unmatched_sms")
        assert case.workflow_type == names.INCOMING_SMS_WORKFLOW and case.call_id == ""
        assert case.reason == "unmatched_sms" and case.sector == ""
        assert case.status == Status.WAITING_AGENT and case.waiting_since is not None
        assert handle.id not in {c.workflow_id for c in await list_cases(client, reason="no_slot")}

        view = await show_case(client, handle.id)
        assert view.workflow_id == handle.id and view.workflow_type == names.INCOMING_SMS_WORKFLOW
        assert view.execution_status == "RUNNING"
        assert "SMS reçu sans dossier" in view.current_details
        assert isinstance(view.state, dict)
        assert view.state["message_id"] == message_id and view.state["status"] == "waiting_agent"
        assert [(m["sender"], m["text"]) for m in view.state["messages"]] == [(SENDER, text)]

        # Unknown id: the error says which forms are accepted.
        with pytest.raises(AgentCliError, match="missed-call-"):
            await show_case(client, f"sms-{uuid.uuid4().hex[:8]}")
        # The workflow's own rules, readable: an SMS case takes close or no_answer only.
        correct = parse_resolution(json.dumps({"agent_id": "agent-42", "action": "correct"}))
        with pytest.raises(ResolveRejected, match="impossible pour un SMS"):
            await resolve_case(client, handle.id, correct)

        code, out = await asyncio.to_thread(run_cli, env, "agent", "list", "--json")
        assert code == 0, out
        listed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        mine = [c for c in listed if c["workflow_id"] == handle.id]
        assert [(c["workflow_type"], c["call_id"], c["reason"]) for c in mine] == [
            (names.INCOMING_SMS_WORKFLOW, "", "unmatched_sms")
        ]
        code, out = await asyncio.to_thread(
            run_cli, env, "agent", "list", "--reason", "unmatched_sms"
        )
        assert code == 0 and handle.id in out, out
        code, out = await asyncio.to_thread(run_cli, env, "agent", "list", "--reason", "bored")
        assert code == 2 and "motif inconnu" in out, out

        code, out = await asyncio.to_thread(run_cli, env, "agent", "show", handle.id)
        assert code == 0, out
        assert handle.id in out and names.INCOMING_SMS_WORKFLOW in out
        assert "SMS reçu sans dossier" in out and text in out
        code, out = await asyncio.to_thread(run_cli, env, "agent", "show", "--json", handle.id)
        assert code == 0, out
        assert json.loads(out)["messages"][0]["text"] == text

        close = {"agent_id": "agent-42", "action": "close"}
        code, out = await asyncio.to_thread(
            run_cli, env, "agent", "resolve", handle.id, "--json", json.dumps(close)
        )
        assert code == 1 and "refusé" in out and "raison" in out, out
        code, out = await asyncio.to_thread(
            run_cli,
            env,
            "agent",
            "resolve",
            handle.id,
            "--json",
            '{"action": "no_answer"}',
            "--agent-id",
            "agent-42",
        )
        assert code == 0 and "accepté" in out and "tentative 1" in out, out
        close["comment"] = "rappelé, rendez-vous pris"
        code, out = await asyncio.to_thread(
            run_cli, env, "agent", "resolve", handle.id, "--json", json.dumps(close)
        )
        assert code == 0 and "accepté" in out and "Dossier clos" in out, out

        result = await asyncio.wait_for(handle.result(), 30)
        assert result == IncomingSmsResult(
            message_id=message_id,
            status="closed",
            closed_by="agent-42",
            closed_reason="rappelé, rendez-vous pris",
            messages=1,
        )
        # Still shown once closed (the worker is up to answer the query by replay).
        closed = await show_case(client, handle.id)
        assert closed.execution_status == "COMPLETED" and closed.state is not None
        assert closed.state["status"] == "closed" and closed.state["callback_attempts"] == 1
