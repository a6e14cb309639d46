"""VoicemailWorkflow against the real dev server, real Whisper, real activities."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributeKey
from temporalio.worker import Worker

from activities.bookings.calendar_file import load_calendar
from activities.bookings.engine import make_engine
from activities.bookings.store import BookingStore
from activities.speech.engine import SpeechEngine
from corpus import DEMO_DIR
from domain.case_state import WorkflowState
from domain.models import (
    ItemCount,
    ResolveInput,
    ResolveResult,
    SmsReplyInput,
    Status,
    VoicemailInput,
    VoicemailResult,
)
from domain.names import (
    RESOLVE_UPDATE,
    SA_SMS_PHONE_KEY,
    SMS_REPLY_SIGNAL,
    STATE_QUERY,
    VOICEMAIL_WORKFLOW,
    booking_follow_up_workflow_id,
)
from tests.fakes.fake_ovh import FakeOvhApi
from workers.client import submit_voicemail
from workers.dev.demo import wait_settled
from workers.settings import Settings
from workers.worker.composition import stt_activity_methods, stt_worker_queue, workers_running

SA_PHONE_KEY = SearchAttributeKey.for_keyword_list(SA_SMS_PHONE_KEY)

DEMO = {e["id"]: e for e in json.loads((DEMO_DIR / "voicemails.json").read_text("utf-8"))}
CALLER = "+33612345678"
TABLE = [ItemCount("table", 1)]


def case_settings(base: Settings, tmp: Path, **sms: object) -> Settings:
    """Per-test queues and files, so tests never see each other's workflows or SMS."""
    queue = f"t-{uuid.uuid4().hex[:8]}"
    return base.model_copy(
        update={
            "temporal": base.temporal.model_copy(
                update={"task_queue": queue, "stt_task_queue": f"{queue}-stt"}
            ),
            "booking": base.booking.model_copy(
                update={"database_url": f"sqlite:///{tmp / 'bookings.sqlite'}"}
            ),
            "sms": base.sms.model_copy(
                update={
                    "outbox_path": tmp / "outbox.jsonl",
                    "inbox_path": tmp / "inbox.jsonl",
                    "ledger_path": tmp / "ledger.sqlite",
                    **sms,
                }
            ),
        }
    )


def uncertain(settings: Settings) -> Settings:
    """Settings under which no address is sure enough to book without the caller's word."""
    geo = settings.geo.model_copy(update={"book_threshold": 1.5, "confirm_threshold": 0.01})
    return settings.model_copy(update={"geo": geo})


def running_worker(
    client: Client, settings: Settings, stt: SpeechEngine
) -> AbstractAsyncContextManager[list[Worker]]:
    """The session's Whisper model shared by every test's worker; the worker polls its own STT
    queue too, as a worker process does (the audio votes go there)."""
    own = stt_worker_queue(settings)
    return workers_running(
        client,
        settings,
        "all",
        stt_activities=stt_activity_methods(stt, worker_queue=own),
        stt_worker_queue_name=own,
    )


async def refusal(handle: WorkflowHandle[Any, Any], **fields: Any) -> str:
    """Send a correction that must be refused; returns the reason the agent reads."""
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            RESOLVE_UPDATE,
            ResolveInput(agent_id="agent-1", items=TABLE, **fields),
            result_type=ResolveResult,
        )
    return str(refused.value.cause)


def outbox(settings: Settings) -> list[dict[str, str]]:
    path = settings.sms.outbox_path
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


async def outbox_holds(settings: Settings, n: int) -> list[dict[str, str]]:
    """The outbox once it holds `n` SMS (or after 60 s: the caller asserts on it)."""
    for _ in range(300):
        if len(outbox(settings)) >= n:
            break
        await asyncio.sleep(0.2)
    return outbox(settings)


def store(settings: Settings) -> BookingStore:
    return BookingStore(
        make_engine(settings.booking.database_url), load_calendar(settings.booking.calendar_file)
    )


async def submit(
    client: Client,
    settings: Settings,
    demo_id: str,
    call_id: str,
    audio: Path | None = None,
    **options: Any,
):
    return await submit_voicemail(
        client,
        settings,
        call_id=call_id,
        audio_path=audio or DEMO_DIR / DEMO[demo_id]["audio"],
        caller_number=CALLER,
        **options,
    )


