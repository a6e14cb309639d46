"""The live-call activity: runs the dialogue (domain/dialogue/) over one call's media.

It runs in the telephony process that holds the call (workers/telephony/live.py), on that
process's own task queue: the media session cannot move. Long-running and async: the event
loop paces the bot's audio and reads the caller's, while the CPU work of a turn
(speech-to-text, geocoding, the FAQ, speech synthesis) goes to threads. It heartbeats the
dialogue's progress, so that if this process dies the workflow still knows what the caller
had said; it is cancellable (the bot hangs up).

The engine is activities/live/: the caller's turns (turn-taking, speculative transcription:
turns.py), the work of a turn (work.py), the dialogue loop (runner.py), the calls this process
holds (session.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.booking import BookingStore
from activities.live.runner import CallRunner
from activities.live.session import CallView, SessionRegistry
from activities.live.turns import TurnTaking
from activities.live.work import VOICE_TEMPLATES_DIR, AddressLookup, CallWork, FaqAnswers
from activities.speech.engine import SpeechEngine
from activities.speech.tts import Tts
from domain import names
from domain.catalogue import Catalogue
from domain.dialogue import Dialogue
from domain.live_call_models import LiveCallActivityInput, LiveCallProgress

__all__ = ["CALL_NOT_HELD", "LIVE_CALL_FAILED", "LiveCallActivities"]

log = logging.getLogger(__name__)

# The call is not held by this process (it ended before the dialogue started, or the
# activity reached another process): nothing to retry.
CALL_NOT_HELD = "CallNotHeld"
# The dialogue itself failed (a bug); the error's details hold the progress.
LIVE_CALL_FAILED = "LiveCallFailed"


class LiveCallActivities(CallWork):
    """The `run_live_call` activity over the calls this process holds; the work of the turns
    (CallWork) is its own, so the telephony process builds one object."""

    def __init__(
        self,
        registry: SessionRegistry,
        tts: Tts,
        stt: SpeechEngine,
        catalogue: Catalogue,
        geocode: AddressLookup,
        store: BookingStore,
        faq: FaqAnswers,
        *,
        service_name: str,
        agent_phone: str,
        turns: TurnTaking | None = None,
        templates_dir: Path = VOICE_TEMPLATES_DIR,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(
            tts, stt, geocode, store, faq, turns=turns, templates_dir=templates_dir, clock=clock
        )
        self.registry = registry
        self.catalogue = catalogue
        self.service_name = service_name
        self.agent_phone = agent_phone
        # The dialogues running in this process, by call id: where each stands and whether it
        # is listening (ops, tests).
        self.dialogues: dict[str, CallView] = {}

    @activity.defn(name=names.RUN_LIVE_CALL)
    async def run_live_call(self, inp: LiveCallActivityInput) -> LiveCallProgress:
        session = self.registry.take(inp.call_id)
        if session is None:
            raise ApplicationError(
                "L'appel n'est pas (ou plus) tenu par ce processus.",
                type=CALL_NOT_HELD,
                non_retryable=True,
            )
        dialogue = Dialogue(
            self.catalogue,
            inp.caller_number or (session.caller or ""),
            service_name=self.service_name,
            agent_phone=self.agent_phone,
            territory=self.geocode.territory,
            book_threshold=self.geocode.book_threshold,
            confirm_threshold=self.geocode.confirm_threshold,
        )
        call = CallRunner(self, session, dialogue, inp.max_call_s)
        self.dialogues[inp.call_id] = call.view
        try:
            return await call.run()
        except asyncio.CancelledError:
            # The workflow gave up on the call (or the worker is shutting down): the caller
            # must not be left on a silent line.
            with contextlib.suppress(Exception):
                await asyncio.shield(session.hangup())
            raise
        except Exception as exc:
            # A bug must not leave the caller on a dead line, nor lose what they said: the
            # progress travels with the error to the workflow, which hands it to a person.
            log.exception("live call %s: dialogue failed", inp.call_id)
            with contextlib.suppress(Exception):
                await session.hangup()
            raise ApplicationError(
                f"Dialogue interrompu : {type(exc).__name__}",
                dialogue.progress,
                type=LIVE_CALL_FAILED,
                non_retryable=True,
            ) from exc
        finally:
            self.dialogues.pop(inp.call_id, None)
            self.registry.release(inp.call_id)
