"""A full booking by voice through a real SIP phone: baresip (Debian baresip-core) calls the
telephony process's SIP adapter on 127.0.0.1, G.711 over RTP both ways, and the caller's turns
are played into the call by baresip itself (its aufile audio source, switched to the next turn
over ctrl_tcp once the bot waits for it). It ends, as a voicemail does, in a booking row and an
SMS. The headless baresip harness is tests/workers/telephony/sip/support.py's."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
from temporalio.client import Client

from activities.speech.engine import SpeechEngine
from domain.live_call_models import LiveCallResult, Outcome, Phase
from domain.names import live_call_workflow_id
from tests.fakes.caller_turns import caller_turn
from tests.workers.telephony.sip.support import Baresip, write_wav
from tests.workflows.test_live_call import (
    ADDRESS_LABEL,
    live_settings,
    result_of,
    telephony,
    turn,
    wait_listening,
)
from tests.workflows.test_voicemail import outbox, store
from workers.settings import Settings
from workers.telephony.live import RunningTelephony

pytestmark = pytest.mark.skipif(
    shutil.which("baresip") is None, reason="baresip (Debian baresip-core) not installed"
)

# aufile ends the call when its file ends: each turn is followed by more silence than the bot
# can take to answer, and replaced by the next turn before it runs out.
PAD_S = 90
SILENCE = b"\x00" * 16000 * PAD_S


async def the_call(tel: RunningTelephony, timeout: float) -> str:
    """The call id (the SIP Call-ID) of the one dialogue running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tel.activities.dialogues:
            return next(iter(tel.activities.dialogues))
        await asyncio.sleep(0.05)
    raise AssertionError("no dialogue started for the SIP call")


async def test_full_booking_by_voice_through_baresip(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = live_settings(base_settings, tmp_path)
    settings = settings.model_copy(
        update={
            "telephony": settings.telephony.model_copy(
                update={"sip_enabled": True, "sip_host": "127.0.0.1", "sip_port": 0}
            )
        }
    )
    wavs = tmp_path / "caller"
    wavs.mkdir()
    turns = {"address": caller_turn("address"), "items": caller_turn("items"), "yes": turn("yes")}
    write_wav(wavs / "silence.wav", SILENCE)
    for name, pcm in turns.items():
        write_wav(wavs / f"{name}.wav", pcm + SILENCE)
    phone_dir = tmp_path / "baresip"
    phone_dir.mkdir()
    # baresip's account is the caller id 0612345678, a mobile: the bot does not ask for a
    # number and texts that one.
    phone = Baresip(phone_dir, wavs / "silence.wav")
    async with telephony(client, settings, stt) as tel:
        assert tel.sip_port
        try:
            await phone.start()
            await phone.command("dial", f"sip:bot@127.0.0.1:{tel.sip_port}")
            await phone.wait_event("CALL_ESTABLISHED", 10)
            cid = await the_call(tel, 20)
            proposed = ""
            for name, listening_in, turns_heard in (
                ("address", Phase.ASK_ADDRESS, 0),
                ("items", Phase.ASK_ITEMS, 1),
                ("yes", Phase.CONFIRM, 2),
            ):
                await wait_listening(tel, cid, listening_in, 60, turns=turns_heard)
                if name == "yes":
                    view = tel.activities.dialogues[cid]
                    assert view.progress.match is not None
                    assert view.progress.match.label() == ADDRESS_LABEL, phone.log()
                    proposed = view.progress.proposed_date
                await phone.command("ausrc", f"aufile,{wavs / name}.wav")
            # "C'est noté ..." then the bot hangs up.
            await phone.wait_event("CALL_CLOSED", 40)
        finally:
            await phone.stop()
        handle = client.get_workflow_handle(live_call_workflow_id(cid), result_type=LiveCallResult)
        result = await result_of(handle)
    assert result.outcome == Outcome.CONFIRMED, phone.log()
    assert result.status == "booked"
    assert result.pickup_date == proposed
    booking = store(settings).get_by_call(cid)
    assert booking is not None and booking.pickup_date.isoformat() == proposed
    assert {(i.item, i.count) for i in booking.items} == {("canapé", 1), ("chaise", 2)}
    sms = outbox(settings)
    assert len(sms) == 1 and sms[0]["to"] == "+33612345678"
    assert booking.reference in sms[0]["text"]
    # baresip heard the bot (the sndfile dump of what it decoded is not silence).
    heard = phone.heard()
    assert len(heard) > 16000 * 5, phone.log()