async def start_text_message(
    client: Client,
    settings: Settings,
    call_id: str,
    text: str,
    *,
    caller: str = CALLER,
    confirm_timeout_s: int = VoicemailInput.confirm_timeout_s,
) -> WorkflowHandle[Any, VoicemailResult]:
    """A written message (the SMS channel) from `caller`, as the ingress starts it."""
    return await client.start_workflow(
        VOICEMAIL_WORKFLOW,
        VoicemailInput(
            call_id=call_id,
            audio_path="",
            caller_number=caller,
            received_at=datetime.now(UTC).isoformat(),
            stt_task_queue=settings.temporal.stt_task_queue,
            text=text,
            channel="sms",
            confirm_timeout_s=confirm_timeout_s,
        ),
        id=f"voicemail-{call_id}",
        task_queue=settings.temporal.task_queue,
        result_type=VoicemailResult,
    )


async def test_demo_voicemail_is_booked_and_confirmed_by_sms(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    call_id = f"book-{uuid.uuid4().hex[:6]}"
    async with running_worker(client, settings, stt):
        handle, started = await submit(client, settings, "demo01", call_id)
        assert started
        result: VoicemailResult = await asyncio.wait_for(handle.result(), 240)
        # The booking lives on in its own workflow (delivery report, ANNULER, eve reminder),
        # listening to the number the confirmation went to.
        follow_up = client.get_workflow_handle(booking_follow_up_workflow_id(call_id))
        # Its first workflow task publishes the key: waited for (bounded), not raced.
        for _ in range(100):
            desc = await follow_up.describe()
            if desc.typed_search_attributes.get(SA_PHONE_KEY):
                break
            await asyncio.sleep(0.1)
        await follow_up.terminate("test over")
    assert desc.status == WorkflowExecutionStatus.RUNNING
    assert desc.typed_search_attributes.get(SA_PHONE_KEY)
    assert result.status == Status.BOOKED
    assert result.sector == DEMO["demo01"]["expected"]["sector"]
    booking = store(settings).get_by_call(call_id)
    assert booking is not None
    assert booking.reference == result.booking_reference
    assert booking.pickup_date.isoformat() == result.pickup_date
    sms = outbox(settings)
    assert len(sms) == 1
    assert sms[0]["to"] == CALLER
    assert result.booking_reference in sms[0]["text"]
    assert "Chave" in sms[0]["text"]


async def test_same_call_id_twice_makes_one_workflow_one_booking_one_sms(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    call_id = f"dup-{uuid.uuid4().hex[:6]}"
    async with running_worker(client, settings, stt):
        (first, started1), (second, started2) = await asyncio.gather(
            submit(client, settings, "demo01", call_id),
            submit(client, settings, "demo01", call_id),
        )
        assert sorted([started1, started2]) == [False, True]
        result = await asyncio.wait_for(first.result(), 240)
        # After completion too: the same workflow comes back, no second run.
        third, started3 = await submit(client, settings, "demo01", call_id)
        assert not started3
        assert (await third.result()) == result
        run_ids = {(await h.describe()).run_id for h in (first, second, third)}
    assert len(run_ids) == 1
    assert result.status == Status.BOOKED
    assert len(outbox(settings)) == 1
    with store(settings).engine.connect() as conn:
        from sqlalchemy import text

        count = conn.execute(
            text("SELECT count(*) FROM bookings WHERE call_id = :c"), {"c": call_id}
        ).scalar_one()
    assert count == 1


@pytest.mark.parametrize(
    "payload", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt garbage" + bytes(range(256)) * 8]
)
async def test_corrupt_or_empty_audio_escalates_without_retry_loop(
    client: Client,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
    payload: bytes,
) -> None:
    settings = case_settings(base_settings, tmp_path)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(payload)
    async with running_worker(client, settings, stt):
        handle, _ = await submit(client, settings, "demo01", f"bad-{uuid.uuid4().hex[:6]}", bad)
        state, result = await wait_settled(handle, timeout_s=60)
        assert result is None
        assert state.escalation is not None
        assert state.escalation.reason == "audio_unusable"
        # One attempt only: the error is non-retryable.
        history = await handle.fetch_history()
        scheduled = [
            e for e in history.events if e.HasField("activity_task_started_event_attributes")
        ]
        starts = [e.activity_task_started_event_attributes.attempt for e in scheduled]
        assert starts and max(starts) == 1
        desc = await handle.describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING
        sa = desc.typed_search_attributes
        assert any(p.key.name == "NeedsAgent" and p.value is True for p in sa)
        assert any(p.key.name == "EscalationReason" and p.value == "audio_unusable" for p in sa)
        # A callback attempt without answer is recorded, by whom, and the case keeps waiting.
        noted = await handle.execute_update(
            RESOLVE_UPDATE,
            ResolveInput(agent_id="agent-7", action="no_answer"),
            result_type=ResolveResult,
        )
        assert noted.accepted and "tentative 1" in noted.message
        waiting = await handle.query(STATE_QUERY, result_type=WorkflowState)
        assert waiting.status == Status.WAITING_AGENT
        assert any("agent-7: rappel sans réponse" in line for line in waiting.history)
        # The agent listened to the message and types the request in: the workflow resumes.
        res = await handle.execute_update(
            RESOLVE_UPDATE,
            ResolveInput(
                agent_id="agent-7",
                housenumber="12",
                street="Boulevard Chave",
                postcode="13005",
                items=[ItemCount("canapé", 1)],
            ),
            result_type=ResolveResult,
        )
        assert res.accepted
        final = await asyncio.wait_for(handle.result(), 60)
    assert final.status == Status.BOOKED
    assert final.escalations == ["audio_unusable"]


async def test_unknown_street_escalates_and_agent_correction_books(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    call_id = f"unk-{uuid.uuid4().hex[:6]}"
    async with running_worker(client, settings, stt):
        # The bot may offer the closest existing streets by SMS; the caller, who said another
        # one, does not pick any, and the case goes to a person.
        handle, _ = await submit_voicemail(
            client,
            settings,
            call_id=call_id,
            audio_path=DEMO_DIR / DEMO["demo05"]["audio"],
            caller_number=CALLER,
            confirm_timeout_s=3,
        )
        state, result = await wait_settled(handle, timeout_s=240, caller_wait_settles=False)
        assert result is None and state.escalation is not None
        # The street is not in the territory: whatever the bot made of the synthetic voice,
        # it must not book and must hand the case over.
        assert state.escalation.reason in (
            # The closest street of the name lies in another arrondissement than the one
            # said: Whisper's int8 kernels differ by CPU, and on an AMD EPYC it was found.
            "address_conflict",
            "address_not_found",
            "low_confidence",
            "no_address",
            "no_items",
            "unclear_request",
        )
        assert state.booking is None
        assert state.status == Status.WAITING_AGENT

        # Invalid corrections are rejected by the validator, readable, and change nothing.
        assert "Numéro de voie manquant" in await refusal(
            handle, street="Boulevard Chave", postcode="13005"
        )
        assert "hors de toute zone de collecte" in await refusal(
            handle, housenumber="3", street="Rue de Rivoli", postcode="75001"
        )
        # A street the gazetteer does not know is refused by the handler, after a lookup.
        assert "Adresse refusée" in await refusal(
            handle, housenumber="7", street="Impasse des Tilleuls", postcode="13005"
        )
        still = await handle.query(STATE_QUERY, result_type=WorkflowState)
        assert still.status == Status.WAITING_AGENT
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

        ok = await handle.execute_update(
            RESOLVE_UPDATE,
            ResolveInput(
                agent_id="agent-1",
                housenumber="12",
                street="boulevard chave",
                postcode="13005",
                items=TABLE,
            ),
            result_type=ResolveResult,
        )
        assert ok.accepted and "Boulevard Chave" in ok.message
        final = await asyncio.wait_for(handle.result(), 60)
    assert final.status == Status.BOOKED
    assert final.sector == "13205"
    texts = [m["text"] for m in outbox(settings)]
    # The caller was told a person would call back (after an unanswered address choice, or
    # request when the address was not heard, if any), then got the confirmation.
    assert len(texts) in (2, 3)
    asked = ("Répondez 1", "Répondez à ce SMS avec votre adresse")
    assert any(a in texts[0] for a in asked) or len(texts) == 2
    assert "rappel" in texts[-2].lower()
    assert final.booking_reference in texts[-1]
    assert store(settings).get_by_call(call_id) is not None


@pytest.fixture
def fake_ovh() -> Iterator[FakeOvhApi]:
    with FakeOvhApi() as fake:
        yield fake


def job_posts(fake: FakeOvhApi) -> int:
    return sum(1 for method, path in fake.requests if method == "POST" and "/jobs" in path)


async def test_ovh_503_twice_is_retried_and_the_sms_leaves_once(
    client: Client,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
    fake_ovh: FakeOvhApi,
) -> None:
    settings = case_settings(base_settings, tmp_path, backend="ovh", ovh=fake_ovh.settings())
    fake_ovh.fail_next(503, times=2)
    async with running_worker(client, settings, stt):
        handle, _ = await submit(client, settings, "demo01", f"ovh503-{uuid.uuid4().hex[:6]}")
        result = await asyncio.wait_for(handle.result(), 240)
    assert result.status == Status.BOOKED
    assert job_posts(fake_ovh) == 3
    assert len(fake_ovh.jobs) == 1
    job = fake_ovh.jobs[0]
    assert job.receiver == CALLER
    assert job.body["noStopClause"] is True
    assert job.body["senderForResponse"] is True
    assert result.booking_reference in job.message


async def test_ovh_400_escalates_without_retry_loop(
    client: Client,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
    fake_ovh: FakeOvhApi,
) -> None:
    settings = case_settings(base_settings, tmp_path, backend="ovh", ovh=fake_ovh.settings())
    fake_ovh.fail_next(400, times=100, message="Invalid receiver")
    async with running_worker(client, settings, stt):
        handle, _ = await submit(client, settings, "demo01", f"ovh400-{uuid.uuid4().hex[:6]}")
        state, result = await wait_settled(handle, timeout_s=240)
        assert result is None and state.escalation is not None
        assert state.escalation.reason == "sms_failed"
        # The booking is kept: the agent only has to reach the caller.
        assert state.booking is not None and state.booking.reference
        await asyncio.sleep(2)  # a retry loop would show up as more posts by now
    assert job_posts(fake_ovh) == 1
    assert fake_ovh.jobs == []


async def test_uncertain_address_is_confirmed_by_sms_reply(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    # A deployment that never books on its own below certainty makes every heard address
    # uncertain: the workflow must then ask the caller to choose by SMS.
    settings = uncertain(case_settings(base_settings, tmp_path))
    call_id = f"choice-{uuid.uuid4().hex[:6]}"
    async with running_worker(client, settings, stt):
        handle, _ = await submit(client, settings, "demo01", call_id)
        for _ in range(600):
            sms = outbox(settings)
            if sms:
                break
            await asyncio.sleep(0.2)
        assert len(sms) == 1
        assert "Répondez 1 pour" in sms[0]["text"]
        assert "Boulevard Chave" in sms[0]["text"]
        # A reply that is not a choice changes nothing; "1" picks the first address.
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="bonjour ?"))
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text=" 1 "))
        result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == Status.BOOKED
    assert result.escalations == []
    texts = [m["text"] for m in outbox(settings)]
    assert len(texts) == 2 and result.booking_reference in texts[1]


