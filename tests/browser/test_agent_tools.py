"""What an agent does with the issue-20 tools in the real Temporal Web UI, in headless Chromium:
claims an escalated voicemail (Update `claim`), sees who holds it in the current details, plays
the message through its signed link (served by the codec server), sees a second agent refused;
opens a booking's follow-up, reads the booking in its details and moves it (Update
`change_booking`), the caller texted; and the crews' printable route sheet rendered by the
browser, with its map.

Screenshots as in test_agent_ui.py (ENCOMBOT_UPDATE_DOC_SCREENSHOTS=1 refreshes the README's)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities.route_sheets.export import RouteSheetActivities
from activities.speech.engine import SpeechEngine
from corpus import DEMO_DIR
from domain.models import ResolveInput
from tests.browser.test_agent_ui import browser, escalate, open_update_form, page, shot
from tests.workflows.test_booking_follow_up import book, sent, start_follow_up
from tests.workflows.test_voicemail import DEMO, case_settings, running_worker, store
from workers.cli.agent import resolve_case
from workers.codec.server import RunningCodecServer
from workers.dev.devserver import DevServer
from workers.settings import Settings
from workers.worker.composition import workers_running

__all__ = ["browser", "page"]  # the fixtures, shared with test_agent_ui.py


async def user_metadata(page: Any, ui_url: str, workflow_id: str) -> Any:
    await page.goto(f"{ui_url}/namespaces/default/workflows/{workflow_id}")
    await page.get_by_test_id("user-metadata-tab").click()
    return page.frame_locator("#user-metadata-current-details")


async def send(page: Any, update: str, body: dict[str, object]) -> Any:
    dialog = await open_update_form(page, body, update)
    await dialog.get_by_test_id("confirm-modal-button").click()
    return dialog


async def test_agent_claims_plays_and_is_protected_from_a_second_agent(
    page: Any,
    client: Client,
    dev_server: DevServer,
    codec_server: RunningCodecServer,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
) -> None:
    settings = case_settings(base_settings, tmp_path)
    settings = settings.model_copy(
        update={
            "agents": settings.agents.model_copy(update={"audio_link_base_url": codec_server.url})
        }
    )
    # The voicemail kept where the ingress keeps them: the audio directory.
    settings.audio_dir.mkdir(parents=True, exist_ok=True)
    audio = settings.audio_dir / f"vm-{uuid.uuid4().hex}.wav"
    shutil.copyfile(DEMO_DIR / DEMO["demo05"]["audio"], audio)
    async with running_worker(client, settings, stt):
        handle, _ = await escalate(client, settings, "demo05", audio)
        frame = await user_metadata(page, dev_server.ui_url, handle.id)
        await frame.get_by_text("Libre").first.wait_for()

        dialog = await send(page, "claim", {"agent_id": "agent-42"})
        await dialog.wait_for(state="hidden")
        frame = await user_metadata(page, dev_server.ui_url, handle.id)
        await frame.get_by_text("Pris par agent-42").first.wait_for()
        listen = frame.get_by_role("link", name="▶ écouter")
        await listen.wait_for()
        await frame.get_by_text("+33612345678").first.wait_for()  # the caller, to call back
        await shot(page, "agent-claimed.png")

        # Play it: the signed link opens the message in the browser's player.
        href = await listen.get_attribute("href")
        assert href and href.startswith(f"{codec_server.url}/audio/") and "sig=" in href
        player = await page.context.new_page()
        response = await player.goto(href)
        assert response is not None and response.status == 200
        assert response.headers["content-type"].startswith("audio/")
        duration = await player.evaluate(
            """() => new Promise((resolve) => {
                const media = document.querySelector('video, audio');
                if (!media) return resolve(-1);
                if (media.readyState >= 1) return resolve(media.duration);
                media.addEventListener('loadedmetadata', () => resolve(media.duration));
                media.addEventListener('error', () => resolve(-2));
            })"""
        )
        assert duration > 1.0, duration  # the demo message lasts several seconds
        await player.close()

        # A second agent is refused, readably, and the case stays with the first.
        dialog = await send(page, "claim", {"agent_id": "agent-43"})
        alert = dialog.get_by_role("alert").filter(has_text="Dossier pris par agent-42")
        await alert.first.wait_for()
        await shot(page, "agent-claim-refused.png")
        await resolve_case(
            client, handle.id, ResolveInput(agent_id="agent-42", action="close", comment="test")
        )
        await asyncio.wait_for(handle.result(), 30)


async def test_agent_moves_a_booking_in_the_web_ui(
    page: Any, client: Client, dev_server: DevServer, base_settings: Settings, tmp_path: Path
) -> None:
    settings = case_settings(base_settings, tmp_path)
    booking_store = store(settings)
    reference, pickup = book(booking_store, f"ui-{uuid.uuid4().hex[:6]}")
    days = booking_store.calendar.candidate_dates("13205", datetime.now(UTC).astimezone())
    later = next(d.isoformat() for d in days if d.isoformat() > pickup)
    async with workers_running(client, settings, "default"):
        handle = await start_follow_up(client, settings, reference, pickup, reminder_in_s=3600)
        frame = await user_metadata(page, dev_server.ui_url, handle.id)
        await frame.get_by_text(f"Réservation {reference}").first.wait_for()
        await shot(page, "agent-booking.png")

        # A day that is not a collection day: refused, readable.
        dialog = await send(
            page, "change_booking", {"agent_id": "agent-42", "action": "move", "pickup_date": "x"}
        )
        await dialog.get_by_role("alert").filter(has_text="Nouvelle date").first.wait_for()
        await dialog.get_by_test_id("cancel-modal-button").click()
        await user_metadata(page, dev_server.ui_url, handle.id)  # a fresh form

        body = {"agent_id": "agent-42", "action": "move", "pickup_date": later}
        dialog = await send(page, "change_booking", body)
        await dialog.wait_for(state="hidden")
        frame = await user_metadata(page, dev_server.ui_url, handle.id)
        await frame.get_by_text(f"({later})").first.wait_for()
        await frame.get_by_text("SMS envoyé").first.wait_for()
        await shot(page, "agent-booking-moved.png")
    stored = booking_store.get_by_reference(reference)
    assert stored is not None and stored.pickup_date.isoformat() == later
    [sms] = sent(settings, ":change-1")
    assert "déplacé" in sms["text"]
    await handle.terminate("test over")


async def test_route_sheet_renders_in_the_browser(
    page: Any, base_settings: Settings, tmp_path: Path
) -> None:
    from domain.route_sheets import RouteSheetExportInput
    from tests.activities.test_route_sheets import FRIDAY, THURSDAY_CUTOFF, book_friday

    settings = case_settings(base_settings, tmp_path)
    booking_store = store(settings)
    booking_store.create_schema()
    refs = book_friday(booking_store)
    rs = settings.route_sheets.model_copy(update={"output_dir": tmp_path / "sheets"})
    RouteSheetActivities(booking_store, rs).export_route_sheets(
        RouteSheetExportInput(now=THURSDAY_CUTOFF)
    )
    html = tmp_path / "sheets" / FRIDAY.isoformat() / f"tournee-{FRIDAY.isoformat()}-13205.html"
    await page.goto(html.as_uri())
    assert (await page.get_by_test_id("load").inner_text()).strip() == "3 / 25 enlèvements"
    rows = page.get_by_test_id("stops").locator("tbody tr")
    assert await rows.count() == 3
    assert {(await rows.nth(i).locator("td.ref").inner_text()) for i in range(3)} == set(refs)
    numbers = page.locator("[data-testid=map] svg text")
    assert {await numbers.nth(i).text_content() for i in range(await numbers.count())} >= {
        "1",
        "2",
        "3",
    }
    box = await page.get_by_test_id("map").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200  # drawn, not empty
    await page.emulate_media(media="print")
    await shot(page, "route-sheet.png")
