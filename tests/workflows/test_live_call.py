"""Live calls end to end: the real dev server, the real workers and activities, the telephony
process's AudioSocket server, and a caller played by the AudioSocket test client in real time
(caller turns cut from the demo/dev voicemails, tests/fakes/caller_turns.py). What the bot said
is checked on its recorded audio, sample for sample (see `sounds_like`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from temporalio.client import Client, WorkflowHandle

from activities.live_call import LiveCallActivities
from activities.speech.engine import SpeechEngine
from domain.dialogue import Prompt, transfer_prompt
from domain.live_call_models import (
    LiveCallResult,
    LiveCallState,
    Outcome,
    Phase,
    TransferReason,
)
from domain.models import ResolveInput, ResolveResult
from domain.names import RESOLVE_UPDATE, STATE_QUERY, live_call_workflow_id
from tests.fakes.audiosocket_client import AudioSocketCaller
from tests.fakes.caller_turns import caller_turn
from tests.workflows.test_voicemail import case_settings, outbox, running_worker, store
from workers.dev.devserver import DevServer, free_port
from workers.metrics import Metrics
from workers.settings import Settings
from workers.telephony.live import RunningTelephony, run_telephony

REPO = Path(__file__).resolve().parents[2]
MOBILE = "0612345678"
ADDRESS_LABEL = "12 Boulevard Chave, 13005 Marseille"

pytest.importorskip("webrtcvad", reason="webrtcvad (the live calls' turn-taking) not installed")
pytest.importorskip("espeakng_loader", reason="espeakng-loader (the bot's TTS) not installed")


def turn(name: str) -> bytes:
    """A caller turn; the test is skipped when its source voicemail is not here (the dev set
    lives in ../shared, outside the repository)."""
    try:
        return caller_turn(name)
    except FileNotFoundError as exc:
        pytest.skip(f"caller turn {name!r} is cut from {exc.args[0]}, which is missing")


def live_settings(base: Settings, tmp: Path) -> Settings:
    settings = case_settings(base, tmp)
    tel = settings.telephony.model_copy(
        update={
            "audiosocket_host": "127.0.0.1",
            "audiosocket_port": 0,
            "route_port": 0,
            "tts_cache_dir": base.data_dir / "cache" / "tts",
            "heartbeat_timeout_s": 5,
        }
    )
    return settings.model_copy(update={"telephony": tel})


@asynccontextmanager
async def telephony(
    client: Client, settings: Settings, stt: SpeechEngine, metrics: Metrics | None = None
) -> AsyncIterator[RunningTelephony]:
    """Workers (workflows + activities) and the telephony process, in this process."""
    stop = asyncio.Event()
    ready: asyncio.Future[RunningTelephony] = asyncio.get_running_loop().create_future()
    async with running_worker(client, settings, stt):
        task = asyncio.create_task(
            run_telephony(
                client, settings, stop=stop, stt=stt, on_ready=ready.set_result, metrics=metrics
            )
        )
        try:
            yield await asyncio.wait_for(asyncio.shield(ready), 60)
        finally:
            stop.set()
            await task


async def counted(metrics: Metrics, name: str, timeout: float = 10, **labels: str) -> float:
    """A counter the call's end increments: the media side notes it just after the caller's
    line closed."""
    deadline = time.monotonic() + timeout
    while (value := metrics.registry.get_sample_value(name, labels)) is None:
        if time.monotonic() > deadline:
            return 0.0
        await asyncio.sleep(0.05)
    return value


async def wait_listening(
    tel: RunningTelephony,
    call_id: str,
    phase: Phase,
    timeout: float,
    *,
    turns: int = 0,
    prompt_done: bool = True,
) -> None:
    """Until the bot has finished its prompt and waits for the caller in `phase`, having heard
    at least `turns` turns (a phase that does not change is otherwise already reached).
    prompt_done=False: as soon as the dialogue is in `phase`, the prompt still playing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = tel.activities.dialogues.get(call_id)
        if (
            view is not None
            and (view.listening or not prompt_done)
            and view.progress.phase == phase
            and view.progress.turns >= turns
        ):
            return
        await asyncio.sleep(0.05)
    view = tel.activities.dialogues.get(call_id)
    raise AssertionError(f"not listening in {phase}: {view}")


