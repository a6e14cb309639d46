"""VoicemailWorkflow's SMS-reply handler is bounded (issue 18, point 4): a caller who floods
the case with SMS while it waits for their address choice leaves its state query small, and
their "1" still picks the address and books (real dev server, text channel, real activities)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from temporalio.client import Client

from domain.case_state import WorkflowState
from domain.models import SmsReplyInput, Status
from domain.names import SMS_REPLY_SIGNAL, STATE_QUERY
from tests.workflows.test_voicemail import (
    case_settings,
    outbox,
    start_text_message,
    uncertain,
)
from workers.settings import Settings
from workers.worker.composition import workers_running
from workflows.voicemail_state import MAX_SMS_REPLIES

FLOOD = 400


async def test_sms_flood_while_the_address_choice_waits(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = uncertain(case_settings(base_settings, tmp_path))
    call_id = f"vmflood-{uuid.uuid4().hex[:6]}"
    async with workers_running(client, settings, "default"):
        handle = await start_text_message(
            client,
            settings,
            call_id,
            "Bonjour, un canapé à enlever au 12 boulevard Chave, 13005 Marseille.",
        )
        for _ in range(300):
            if outbox(settings):
                break
            await asyncio.sleep(0.2)
        assert "Répondez 1 pour" in outbox(settings)[0]["text"]
        gate = asyncio.Semaphore(50)

        async def one(i: int) -> None:
            async with gate:
                await handle.signal(
                    SMS_REPLY_SIGNAL, SmsReplyInput(text=f"pardon ? {i}", message_id=f"p{i}")
                )

        await asyncio.gather(*(one(i) for i in range(FLOOD)))
        state = await handle.query(STATE_QUERY, result_type=WorkflowState)
        assert state.status == Status.WAITING_CALLER
        received = [line for line in state.history if line.startswith("réponse")]
        assert len(received) <= MAX_SMS_REPLIES + 1, len(received)
        await handle.signal(SMS_REPLY_SIGNAL, SmsReplyInput(text="1", message_id="choice"))
        result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == Status.BOOKED
