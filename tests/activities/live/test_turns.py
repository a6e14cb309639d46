"""Turn-taking of the live-call activity on a line fed frame by frame (no network, no clock:
the pause rules count 20 ms frames): the end of a turn, and the speculative transcription that
runs during the end pause, kept when the pause is confirmed and dropped when the caller goes
on (activities/live/turns.py). Transcripts come from the session's Whisper model."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from activities.live.runner import CallRunner
from activities.live.session import CallView, SessionRegistry
from activities.live.turns import TurnListener, TurnTaking, Utterance, _Listening
from activities.live_call import LiveCallActivities
from activities.speech.engine import SpeechEngine
from activities.speech.tts import Tts
from domain.dialogue import Dialogue, Expect
from domain.live_call_models import LiveCallProgress
from domain.media import FRAME_BYTES, MediaEvent
from tests.fakes.caller_turns import caller_turn
from tests.fakes.fed_line import FedLine

webrtcvad = pytest.importorskip(
    "webrtcvad", reason="webrtcvad (the live calls' turn-taking) not installed"
)

SILENCE = b"\x00" * FRAME_BYTES


def silence(seconds: float) -> bytes:
    return SILENCE * int(seconds * 50)


def listener(
    stt: SpeechEngine, pcm: bytes, turns: TurnTaking, at: float = 0.0
) -> tuple[CallRunner, FedLine]:
    acts = LiveCallActivities(
        SessionRegistry(),
        Tts(),
        stt,
        stt.catalogue(),
        None,
        None,  # type: ignore[arg-type]
        None,
        service_name="test",
        agent_phone="",
        turns=turns,
    )
    line = FedLine(pcm, at)
    dialogue = Dialogue(
        stt.catalogue(), service_name="test", agent_phone="", territory=stt.territory()
    )
    return CallRunner(acts, line, dialogue, max_call_s=60), line


async def test_transcript_is_started_during_the_end_pause(stt: SpeechEngine) -> None:
    items = caller_turn("items")
    call, _ = listener(stt, silence(0.3) + items + silence(1.0), TurnTaking(speculate_ms=250))
    turn = await call._listen(Expect.SPEECH)
    assert isinstance(turn, Utterance)
    # The same audio as the turn's: the whole utterance and 200 ms of its trailing silence.
    assert len(items) <= len(turn.pcm) <= len(items) + 2 * 8000 * 0.55
    assert turn.transcript is not None, "no transcription started during the pause"
    text = await turn.transcript
    assert "canapé" in text.lower() and "chaise" in text.lower(), text
    assert text == await asyncio.to_thread(call.acts.transcribe, turn.pcm, Expect.SPEECH)


async def test_caller_who_goes_on_after_a_short_pause_is_heard_to_the_end(
    stt: SpeechEngine,
) -> None:
    address = caller_turn("address")
    head, tail = address[: 2 * 8000 * 2], address[2 * 8000 * 2 :]
    # 500 ms quiet in the middle: long enough for a guess (250 ms), too short to end the turn
    # of an address (1.2 s).
    line_audio = silence(0.3) + head + silence(0.5) + tail + silence(1.5)
    call, _ = listener(stt, line_audio, TurnTaking(speculate_ms=250, address_pause_ms=1200))
    turn = await call._listen(Expect.ADDRESS)
    assert isinstance(turn, Utterance)
    assert len(turn.pcm) >= len(address)  # one turn, both halves
    assert turn.transcript is not None  # the guess after the end, not the one in the middle
    text = (await turn.transcript).lower()
    assert "habite" in text and "marseille" in text, text


async def test_no_speculation_when_off(stt: SpeechEngine) -> None:
    items = caller_turn("items")
    call, _ = listener(stt, items + silence(1.0), TurnTaking(speculate_ms=0))
    turn = await call._listen(Expect.SPEECH)
    assert isinstance(turn, Utterance) and turn.transcript is None


@pytest.mark.parametrize(
    ("expect", "keys", "pressed", "turn"),
    [
        # At the address question keys are the house number, `#` ends it.
        (Expect.ADDRESS, 0, "12#", "12#"),
        # …but a first 0 is still the transfer key, at once.
        (Expect.ADDRESS, 0, "0", "0"),
        (Expect.DIGITS, 5, "13005", "13005"),
        # A house number asked on its own: no count, `#` ends it.
        (Expect.DIGITS, 0, "104#", "104#"),
        (Expect.YES_NO, 0, "1", "1"),
    ],
)
def test_keys_make_a_turn(expect: str, keys: int, pressed: str, turn: str) -> None:
    st = _Listening.of(TurnTaking(), expect, keys)
    results = [st.key(digit, float(i)) for i, digit in enumerate(pressed)]
    assert all(r is None for r in results[:-1])
    last = results[-1]
    assert last is not None and last.digits == turn


class PacedLine(FedLine):
    """A FedLine in real time (one frame per 20 ms), so that a transcript started during a
    pause is in before the pause is over, as on a call."""

    async def receive(self) -> MediaEvent:
        await asyncio.sleep(0.02)
        return await self.events.get()

    def frames_left(self) -> int:
        return self.events.qsize() - 1  # the hang-up at the end


def scripted(short: str, full: str, full_bytes: int) -> Callable[[bytes, str], str]:
    """The transcript of the turn so far: `short` before `full_bytes` of audio, `full` after
    (what Whisper says of these clips; the rule under test is the pause, not the words)."""
    return lambda pcm, expect: full if len(pcm) >= full_bytes else short


async def listen_once(
    pcm: bytes, turns: TurnTaking, expect: str, transcribe: Callable[[bytes, str], str]
) -> tuple[Utterance, PacedLine]:
    line = PacedLine(pcm)
    listener = TurnListener(line, turns, transcribe, CallView(LiveCallProgress()))
    turn = await listener.listen(expect)
    assert isinstance(turn, Utterance)
    return turn, line


@pytest.mark.parametrize(("rule", "whole"), [("fixed", False), ("semantic", True)])
async def test_pause_inside_an_address(rule: str, whole: bool) -> None:
    """ "J'habite au douze… boulevard Chave, 13005 Marseille" with 1.5 s to find the street:
    the fixed rule (1.2 s) cuts the caller off, the semantic one hears "au douze" as half an
    address and keeps listening."""
    address = caller_turn("address")
    head, tail = address[: int(0.95 * 16000)], address[int(0.95 * 16000) :]
    pcm = silence(0.3) + head + silence(1.5) + tail + silence(2.5)
    transcribe = scripted(
        "J'habite au 12", "J'habite au 12 boulevard Chave, 13005 Marseille", len(address)
    )
    turns = TurnTaking(speculate_ms=250, address_pause_ms=1200, rule=rule)
    turn, _ = await listen_once(pcm, turns, Expect.ADDRESS, transcribe)
    assert (len(turn.pcm) >= len(address)) is whole


@pytest.mark.parametrize(("rule", "early"), [("fixed", False), ("semantic", True)])
async def test_a_finished_yes_is_answered_after_a_short_silence(rule: str, early: bool) -> None:
    yes = caller_turn("yes")
    pcm = silence(0.3) + yes + silence(1.2)
    turns = TurnTaking(speculate_ms=250, end_pause_ms=700, rule=rule)
    turn, line = await listen_once(pcm, turns, Expect.YES_NO, scripted("Oui.", "Oui.", 0))
    # Frames not read when the turn ended: 0.5 s (25) with the 700 ms pause; about 0.9 s
    # (45) when the turn ends as soon as the transcript of the pause is in.
    assert (line.frames_left() > 35) is early, line.frames_left()
    assert turn.transcript is not None and await turn.transcript == "Oui."


async def test_a_slow_transcript_does_not_cut_off_a_paused_address() -> None:
    """Under load the transcript of the pause comes after the fixed 1.2 s: the semantic rule
    waits for it (the reply needs it anyway) rather than ending the turn on the clock."""
    address = caller_turn("address")
    head, tail = address[: int(0.95 * 16000)], address[int(0.95 * 16000) :]
    pcm = silence(0.3) + head + silence(1.5) + tail + silence(2.5)
    quick = scripted("J'habite au 12", "J'habite au 12 boulevard Chave, 13005 Marseille", 0)

    def slow(pcm: bytes, expect: str) -> str:
        time.sleep(1.2)
        return quick(pcm, expect) if len(pcm) >= len(address) else "J'habite au 12"

    turns = TurnTaking(speculate_ms=250, address_pause_ms=1200, rule="semantic")
    turn, _ = await listen_once(pcm, turns, Expect.ADDRESS, slow)
    assert len(turn.pcm) >= len(address)


class Completion:
    """A fake Smart Turn for the live path: complete once the turn's audio is `full_bytes`
    long; records the thread each inference ran in."""

    def __init__(self, full_bytes: int) -> None:
        self.full_bytes = full_bytes
        self.threads: list[str] = []

    def __call__(self, pcm: bytes) -> float:
        self.threads.append(threading.current_thread().name)
        return 0.9 if len(pcm) >= self.full_bytes else 0.1


async def test_smart_rule_keeps_listening_through_a_paused_address() -> None:
    """The same paused caller as above, the model deciding addresses too: it hears "au
    douze" as unfinished (fake), the turn goes on through the 1.5 s pause and ends 200 ms
    after "Marseille"."""
    address = caller_turn("address")
    head, tail = address[: int(0.95 * 16000)], address[int(0.95 * 16000) :]
    pcm = silence(0.3) + head + silence(1.5) + tail + silence(2.5)
    model = Completion(len(address))
    turns = TurnTaking(
        address_pause_ms=1200, rule="smart", completion_probability=model, smart_at_address=True
    )
    transcribe = scripted("J'habite au 12", "J'habite au 12 boulevard Chave", len(address))
    turn, line = await listen_once(pcm, turns, Expect.ADDRESS, transcribe)
    assert len(turn.pcm) >= len(address)
    assert len(model.threads) >= 2  # one per pause, the one after "au douze" included
    assert threading.main_thread().name not in model.threads  # off the event loop
    # Ended about 0.3 s into the final 2.5 s of silence (webrtcvad's tail, the model's 200 ms
    # and its answer), not after the fixed 1.2 s.
    assert line.frames_left() > (2.5 - 0.8) * 50, line.frames_left()


async def test_smart_rule_leaves_the_address_to_its_pause_by_default() -> None:
    """Without smart_at_address, an address ends on its own pause (1.2 s), as under the
    fixed rule: the model, which would end it 200 ms into the pause, is not asked."""
    address = caller_turn("address")
    pcm = silence(0.3) + address + silence(2.5)
    model = Completion(0)
    turns = TurnTaking(address_pause_ms=1200, rule="smart", completion_probability=model)
    transcribe = scripted("", "J'habite au 12 boulevard Chave", len(address))
    turn, line = await listen_once(pcm, turns, Expect.ADDRESS, transcribe)
    assert len(turn.pcm) >= len(address)
    assert model.threads == []
    # Frames left when the turn ended: about 2.5 - 1.2 s of the final silence, not 2.2 s.
    assert line.frames_left() < (2.5 - 0.8) * 50, line.frames_left()


@pytest.mark.parametrize(("model", "early"), [(True, True), (False, False)])
async def test_smart_rule_answers_a_finished_yes_at_once(model: bool, early: bool) -> None:
    """With the model, "oui" ends the turn 200 ms into the pause; without it (no verdict),
    the fixed pause (700 ms) decides."""
    yes = caller_turn("yes")
    pcm = silence(0.3) + yes + silence(1.2)
    turns = TurnTaking(
        end_pause_ms=700, rule="smart", completion_probability=Completion(0) if model else None
    )
    turn, line = await listen_once(pcm, turns, Expect.YES_NO, scripted("Oui.", "Oui.", 0))
    # The clip's "oui" is its last 0.15 s: the turn is the pre-roll, "oui" and 200 ms.
    assert len(turn.pcm) >= 0.6 * 16000
    # Frames not read when the turn ended: about 0.25 s (12) with the 700 ms pause, about
    # 0.7 s (35) after 200 ms.
    assert (line.frames_left() > 28) is early, line.frames_left()


async def test_smart_rule_starts_the_transcript_with_the_model() -> None:
    """The turn found complete 200 ms into its pause comes with its transcript already
    started (with the model's inference, not after it), of the same audio as the turn's."""
    items = caller_turn("items")
    pcm = silence(0.3) + items + silence(1.5)
    heard: list[int] = []

    def transcribe(audio: bytes, expect: str) -> str:
        heard.append(len(audio))
        return "Je voudrais faire enlever un canapé et deux chaises."

    turns = TurnTaking(rule="smart", completion_probability=Completion(len(items)))
    turn, _ = await listen_once(pcm, turns, Expect.SPEECH, transcribe)
    assert turn.transcript is not None
    assert await turn.transcript == "Je voudrais faire enlever un canapé et deux chaises."
    assert heard[-1] == len(turn.pcm)


@pytest.mark.parametrize("rule", ["fixed", "smart"])
async def test_a_turn_begins_when_its_first_voiced_frames_arrived(
    stt: SpeechEngine, rule: str
) -> None:
    """Frames wait in the session's queue while the bot works: when the caller began a turn
    is the arrival of its frames, not the time they were read (runner.py compares it with
    the end of the turn before)."""
    line_audio = silence(0.6) + caller_turn("items") + silence(1.0)
    turns = TurnTaking(speculate_ms=0, rule=rule, completion_probability=Completion(1))
    call, _ = listener(stt, line_audio, turns, at=500.0)
    turn = await call._listen(Expect.SPEECH)
    assert isinstance(turn, Utterance)
    vad = webrtcvad.Vad(turns.vad_mode)
    frames = [line_audio[i : i + FRAME_BYTES] for i in range(0, len(line_audio), FRAME_BYTES)]
    first = next(i for i, f in enumerate(frames) if vad.is_speech(f, 8000))
    assert 500.0 + first * 0.02 - 1e-6 <= turn.started_at <= 500.0 + (first + 5) * 0.02
    # Its end on the same clock: the frame that completed the pause, the turn's audio after
    # its start (the kept trailing silence aside, the pause itself is not in the audio).
    assert turn.started_at + len(turn.pcm) / 16000 - 0.5 < turn.ended_on_line
    assert turn.ended_on_line <= 500.0 + len(frames) * 0.02