def envelope(pcm: np.ndarray) -> np.ndarray:
    """Loudness per 20 ms frame."""
    frames = pcm[: pcm.size // 160 * 160].reshape(-1, 160)
    return np.sqrt(np.mean(frames**2, axis=1))


def sounds_like(acts: LiveCallActivities, pcm: bytes, *prompts: Prompt) -> None:
    """The bot's recorded audio is `prompts` as synthesized, from its first frame on: their
    loudness contours (syllable by syllable) match. Not the samples themselves: eSpeak does
    not render the same text bit for bit twice. Not a transcript either: Whisper base hears
    eSpeak's French too loosely to tell prompts apart, and hallucinates differently when the
    same audio is padded by a few samples (the greeting came out as "une nouvelle journée de
    tournage" once and as "le plus grand que l'on a fait" the next time)."""
    expected = envelope(np.frombuffer(acts.synthesize(list(prompts)), dtype="<i2").astype(float))
    heard = envelope(np.frombuffer(pcm, dtype="<i2").astype(float))
    names = [p.template for p in prompts]
    assert heard.size >= expected.size - 2, f"{names}: {heard.size} of {expected.size} frames"
    n = min(heard.size, expected.size)
    similarity = float(np.corrcoef(heard[:n], expected[:n])[0, 1])
    assert similarity > 0.9, f"the bot's audio is not {names} (similarity {similarity:.3f})"


async def result_of(handle: WorkflowHandle[Any, Any], timeout: float = 60) -> LiveCallResult:
    try:
        result = await asyncio.wait_for(handle.result(), timeout)
    except TimeoutError:
        state = await handle.query(STATE_QUERY, result_type=LiveCallState)
        desc = await handle.describe()
        raise AssertionError(
            f"no result: {state} {desc.raw_description.pending_activities}"
        ) from None
    assert isinstance(result, LiveCallResult)
    return result


async def wait_status(
    handle: WorkflowHandle[Any, Any], status: str, timeout: float
) -> LiveCallState:
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = await handle.query(STATE_QUERY, result_type=LiveCallState)
        if state.status == status:
            return state
        await asyncio.sleep(0.2)
    raise AssertionError(f"status {status} not reached: {state}")


async def close_callback(handle: WorkflowHandle[Any, Any]) -> None:
    result = await handle.execute_update(
        RESOLVE_UPDATE,
        ResolveInput(agent_id="agent-1", action="close", comment="rappelé"),
        result_type=ResolveResult,
    )
    assert result.accepted


async def test_full_booking_by_voice(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = live_settings(base_settings, tmp_path)
    yes = turn("yes")
    metrics = Metrics(CollectorRegistry())
    async with telephony(client, settings, stt, metrics) as tel:
        acts = tel.activities
        call = AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0)
        cid = call.call_id
        async with call:
            await wait_listening(tel, cid, Phase.ASK_ADDRESS, 40)
            greeting_end = asyncio.get_running_loop().time()
            sounds_like(
                acts,
                call.bot_audio(until=greeting_end),
                Prompt("greeting", {"service_name": settings.sms.service_name, "agent_phone": ""}),
                Prompt("ask_address"),
            )
            await call.say(caller_turn("address"))
            await wait_listening(tel, cid, Phase.ASK_ITEMS, 40)
            await call.say(caller_turn("items"))
            await wait_listening(tel, cid, Phase.ASK_PHONE, 20)
            for digit in MOBILE:
                await call.dtmf(digit)
            await wait_listening(tel, cid, Phase.CONFIRM, 20)
            view = acts.dialogues[cid]
            assert view.progress.match is not None
            assert view.progress.match.label() == ADDRESS_LABEL
            proposed = view.progress.proposed_date
            assert proposed
            await call.say(yes)
            await call.wait_closed(30)
            assert call.bot_hung_up
        handle = client.get_workflow_handle(live_call_workflow_id(cid), result_type=LiveCallResult)
        result = await result_of(handle)
    assert result.outcome == Outcome.CONFIRMED
    assert result.status == "booked"
    assert result.pickup_date == proposed  # the day read to the caller is the day booked
    booking = store(settings).get_by_call(cid)
    assert booking is not None and booking.pickup_date.isoformat() == proposed
    assert {(i.item, i.count) for i in booking.items} == {("canapé", 1), ("chaise", 2)}
    sms = outbox(settings)
    assert len(sms) == 1 and sms[0]["to"] == "+33612345678"
    assert booking.reference in sms[0]["text"]
    # The process's metrics: one call ended confirmed, no transfer, a latency per reply.
    assert await counted(metrics, "encombot_calls_total", outcome="confirmed") == 1
    assert metrics.registry.get_sample_value("encombot_transfers_total") == 0
    replies = metrics.registry.get_sample_value("encombot_turn_latency_seconds_count")
    assert replies is not None and replies >= 3


async def test_barge_in_during_greeting(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = live_settings(base_settings, tmp_path)
    question = turn("question")
    async with telephony(client, settings, stt) as tel:
        async with AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0) as call:
            loop = asyncio.get_running_loop()
            first = await call.wait_for_bot_speech(30)
            await call.silence(1.0)
            start = loop.time()
            speaking = asyncio.create_task(call.say(question))
            ended = await speaking
            # The greeting (about 10 s) stops soon after the caller's voice starts (200 ms of
            # speech, then the frames already on the wire) and stays stopped while they talk.
            assert start - first < 5.0
            spoken = [f.at for f in call.frames if start <= f.at < ended and f.speech]
            assert spoken, "the bot was not speaking when the caller started"
            assert spoken[-1] - start < 1.0, f"greeting went on {spoken[-1] - start:.2f} s"
            # The question is answered (FAQ), then the bot goes back to the address.
            await wait_listening(tel, call.call_id, Phase.ASK_ADDRESS, 60, turns=1)
            assert tel.activities.dialogues[call.call_id].progress.faq_entries == ["gravats"]
        handle = client.get_workflow_handle(
            live_call_workflow_id(call.call_id), result_type=LiveCallResult
        )
        result = await result_of(handle)
    assert result.outcome == Outcome.ANSWERED  # a question, answered, then the caller left


async def test_faq_mid_dialogue_then_back(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = live_settings(base_settings, tmp_path)
    question = turn("question")
    async with telephony(client, settings, stt) as tel:
        acts = tel.activities
        async with AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0) as call:
            cid = call.call_id
            await wait_listening(tel, cid, Phase.ASK_ADDRESS, 40)
            await call.say(caller_turn("address"))
            await wait_listening(tel, cid, Phase.ASK_ITEMS, 40)
            asked = await call.say(question)
            # The answer, then the items question again (the phase stays: count the turns).
            await wait_listening(tel, cid, Phase.ASK_ITEMS, 60, turns=2)
            answer = call.bot_audio(since=asked)
            assert acts.dialogues[cid].progress.faq_entries == ["gravats"]
            faq = acts.faq.answer("Est-ce que vous ramassez les gravats ?")
            assert faq.entry_id == "gravats"
            sounds_like(
                acts, answer, Prompt("faq_answer", {"answer": faq.answer}), Prompt("ask_items")
            )
        handle = client.get_workflow_handle(live_call_workflow_id(cid), result_type=LiveCallResult)
        state = await wait_status(handle, "waiting_agent", 30)
        assert state.progress is not None and state.progress.match is not None
        await close_callback(handle)
        result = await result_of(handle)
    assert result.outcome == Outcome.HANGUP


async def test_ask_for_a_person_is_a_callback_task(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = live_settings(base_settings, tmp_path)
    metrics = Metrics(CollectorRegistry())
    async with telephony(client, settings, stt, metrics) as tel:
        async with AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0) as call:
            cid = call.call_id
            await wait_listening(tel, cid, Phase.ASK_ADDRESS, 40)
            pressed = asyncio.get_running_loop().time()
            await call.dtmf("0")  # "pour parler à un conseiller, tapez 0"
            await call.wait_closed(30)
            assert call.bot_hung_up  # AudioSocket hangup: the dialplan takes the call on
            # Nothing understood yet: the transfer says why, and names nothing of the caller's.
            transfer = transfer_prompt(TransferReason.CALLER_ASKED)
            sounds_like(tel.activities, call.bot_audio(since=pressed), transfer)
        handle = client.get_workflow_handle(live_call_workflow_id(cid), result_type=LiveCallResult)
        state = await wait_status(handle, "waiting_agent", 30)
        assert state.progress is not None
        assert state.progress.outcome == Outcome.TRANSFER
        assert state.progress.transfer_reason == "caller_asked"
        desc = await handle.describe()
        assert desc.search_attributes.get("NeedsAgent") == [True]
        assert desc.search_attributes.get("EscalationReason") == ["live_call_callback"]
        await close_callback(handle)
        result = await result_of(handle)
    assert result.status == "closed" and not result.booking_reference
    assert await counted(metrics, "encombot_calls_total", outcome="transfer") == 1
    assert metrics.registry.get_sample_value("encombot_transfers_total") == 1


async def address_then_transfer(tel: RunningTelephony, call: AudioSocketCaller) -> str:
    """Greeting, the address, then 0 for a person (during the items question): the address the
    bot retained."""
    cid = call.call_id
    await wait_listening(tel, cid, Phase.ASK_ADDRESS, 60)
    await call.say(caller_turn("address"))
    await wait_listening(tel, cid, Phase.ASK_ITEMS, 60, prompt_done=False)
    match = tel.activities.dialogues[cid].progress.match
    await call.dtmf("0")
    await call.wait_closed(30)
    assert call.bot_hung_up
    return match.label() if match else ""


async def test_calls_in_a_row_and_at_once_on_one_process(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    """One telephony process serves call after call, and calls at the same time: the session
    registry, its task queue and the shared Whisper model are not single-use."""
    settings = live_settings(base_settings, tmp_path)
    port = 0
    call_ids: list[str] = []
    async with telephony(client, settings, stt) as tel:
        port = tel.audiosocket_port or 0
        for _ in range(2):  # 0 during the greeting: a person
            async with AudioSocketCaller("127.0.0.1", port) as call:
                call_ids.append(call.call_id)
                await call.wait_for_bot_speech(30)
                await call.dtmf("0")
                await call.wait_closed(30)
                assert call.bot_hung_up
        async with (
            AudioSocketCaller("127.0.0.1", port) as one,
            AudioSocketCaller("127.0.0.1", port) as other,
        ):
            call_ids += [one.call_id, other.call_id]
            labels = await asyncio.gather(
                address_then_transfer(tel, one), address_then_transfer(tel, other)
            )
        assert labels == [ADDRESS_LABEL, ADDRESS_LABEL]
        for cid in call_ids:
            handle = client.get_workflow_handle(
                live_call_workflow_id(cid), result_type=LiveCallResult
            )
            state = await wait_status(handle, "waiting_agent", 30)
            assert state.progress is not None and state.progress.transfer_reason == "caller_asked"
            await close_callback(handle)
            await result_of(handle)
        # Every call let go: nothing held for a call that is over.
        assert tel.activities.dialogues == {}
        assert len(tel.calls.registry) == 0 and tel.calls.active == set()


async def test_hang_up_mid_address_is_a_callback_task_and_silence_is_abandoned(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    """The line drops 2.5 s into the address: what was said so far is transcribed for the
    agent (a callback task; AudioSocket gives no number, the caller may have said it). A
    call that hangs up during the greeting, nothing said, no number: no task nobody could act
    on."""
    settings = live_settings(base_settings, tmp_path)
    async with telephony(client, settings, stt) as tel:
        call = AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0)
        await call.connect()
        cid = call.call_id
        await wait_listening(tel, cid, Phase.ASK_ADDRESS, 40)
        await call.say(caller_turn("address")[: int(8000 * 2 * 2.5)])
        await call.hangup()
        handle = client.get_workflow_handle(live_call_workflow_id(cid), result_type=LiveCallResult)
        await wait_status(handle, "waiting_agent", 60)
        state = await handle.query(STATE_QUERY, result_type=LiveCallState)
        desc = await handle.describe()
        assert state.progress is not None
        cut = [h for h in state.progress.heard if h.endswith("[…]")]
        assert cut and len(cut[0]) > 5, state.progress.heard
        assert desc.search_attributes.get("NeedsAgent") == [True]
        await close_callback(handle)
        result = await result_of(handle, 30)
        assert result.outcome == Outcome.HANGUP
        assert store(settings).get_by_call(cid) is None

        silent = AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0)
        await silent.connect()
        await asyncio.sleep(1.0)  # during the greeting
        await silent.hangup()
        handle = client.get_workflow_handle(
            live_call_workflow_id(silent.call_id), result_type=LiveCallResult
        )
        result = await result_of(handle, 30)
        state = await handle.query(STATE_QUERY, result_type=LiveCallState)
        desc = await handle.describe()
    assert result.outcome == Outcome.HANGUP and result.status == "abandoned"
    assert state.progress is not None and not any(h.strip() for h in state.progress.heard)
    assert desc.search_attributes.get("NeedsAgent") != [True]
    assert any("abandonné" in line for line in state.history), state.history


async def test_stop_drains_then_hangs_up_as_the_service(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    """On stop: a new call goes to the agents at once; a call still running after the drain is
    hung up, recorded as interrupted by the service (not the caller), and routed to a person."""
    settings = live_settings(base_settings, tmp_path)
    settings = settings.model_copy(
        update={"telephony": settings.telephony.model_copy(update={"drain_s": 2.0})}
    )
    stop = asyncio.Event()
    ready: asyncio.Future[RunningTelephony] = asyncio.get_running_loop().create_future()
    async with running_worker(client, settings, stt):
        task = asyncio.create_task(
            run_telephony(client, settings, stop=stop, stt=stt, on_ready=ready.set_result)
        )
        try:
            tel = await asyncio.wait_for(asyncio.shield(ready), 60)
            call = AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0)
            await call.connect()
            cid = call.call_id
            await wait_listening(tel, cid, Phase.ASK_ADDRESS, 40)
            await call.say(caller_turn("address"))
            await wait_listening(tel, cid, Phase.ASK_ITEMS, 60)
            stop.set()
            await asyncio.sleep(0.5)
            late = AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0)
            await late.connect()
            await late.wait_closed(10)  # not taken: straight to the agents
            # No case holds it: a missed call if no agent answers (deploy/asterisk).
            assert await tel.calls.routes.get(late.call_id) == "agents"
            assert not call.bot_hung_up  # still draining
            await call.wait_closed(15)
            assert call.bot_hung_up
            await asyncio.wait_for(task, 30)
            assert await tel.calls.routes.get(cid) == "transfer"
        finally:
            stop.set()
            await task
        handle = client.get_workflow_handle(live_call_workflow_id(cid), result_type=LiveCallResult)
        state = await wait_status(handle, "waiting_agent", 30)
        assert state.progress is not None and state.progress.outcome == Outcome.INTERRUPTED
        assert state.progress.match is not None  # what was understood is kept
        await close_callback(handle)
        result = await result_of(handle)
    assert result.outcome == Outcome.INTERRUPTED


