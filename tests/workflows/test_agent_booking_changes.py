"""An agent changes a booking through its follow-up workflow, on the real dev server with the
real activities (SQLite store, outbox SMS): the follow-up publishes the keyed hashes an agent
finds it by and shows the booking; `change_booking` moves it (the caller gets the SMS, the audit
trail says agent:<id>, the reminder follows the new day), refuses a full day or a bad date with a
readable message and changes nothing, changes the items, and cancels it (place freed, SMS, the
follow-up ends cancelled)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey

from activities.booking_changes import number_key, reference_key
from activities.messaging.phone_keys import phone_key_secret
from domain import names
from domain.booking_changes import BookingChangeInput, BookingChangeResult
from domain.booking_models import FollowUpResult
from domain.models import ItemCount
from tests.workflows.test_booking_follow_up import CALLER, book, sent, start_follow_up
from tests.workflows.test_claims import details
from tests.workflows.test_voicemail import case_settings, store
from workers.settings import Settings
from workers.worker.composition import workers_running

SA_BOOKING_KEYS = SearchAttributeKey.for_keyword_list(names.SA_BOOKING_KEYS)


async def change(handle: WorkflowHandle[Any, Any], **fields: Any) -> BookingChangeResult:
    return await handle.execute_update(
        names.CHANGE_BOOKING_UPDATE,
        BookingChangeInput(agent_id="agent-7", **fields),
        result_type=BookingChangeResult,
    )


async def refusal(handle: WorkflowHandle[Any, Any], **fields: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await change(handle, **fields)
    return str(failure.value.cause)


async def test_agent_moves_changes_and_cancels_a_booking(
    client: Client, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    booking_store = store(settings)
    reference, pickup = book(booking_store, f"chg-{tmp_path.name[-6:]}")
    days = [
        d.isoformat()
        for d in booking_store.calendar.candidate_dates("13205", datetime.now(UTC).astimezone())
    ]
    later = next(d for d in days if d > pickup)
    secret = phone_key_secret(settings.sms, settings.data_dir)
    async with workers_running(client, settings, "default"):
        handle = await start_follow_up(client, settings, reference, pickup, reminder_in_s=3600)
        # Found by the keyed hashes of its reference and of the caller's number.
        ref_key, num_key = (
            reference_key(reference.lower(), secret),
            number_key("06 12 34 56 78", secret),
        )
        for _ in range(100):
            keys = (await handle.describe()).typed_search_attributes.get(SA_BOOKING_KEYS) or []
            if keys:
                break
            await asyncio.sleep(0.05)
        assert ref_key in keys and num_key in keys and reference not in str(keys)
        text = await details(handle)
        assert f"Réservation {reference} — prévue" in text and "change_booking" in text

        assert "pickup_date" in await refusal(handle, action="move", pickup_date="demain")
        assert "Action inconnue" in await refusal(handle, action="reporter")
        assert "raison (comment)" in await refusal(handle, action="cancel")
        assert "Pas de collecte" in await refusal(
            handle, action="move", pickup_date=_wednesday_after(later)
        )

        # The target day made full: refused, nothing moved, no SMS.
        booking_store.set_capacity("13205", datetime.fromisoformat(later).date(), 0)
        assert "complet" in await refusal(handle, action="move", pickup_date=later)
        assert booking_store.get_by_reference(reference).pickup_date.isoformat() == pickup  # type: ignore[union-attr]
        booking_store.set_capacity("13205", datetime.fromisoformat(later).date(), 25)

        moved = await change(handle, action="move", pickup_date=later, comment="absent")
        assert moved.accepted and moved.sms_sent and moved.pickup_date == later
        stored = booking_store.get_by_reference(reference)
        assert stored is not None and stored.pickup_date.isoformat() == later
        events = booking_store.events(stored.id)
        assert [(e["actor"], e["action"]) for e in events][-1] == ("agent:agent-7", "moved")
        [sms] = sent(settings, ":change-1")
        assert sms["to"] == CALLER and "déplacé" in sms["text"] and reference in sms["text"]
        assert "**Date** :" in await details(handle) and later in await details(handle)

        items = await change(
            handle, action="items", items=[ItemCount("frigo", 1), ItemCount("chaises", 2)]
        )
        assert items.accepted and [(i.item, i.count) for i in items.items] == [
            ("réfrigérateur", 1),
            ("chaise", 2),
        ]
        [sms] = sent(settings, ":change-2")
        assert "1 réfrigérateur, 2 chaises" in sms["text"]
        assert "pas collecté" in await refusal(handle, action="items", items=[ItemCount("pneu", 4)])
        assert "au plus" in await refusal(handle, action="items", items=[ItemCount("chaise", 9)])

        day = datetime.fromisoformat(later).date()
        used = booking_store.slot("13205", day).used  # type: ignore[union-attr]
        cancelled = await change(handle, action="cancel", comment="a tout donné")
        assert cancelled.accepted and cancelled.status == "cancelled"
        assert booking_store.slot("13205", day).used == used - 1  # type: ignore[union-attr]
        [sms] = sent(settings, ":change-3")
        assert "annulé" in sms["text"]
        result: FollowUpResult = await asyncio.wait_for(handle.result(), 30)
        assert result.status == "cancelled"


def _wednesday_after(day: str) -> str:
    from datetime import date, timedelta

    d = date.fromisoformat(day)
    return (d + timedelta(days=(2 - d.weekday()) % 7 or 7)).isoformat()
