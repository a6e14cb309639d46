"""The agents' terminal for bookings and shared cases, against the real dev server: one French
line (exit 2) when Temporal is unreachable, instead of a traceback; an agent's machine with no
key reads the queue through the codec server; `agent booking find` by number and reference,
`move` and `cancel`; `agent claim` refused to a second agent; `bookings list` with the load
against capacity."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client

from domain.sms_models import IncomingSmsInput
from tests.workers.cli.test_agent import run_cli
from tests.workflows.test_booking_follow_up import book, start_follow_up
from tests.workflows.test_incoming_sms import SENDER, started
from tests.workflows.test_voicemail import case_settings, store
from workers.codec.server import RunningCodecServer
from workers.dev.devserver import DevServer, free_port
from workers.settings import Settings
from workers.worker.composition import workers_running


def test_unreachable_temporal_is_one_french_line(tmp_path: Path) -> None:
    env = {
        "ENCOMBOT_TEMPORAL__ADDRESS": f"127.0.0.1:{free_port()}",
        "ENCOMBOT_DATA_DIR": str(tmp_path),
        "ENCOMBOT_CODEC__ALLOW_DEV_KEY": "true",
    }
    (tmp_path / "codec-dev.key").write_text("dev-x:" + "A" * 43 + "=\n")
    code, out = run_cli(env, "agent", "list")
    assert code == 2, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) <= 2 and lines[0].startswith("erreur : Temporal injoignable à 127.0.0.1:")
    assert "Traceback" not in out


async def test_an_agent_without_keys_goes_through_the_codec_server(
    client: Client,
    dev_server: DevServer,
    codec_server: RunningCodecServer,
    unique_queue: str,
    tmp_path: Path,
) -> None:
    inp = IncomingSmsInput(f"m-{uuid.uuid4().hex[:8]}", SENDER, "Bonjour, rappel svp")
    no_keys = {
        "ENCOMBOT_TEMPORAL__ADDRESS": dev_server.address,
        "ENCOMBOT_DATA_DIR": str(tmp_path),  # no key file here
        "ENCOMBOT_AGENTS__CODEC_ENDPOINT": codec_server.url,
        "ENCOMBOT_AGENT_ID": "agent-1",
    }
    async with started(client, unique_queue, inp) as handle:
        for _ in range(50):
            code, out = await asyncio.to_thread(run_cli, no_keys, "agent", "show", handle.id)
            if "SMS reçu" in out:
                break
            await asyncio.sleep(0.2)
        assert code == 0 and "Bonjour, rappel svp" in out, out  # decoded by the codec server
        code, out = await asyncio.to_thread(run_cli, no_keys, "agent", "claim", handle.id)
        assert code == 0 and "accepté" in out and "agent-1" in out, out
        other = {**no_keys, "ENCOMBOT_AGENT_ID": "agent-2"}
        code, out = await asyncio.to_thread(run_cli, other, "agent", "claim", handle.id)
        assert code == 1 and "refusé" in out and "Dossier pris par agent-1" in out, out
        code, out = await asyncio.to_thread(run_cli, no_keys, "agent", "list", "--miens")
        assert code == 0 and handle.id in out, out
        assert "AssignedTo%20%3D%20%22agent-1%22" in out.replace("\n", "")
        # The codec server down: one line again.
        down = {**no_keys, "ENCOMBOT_AGENTS__CODEC_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
        code, out = await asyncio.to_thread(run_cli, down, "agent", "show", handle.id)
        assert code == 2 and "serveur de chiffrement injoignable" in out, out


async def test_find_move_cancel_a_booking_and_list_the_day(
    client: Client, dev_server: DevServer, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    booking_store = store(settings)
    # A number of its own: the session's other follow-ups share the tests' usual caller, and a
    # search by it lists 50 of them, each queried, before this one shows (117 s in the suite).
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    caller, said = f"+336{digits}", "06 " + " ".join(digits[i : i + 2] for i in range(0, 8, 2))
    reference, pickup = book(booking_store, f"cli-{uuid.uuid4().hex[:6]}", caller)
    days = booking_store.calendar.candidate_dates("13205", datetime.now(UTC).astimezone())
    later = next(d.isoformat() for d in days if d.isoformat() > pickup)
    env = {
        "ENCOMBOT_TEMPORAL__ADDRESS": dev_server.address,
        "ENCOMBOT_DATA_DIR": str(base_settings.data_dir),  # the session's keys and secrets
        "ENCOMBOT_BOOKING__DATABASE_URL": settings.booking.database_url,
        "ENCOMBOT_AGENT_ID": "agent-9",
    }
    async with workers_running(client, settings, "default"):
        handle = await start_follow_up(
            client, settings, reference, pickup, reminder_in_s=3600, caller=caller
        )
        for _ in range(50):
            code, out = await asyncio.to_thread(
                run_cli, env, "agent", "booking", "find", "--numero", said, "--json"
            )
            found = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
            if any(f["workflow_id"] == handle.id for f in found):
                break
            await asyncio.sleep(0.2)
        assert code == 0 and any(f["reference"] == reference for f in found), out
        code, out = await asyncio.to_thread(
            run_cli, env, "agent", "booking", "move", reference.lower(), "--date", later
        )
        assert code == 0 and "accepté" in out and "déplacée" in out, out
        code, out = await asyncio.to_thread(run_cli, env, "agent", "booking", "show", handle.id)
        assert code == 0 and reference in out and "agent:agent-9 moved" in out, out
        code, out = await asyncio.to_thread(
            run_cli, env, "bookings", "list", "--date", later, "--format", "json"
        )
        [sheet] = json.loads(out)
        assert sheet["secteur"] == "13205" and sheet["capacite"] == 25
        assert reference in [s["reference"] for s in sheet["arrets"]]
        assert sheet["enlevements"] == len(sheet["arrets"])
        code, out = await asyncio.to_thread(
            run_cli, env, "agent", "booking", "cancel", handle.id, "--comment", ""
        )
        assert code == 1 and "raison" in out, out
        code, out = await asyncio.to_thread(
            run_cli, env, "agent", "booking", "cancel", handle.id, "--comment", "tout donné"
        )
        assert code == 0 and "annulée" in out, out
        await asyncio.wait_for(handle.result(), 30)
        code, out = await asyncio.to_thread(
            run_cli, env, "agent", "booking", "move", handle.id, "--date", later
        )
        assert code == 2 and "dossier terminé" in out, out
