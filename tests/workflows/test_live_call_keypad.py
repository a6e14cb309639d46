"""A live call end to end (see test_live_call.py) by a caller who keeps to the keypad for
everything a machine may mishear: the house number (`#` ends it), the postcode, the mobile
number and the final yes; only the street and the items are said."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from activities.speech.engine import SpeechEngine
from domain.live_call_models import LiveCallResult, Outcome, Phase
from domain.names import live_call_workflow_id
from tests.fakes.audiosocket_client import AudioSocketCaller
from tests.workflows.test_live_call import (
    ADDRESS_LABEL,
    MOBILE,
    live_settings,
    result_of,
    telephony,
    turn,
    wait_listening,
)
from tests.workflows.test_voicemail import store
from workers.settings import Settings


async def keys(call: AudioSocketCaller, digits: str) -> None:
    for digit in digits:
        await call.dtmf(digit)


async def test_keypad_for_number_postcode_and_yes(
    client: Client, base_settings: Settings, stt: SpeechEngine, tmp_path: Path
) -> None:
    settings = live_settings(base_settings, tmp_path)
    street, items = turn("street"), turn("items")
    async with telephony(client, settings, stt) as tel:
        acts = tel.activities
        call = AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0)
        cid = call.call_id
        async with call:
            await wait_listening(tel, cid, Phase.ASK_ADDRESS, 40)
            await keys(call, "12#")
            await wait_listening(tel, cid, Phase.ASK_STREET, 20)
            await call.say(street)
            await wait_listening(tel, cid, Phase.ASK_POSTCODE, 40)
            await keys(call, "13005")
            await wait_listening(tel, cid, Phase.ASK_ITEMS, 40)
            await call.say(items)
            await wait_listening(tel, cid, Phase.ASK_PHONE, 40)
            await keys(call, MOBILE)
            await wait_listening(tel, cid, Phase.CONFIRM, 20)
            view = acts.dialogues[cid]
            assert view.progress.match is not None
            assert view.progress.match.label() == ADDRESS_LABEL
            assert view.progress.heard[:3] == ["[DTMF 12#]", view.progress.heard[1], "[DTMF 13005]"]
            proposed = view.progress.proposed_date
            await keys(call, "1")
            await call.wait_closed(30)
            assert call.bot_hung_up
        handle = client.get_workflow_handle(live_call_workflow_id(cid), result_type=LiveCallResult)
        result = await result_of(handle)
    assert result.outcome == Outcome.CONFIRMED and result.status == "booked"
    booking = store(settings).get_by_call(cid)
    assert booking is not None and booking.pickup_date.isoformat() == proposed