async def test_no_reply_to_the_address_choice_goes_to_an_agent(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = uncertain(case_settings(base_settings, tmp_path))
    async with running_worker(client, settings, stt):
        handle, _ = await submit_voicemail(
            client,
            settings,
            call_id=f"noreply-{uuid.uuid4().hex[:6]}",
            audio_path=DEMO_DIR / DEMO["demo01"]["audio"],
            caller_number=CALLER,
            confirm_timeout_s=2,
        )
        state, result = await wait_settled(handle, timeout_s=240, caller_wait_settles=False)
        assert result is None and state.escalation is not None
        assert state.escalation.reason == "low_confidence"
        assert state.escalation.candidates
        # The agent picks the candidate the caller did not.
        ok = await handle.execute_update(
            RESOLVE_UPDATE,
            ResolveInput(agent_id="agent-3", action="choose", candidate=1),
            result_type=ResolveResult,
        )
        assert ok.accepted
        try:
            final = await asyncio.wait_for(handle.result(), 60)
        except TimeoutError:
            st = await handle.query(STATE_QUERY, result_type=WorkflowState)
            raise AssertionError(f"{st.status} {st.step} {st.history} {st.escalation}") from None
    assert final.status == Status.BOOKED


async def test_question_voicemail_is_answered_from_the_faq(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with running_worker(client, settings, stt):
        handle, _ = await submit(client, settings, "demo03", f"faq-{uuid.uuid4().hex[:6]}")
        result = await asyncio.wait_for(handle.result(), 240)
    assert result.status == Status.ANSWERED
    sms = outbox(settings)
    assert len(sms) == 1
    # The question was about rubble: the answer sends it to a déchèterie, never a booking.
    assert "chèterie" in sms[0]["text"]
    assert result.booking_reference == ""
