"""A live call's dialogue run over its media: the pure state machine of domain/dialogue/
fed with the caller's turns (turns.py), its lookups done in threads (work.py), its prompts
played, its progress heartbeated so that if this process dies the workflow still knows what
the caller had said."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from temporalio import activity

from activities.live.session import CallView
from activities.live.turns import Keys, NoInput, Turn, TurnListener, Utterance
from activities.live.vote_audio import VoteAudio
from activities.live.work import CallWork
from domain.dialogue import Dialogue, Lookup, LookupKind, Prompt, Step
from domain.live_call_models import LiveCallProgress, Phase
from domain.media import SAMPLE_RATE, Hangup, MediaSession

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 2.0
# Speech that starts this soon after the bot began to reply is no reaction to the reply: nobody
# reacts to its first syllables. A turn that follows another within TurnTaking.resume_ms and
# starts before that is the rest of the other; one started later is the caller's answer (to
# « un instant » too: a caller who talks over it is heard as before).
REACTION_S = 0.3
# What the bot says when the reply is late (TurnTaking.ack_ms): where an address is asked, « Un
# instant. » (its lookup and vote take seconds more; a question asked there hears it too, so
# it names nothing); at the items, a note being taken (their vote takes seconds); elsewhere a
# plain « D'accord. ». None claims the answer was understood. An acknowledgement holds a
# reply like « un instant »: a caller who speaks 0.3 s into it is answering it (REACTION_S),
# so with ACK_MS the window for going on (RESUME_MS) ends then.
ACK_MOMENT = "ack_moment"
ACKS = {
    Phase.GREETING: ACK_MOMENT,
    Phase.ASK_ADDRESS: ACK_MOMENT,
    Phase.ASK_STREET: ACK_MOMENT,
    Phase.ASK_NUMBER: ACK_MOMENT,
    Phase.SPELL_STREET: ACK_MOMENT,
    Phase.ASK_POSTCODE: ACK_MOMENT,
    Phase.ASK_ITEMS: "ack_items",
}
ACK = "ack"


@dataclass
class _Answered:
    """The caller's last spoken turn, and the call as it was before it, while the caller may
    still go on with it."""

    state: dict[str, Any]  # Dialogue.checkpoint() before the turn
    audio: VoteAudio  # the vote's audio before the turn
    expect: str
    pcm: bytes
    started_at: float
    ended_on_line: float


class CallRunner:
    """One call's dialogue loop."""

    def __init__(
        self, acts: CallWork, session: MediaSession, dialogue: Dialogue, max_call_s: int
    ) -> None:
        self.acts = acts
        self.session = session
        self.dialogue = dialogue
        self.turns = acts.turns
        self.max_call_s = max_call_s
        self._last_turn_end: float | None = None
        # The last address answer's audio and the last answer's, for the address or items vote.
        self.audio = VoteAudio()
        self.view = CallView(dialogue.progress)
        self._expect = ""
        self.listener = TurnListener(session, self.turns, acts.transcribe, self.view)
        self._answered: _Answered | None = None
        self._replied_at: float | None = None  # when the bot began to reply to the last turn
        # The acknowledgement of the last turn, waiting for its moment or being said.
        self._ack: asyncio.Task[None] | None = None
        # The acknowledgement said for the turn being answered ("": none), until the answer.
        self._ack_said = ""
        self._answer_from: float | None = None  # the turn's end, until the answer is queued

    async def run(self) -> LiveCallProgress:
        heartbeat = asyncio.create_task(self._heartbeat())
        deadline = time.monotonic() + self.max_call_s
        try:
            step = self.dialogue.start()
            while True:
                self._beat()
                if step.lookup is not None:
                    step = await self._lookup(step.lookup)
                    continue
                turn = await self._speak_and_listen(step)
                if step.hang_up:
                    if not isinstance(turn, Hangup):
                        await self.session.hangup()
                    else:
                        self.dialogue.on_transfer_dropped()
                    break
                if isinstance(turn, Hangup):
                    await self._keep_cut_off()
                    self.dialogue.on_hangup()
                    break
                if time.monotonic() > deadline:
                    step = self.dialogue.on_timeout()
                elif isinstance(turn, Utterance):
                    turn = self._went_on(turn)
                    self._replied_at = None
                    self._last_turn_end = self._answer_from = turn.ended_at
                    self._acknowledge_unless_answered(turn.ended_at)
                    self.audio.heard(turn.pcm, self.dialogue.phase)
                    text = await (
                        turn.transcript
                        or asyncio.to_thread(self.acts.transcribe, turn.pcm, self._expect)
                    )
                    when = "during" if turn.transcript is not None else "after"
                    self.acts.transcribed[when] += 1
                    log.info(
                        "live call %s: heard %d chars, %.2f s after the pause (transcribed %s it)",
                        self.session.call_id,
                        len(text),
                        time.monotonic() - turn.ended_at,
                        when,
                    )
                    step = self.dialogue.on_utterance(text)
                    self.view.progress = self.dialogue.progress
                elif isinstance(turn, Keys):
                    self._answered, self._replied_at = None, None
                    self._last_turn_end = self._answer_from = time.monotonic()
                    step = self.dialogue.on_dtmf(turn.digits)
                else:
                    self._answered, self._replied_at = None, None
                    step = self.dialogue.on_silence()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if self._ack is not None:
                self._ack.cancel()  # the call is over: whatever it left unsaid stays so
        self._beat()
        return self.dialogue.progress

    def _went_on(self, turn: Utterance) -> Utterance:
        """The turn as the dialogue is to hear it. One the caller began within resume_ms of
        the end of their last, before they could react to the bot's reply, is the rest of that
        one (a pause inside the address longer than the pause rule's: « je suis au quarante…
        avenue du Prado »): the call goes back to where it was before the last turn, and hears
        the two as one. Nothing the bot did with the half is kept."""
        before = self._answered
        window = self.turns.resume_ms / 1000
        if window <= 0:
            return turn
        if (
            before is not None
            and turn.started_at > 0
            and before.ended_on_line > 0
            and 0 <= turn.started_at - before.ended_on_line <= window
            and (self._replied_at is None or turn.started_at < self._replied_at + REACTION_S)
            and len(before.pcm) + len(turn.pcm) <= self.turns.max_utterance_s * SAMPLE_RATE * 2
            # Being stopped (workers/telephony/live.py: drain): that mark is not to be undone.
            and not self.dialogue.progress.outcome
        ):
            log.info(
                "live call %s: the caller went on %.2f s after the end of the turn: heard as one",
                self.session.call_id,
                turn.started_at - before.ended_on_line,
            )
            self.acts.went_on += 1
            if self.acts.metrics is not None:
                self.acts.metrics.turn_went_on()
            self.dialogue.restore(before.state)
            self.audio = copy.deepcopy(before.audio)
            self._expect = before.expect
            self.view.progress = self.dialogue.progress
            # The rest's own speculative transcript is dropped (its thread runs out): Whisper
            # hears the whole again.
            turn = Utterance(
                before.pcm + turn.pcm, turn.ended_at, None, before.started_at, turn.ended_on_line
            )
            # The checkpoint stays the one before the first half: the caller may go on again.
            self._answered = replace(before, pcm=turn.pcm, ended_on_line=turn.ended_on_line)
            return turn
        self._answered = _Answered(
            self.dialogue.checkpoint(),
            copy.deepcopy(self.audio),
            self._expect,
            turn.pcm,
            turn.started_at,
            turn.ended_on_line,
        )
        return turn

    async def _lookup(self, lookup: Lookup) -> Step:
        if lookup.kind == LookupKind.ADDRESS:
            candidates, geo = await asyncio.to_thread(self.acts.lookup_address, lookup)
            pcm = self.audio.for_address(lookup)
            if candidates.candidates and pcm and self.dialogue.vote_wanted(geo):
                # Seconds of CPU: the caller hears that the bot is on it.
                await self._one_moment(ACK_MOMENT)
                self.audio.voted(lookup)
                try:
                    geo = await asyncio.to_thread(self.acts.vote_address, lookup, candidates, pcm)
                except Exception as exc:
                    # The words' own result stands (the postcode, then the spelling, are
                    # asked): a failed vote must not hang up on the caller. Class only.
                    log.error(
                        "live call %s: address vote failed (%s)",
                        self.session.call_id,
                        exc.__class__.__name__,
                    )
            return self.dialogue.on_address(geo)
        if lookup.kind == LookupKind.SPELLED:
            # Letters are no audio to vote on among addresses: the street is the gazetteer's.
            self.audio.drop()
            street = await asyncio.to_thread(self.acts.spelled_street, lookup)
            return self.dialogue.on_spelled(street)
        if lookup.kind == LookupKind.ITEMS:
            pcm = self.audio.take()
            await self._one_moment("ack_items")  # seconds of CPU, as for the address
            heard = await asyncio.to_thread(self.acts.hear_items, lookup, pcm)
            return self.dialogue.on_items(heard)
        if lookup.kind == LookupKind.SLOT:
            day = await asyncio.to_thread(self.acts.first_free_day, lookup.sector)
            return self.dialogue.on_slot(day)
        faq = await asyncio.to_thread(self.acts.answer, lookup.text)
        return self.dialogue.on_faq(faq)

    def _acknowledge_unless_answered(self, ended_at: float) -> None:
        """Whisper on 2 cores takes about as long as the pause: a caller left in silence
        after their turn wonders whether they were heard. When nothing has been said ack_ms
        after the end of the turn, a short acknowledgement is; the answer follows it."""
        self._ack_said = ""
        if self._ack is not None:
            self._ack.cancel()
            self._ack = None
        if self.turns.ack_ms <= 0:
            return
        prompt = Prompt(ACKS.get(self.dialogue.phase, ACK))
        delay = max(0.0, ended_at + self.turns.ack_ms / 1000 - time.monotonic())
        self._ack = asyncio.create_task(self._acknowledge(prompt, delay))

    async def _acknowledge(self, prompt: Prompt, delay: float) -> None:
        await asyncio.sleep(delay)
        self._ack_said = prompt.template  # from here on the answer waits for it
        try:
            await self._play([prompt])
        except Exception as exc:
            # A courtesy: its failure must not end the call (the answer is played after it).
            log.error(
                "live call %s: acknowledgement failed (%s)",
                self.session.call_id,
                exc.__class__.__name__,
            )
            return
        self.acts.acknowledged += 1
        if self.acts.metrics is not None:
            self.acts.metrics.turn_acknowledged()

    async def _acknowledged(self) -> str:
        """The turn's acknowledgement is out of the way: queued before the answer if it has
        begun, dropped if the answer is ready first. The one said ("": none)."""
        ack, self._ack = self._ack, None
        if ack is not None:
            if self._ack_said:
                await ack
            else:
                ack.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ack
        return self._ack_said

    async def _one_moment(self, covered_by: str) -> None:
        """« Un instant » before seconds of CPU, unless the turn's acknowledgement
        (`covered_by`) said as much."""
        if await self._acknowledged() != covered_by:
            await self._play([Prompt("one_moment")])

    async def _say(self, prompts: list[Prompt]) -> None:
        await self._acknowledged()
        await self._play(prompts)
        self._ack_said = ""  # answered: the acknowledgement covers nothing after this
        if self._answer_from is not None:
            latency = time.monotonic() - self._answer_from
            self.acts.answer_latencies.append(latency)
            if self.acts.metrics is not None:
                self.acts.metrics.observe_answer_latency(latency)
            self._answer_from = None

    async def _play(self, prompts: list[Prompt]) -> None:
        pcm = await asyncio.to_thread(self.acts.synthesize, prompts)
        await self.session.play(pcm)
        self._replied_at = self._replied_at or time.monotonic()
        if self._last_turn_end is not None:
            # Turn latency: end of the caller's turn to the reply queued for playout (the
            # first frame goes out on the next 20 ms tick).
            latency = time.monotonic() - self._last_turn_end
            self.acts.turn_latencies.append(latency)
            if self.acts.metrics is not None:
                self.acts.metrics.observe_turn_latency(latency)
            self._last_turn_end = None

    async def _speak_and_listen(self, step: Step) -> Turn:
        if step.say:
            await self._say(step.say)
        else:
            await self._acknowledged()
            self._ack_said = ""  # what follows is a new turn's
        if step.hang_up:
            return await self._finish_playout()
        self._expect = step.expect
        return await self._listen(step.expect, step.keys)

    async def _finish_playout(self) -> Turn:
        """Let the last prompt play out; a caller hanging up meanwhile is fine."""
        played = asyncio.ensure_future(self.session.wait_played())
        try:
            while not played.done():
                event = await self.listener.next_event()
                if isinstance(event, Hangup):
                    return event
        finally:
            played.cancel()
        return NoInput()

    async def _keep_cut_off(self) -> None:
        """The caller hung up mid-sentence (the line dropped while giving the address, say):
        what they said so far is transcribed for the agent who calls back, marked as cut."""
        pcm, self.listener.cut_off = self.listener.cut_off, b""
        if not pcm:
            return
        try:
            text = await asyncio.to_thread(self.acts.transcribe, pcm, self._expect)
        except Exception:  # the call is over: a failed transcription must not lose the rest
            log.exception("live call %s: cut-off speech not transcribed", self.session.call_id)
            return
        if text.strip():
            self.dialogue.progress.heard.append(f"{text.strip()} […]")

    async def _listen(self, expect: str, keys: int = 0) -> Turn:
        self.view.progress = self.dialogue.progress
        return await self.listener.listen(expect, keys)

    def _beat(self) -> None:
        with contextlib.suppress(RuntimeError):  # outside an activity (bench, unit use)
            activity.heartbeat(self.dialogue.progress)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            self._beat()