@pytest.mark.timeout(180)
async def test_worker_killed_mid_call_is_a_callback_task(
    client: Client,
    base_settings: Settings,
    dev_server: DevServer,
    stt: SpeechEngine,
    tmp_path: Path,
) -> None:
    settings = live_settings(base_settings, tmp_path)
    port = free_port()
    env = {
        **os.environ,
        "ENCOMBOT_TEMPORAL__ADDRESS": dev_server.address,
        "ENCOMBOT_TEMPORAL__TASK_QUEUE": settings.temporal.task_queue,
        "ENCOMBOT_DATA_DIR": str(settings.data_dir),
        "ENCOMBOT_GEO__CACHE_DIR": str(settings.geo.cache_dir),
        "ENCOMBOT_BOOKING__DATABASE_URL": settings.booking.database_url,
        "ENCOMBOT_TELEPHONY__AUDIOSOCKET_PORT": str(port),
        "ENCOMBOT_TELEPHONY__ROUTE_PORT": "0",
        "ENCOMBOT_TELEPHONY__TTS_CACHE_DIR": str(settings.telephony.tts_cache_dir),
        "ENCOMBOT_TELEPHONY__HEARTBEAT_TIMEOUT_S": "5",
    }
    async with running_worker(client, settings, stt):
        proc = subprocess.Popen(
            [sys.executable, "-m", "workers.cli.main", "telephony"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            ready = await asyncio.wait_for(asyncio.to_thread(_ready_line, proc), 90)
            assert f"audiosocket={port}" in ready, ready
            call = AudioSocketCaller("127.0.0.1", port)
            await call.connect()
            await call.wait_for_bot_speech(30)
            await call.wait_for_bot_quiet(1.5, 40)  # greeting and the address question
            await call.say(caller_turn("address")[: 8000 * 2 * 2])  # mid-address...
            proc.send_signal(signal.SIGKILL)  # ...the telephony process dies
            await asyncio.wait_for(asyncio.to_thread(proc.wait), 10)
            await call.wait_closed(10)
            await call.hangup()
            handle = client.get_workflow_handle(
                live_call_workflow_id(call.call_id), result_type=LiveCallResult
            )
            state = await wait_status(handle, "waiting_agent", 40)
            assert any("interrompu" in line for line in state.history), state.history
            assert state.progress is not None  # the last heartbeat: the dialogue had started
            await close_callback(handle)
            result = await result_of(handle)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert result.outcome == Outcome.INTERRUPTED and not result.booking_reference
    assert store(settings).get_by_call(call.call_id) is None
    assert outbox(settings) == []


def _ready_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "audiosocket=" in line:
            return line
    raise AssertionError("telephony exited: " + "".join(lines[-30:]))
