"""An agent's work in the real Temporal Web UI, in a real (headless) Chromium: filter the list
on `NeedsAgent = true`, open an escalated voicemail, read what the bot understood (current
details, decoded by the codec server), send the `resolve` Update through the UI's form, and
see the workflow complete with a booking.

Debian's `chromium` driven by python `playwright` with the system executable (no browser
download). Skips with the reason when either is missing. Screenshots go to
tests/artifacts/screenshots/; with ENCOMBOT_UPDATE_DOC_SCREENSHOTS=1 the README's copies in
docs/screenshots/ are refreshed too."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from activities.speech.engine import SpeechEngine
from domain.models import ResolveInput, Status
from tests.conftest import ARTIFACTS, REPO
from tests.workflows.test_voicemail import case_settings, running_worker, submit
from workers.cli.agent import resolve_case
from workers.dev.demo import wait_settled
from workers.dev.devserver import DevServer
from workers.settings import Settings

CHROMIUM = Path(os.environ.get("ENCOMBOT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ARTIFACTS / "screenshots"
DOC_SCREENSHOTS = REPO / "docs" / "screenshots"
DOC_COPIES = (
    "agent-queue.png",
    "agent-case.png",
    "agent-rejected.png",
    "agent-done.png",
    "agent-claimed.png",
    "agent-claim-refused.png",
    "agent-booking.png",
    "agent-booking-moved.png",
    "route-sheet.png",
)
CORRECTION = {
    "agent_id": "agent-42",
    "action": "correct",
    "housenumber": "12",
    "street": "Boulevard Chave",
    "postcode": "13005",
    "items": [{"item": "canapé", "count": 1}],
}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"Chromium not installed at {CHROMIUM} (apt-get install chromium, or ENCOMBOT_CHROMIUM)"
        )
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("python package `playwright` not installed (pip install -e '.[test]')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(
        viewport={"width": 1440, "height": 1000}, timezone_id="Europe/Paris", locale="fr-FR"
    )
    context.set_default_timeout(20_000)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


async def shot(page: Any, name: str) -> None:
    path = SCREENSHOTS / name
    await page.screenshot(path=str(path))
    if os.environ.get("ENCOMBOT_UPDATE_DOC_SCREENSHOTS") == "1" and name in DOC_COPIES:
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / name)


async def filter_agent_queue(page: Any, ui_url: str, workflow_id: str) -> None:
    """The agent's saved view: the raw query `NeedsAgent = true` typed in the list's filter."""
    await page.goto(f"{ui_url}/namespaces/default/workflows")
    await page.get_by_test_id("toggle-manual-query").click()
    box = page.get_by_test_id("workflow-manual-search-input")
    await box.fill("NeedsAgent = true")
    await box.press("Enter")
    await page.wait_for_url("**query=NeedsAgent*")
    link = page.get_by_role("link", name=workflow_id, exact=True)
    for _ in range(20):  # visibility is eventually consistent: refresh until it is listed
        if await link.count():
            return
        await page.get_by_role("button", name="Refresh").click()
        await page.wait_for_timeout(500)
    raise AssertionError(f"{workflow_id} not listed under NeedsAgent = true")


async def show_agent_columns(page: Any) -> None:
    """What an agent adds once to the table (kept by the browser): why, where, since when."""
    await page.get_by_test_id("workflows-summary-table-configuration-button").click()
    for name in ("EscalationReason", "Sector", "WaitingSince"):
        await page.get_by_role("button", name=f"Add {name} column").click()
    for name in ("Run ID", "Type", "End"):
        await page.get_by_role("button", name=f"Remove {name} column").click()
    await page.get_by_role("button", name="Close Workflows Table configuration").click()


async def open_update_form(
    page: Any, correction: Mapping[str, object], update: str = "resolve"
) -> Any:
    """More Actions -> Send an Update -> `update`, the JSON typed into the Data editor."""
    await page.get_by_role("button", name="More Actions").click()
    await page.locator("[data-testid=update-button]:visible").click()
    dialog = page.locator("dialog[open]")
    await dialog.locator("[data-testid=update-select-button]:visible").click()
    await page.get_by_role("option", name=update, exact=True).click()
    await dialog.get_by_role("textbox", name="Data").click()
    await page.keyboard.insert_text(json.dumps(correction, ensure_ascii=False))
    # Leave the editor before submitting: it re-formats the JSON on blur, which moves the
    # Submit button between mouse-down and mouse-up (the click would then miss it).
    await dialog.get_by_test_id("update-id").focus()
    await page.wait_for_timeout(300)
    return dialog


async def escalate(
    client: Client, settings: Settings, demo_id: str, audio: Path | None = None
) -> tuple[Any, str]:
    """Submit a voicemail that the bot cannot finish; (handle, escalation reason)."""
    # An address choice offered by SMS goes unanswered here: the case reaches the agents.
    handle, _ = await submit(
        client, settings, demo_id, f"ui-{uuid.uuid4().hex[:6]}", audio, confirm_timeout_s=3
    )
    state, result = await wait_settled(handle, timeout_s=240, caller_wait_settles=False)
    assert result is None and state.escalation is not None, state
    return handle, state.escalation.reason


async def test_agent_resolves_an_escalated_voicemail_in_the_web_ui(
    page: Any,
    client: Client,
    dev_server: DevServer,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
) -> None:
    settings = case_settings(base_settings, tmp_path)
    async with running_worker(client, settings, stt):
        # demo05: a street that is not in the territory's gazetteer.
        handle, reason = await escalate(client, settings, "demo05")

        await filter_agent_queue(page, dev_server.ui_url, handle.id)
        await show_agent_columns(page)
        row = page.get_by_role("row").filter(has_text=handle.id)
        await row.get_by_text(reason).wait_for()
        await shot(page, "agent-queue.png")

        await page.get_by_role("link", name=handle.id, exact=True).click()
        await page.get_by_test_id("user-metadata-tab").click()
        # Current details, decoded in the browser through the codec server; the UI renders
        # the Markdown in an iframe.
        frame = page.frame_locator("#user-metadata-current-details")
        details = frame.get_by_text("À traiter")
        try:
            await details.first.wait_for()
        finally:
            await shot(page, "agent-case.png")

        dialog = await open_update_form(page, CORRECTION)
        await shot(page, "agent-update.png")
        await dialog.get_by_test_id("confirm-modal-button").click()
        await dialog.wait_for(state="hidden")  # the form closes on success

        result = await asyncio.wait_for(handle.result(), 60)
    assert result.status == Status.BOOKED and result.booking_reference
    assert result.sector == "13205"

    await page.reload()  # the completed run, as an agent coming back to it sees it
    await page.get_by_test_id("timeline-tab").click()
    # The result, decoded through the codec server, with the booking reference.
    await page.get_by_text(result.booking_reference).locator("visible=true").first.wait_for()
    await shot(page, "agent-done.png")
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_the_ui_shows_why_a_correction_is_refused(
    page: Any,
    client: Client,
    dev_server: DevServer,
    base_settings: Settings,
    stt: SpeechEngine,
    tmp_path: Path,
) -> None:
    settings = case_settings(base_settings, tmp_path)
    bad = tmp_path / "unreadable.wav"
    bad.write_bytes(b"")
    async with running_worker(client, settings, stt):
        handle, _ = await escalate(client, settings, "demo01", bad)  # audio_unusable: instant
        await page.goto(f"{dev_server.ui_url}/namespaces/default/workflows/{handle.id}")
        no_number = {k: v for k, v in CORRECTION.items() if k != "housenumber"}
        dialog = await open_update_form(page, no_number)
        await dialog.get_by_test_id("confirm-modal-button").click()
        alert = dialog.get_by_role("alert").filter(has_text="Numéro de voie manquant")
        encoded = dialog.get_by_text("Encoded failure")
        await alert.or_(encoded).first.wait_for()
        await shot(page, "agent-rejected.png")
        assert not await encoded.count(), (
            "the UI shows 'Encoded failure': the resolve validator must raise "
            "ApplicationError(problem, type=domain.disclosure.CORRECTION_REJECTED) so that its "
            "message stays readable (workers/codec/payload.py:EncodedFailureConverter)"
        )
        assert await alert.count()
        # Refused: nothing changed, the case still waits for a person.
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await resolve_case(
            client, handle.id, ResolveInput(agent_id="agent-42", action="close", comment="test")
        )
        await asyncio.wait_for(handle.result(), 30)
