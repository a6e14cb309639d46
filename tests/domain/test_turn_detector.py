"""The smart end-of-turn detector (domain/turn_detector.py), fed frame by frame with
synthesised lines: each frame's bytes say which word it belongs to, so a fake model can
"hear" how far the caller got, as Smart Turn hears it from the audio."""

from __future__ import annotations

from collections.abc import Iterable

from domain.turn_detector import Decision, TurnDetector, TurnParams

FRAME = 0.02
PARAMS = TurnParams(fixed_pause_ms=1200, incomplete_pause_ms=2000)


def speech(word: str, ms: int) -> list[tuple[bytes, bool]]:
    return [(word.encode().ljust(320, b"."), True)] * (ms // 20)


def quiet(ms: int) -> list[tuple[bytes, bool]]:
    return [(b"\x00" * 320, False)] * (ms // 20)


def run(
    detector: TurnDetector, line: Iterable[tuple[bytes, bool | float]], bot_speaking: bool = False
) -> list[tuple[int, Decision]]:
    """(frame index, decision) of every frame that was not LISTEN; stops at the end."""
    out = []
    for i, (pcm, voiced) in enumerate(line):
        decision = detector.feed(pcm, voiced, i * FRAME, bot_speaking)
        if decision != Decision.LISTEN:
            out.append((i, decision))
        if decision == Decision.END:
            break
    return out


class Heard:
    """A fake Smart Turn: complete once the turn's audio holds `last_word`; counts its calls
    and keeps the audio it was given."""

    def __init__(self, last_word: str) -> None:
        self.last_word = last_word.encode()
        self.calls: list[bytes] = []

    def __call__(self, pcm: bytes) -> float:
        self.calls.append(pcm)
        return 0.93 if self.last_word in pcm else 0.08


ADDRESS = (
    quiet(300)
    + speech("au", 300)
    + quiet(600)
    + speech("douze", 400)
    + quiet(900)
    + speech("boulevard", 500)
    + quiet(700)
    + speech("Chave", 400)
    + speech("Marseille", 500)
    + quiet(3000)
)
# Frame index of the last speech frame of ADDRESS.
ADDRESS_LAST = (300 + 300 + 600 + 400 + 900 + 500 + 700 + 400 + 500) // 20 - 1


def test_a_pause_inside_an_address_keeps_listening_to_its_end() -> None:
    model = Heard("Marseille")
    detector = TurnDetector(PARAMS, model)
    decisions = run(detector, ADDRESS)
    assert decisions[0] == (15 + 2, Decision.START)  # 60 ms of speech
    # "au… douze… boulevard…": three pauses judged incomplete, then the end, 200 ms after
    # "Marseille" (the model's answer), not the 1.2 s of the fixed address pause.
    assert decisions[1:] == [(ADDRESS_LAST + 10, Decision.END)]
    assert len(model.calls) == 4
    assert detector.probability == 0.93
    # What the model heard: the whole turn from its pre-roll, the 200 ms of silence included.
    assert model.calls[-1].startswith(b"\x00" * 320) and model.calls[-1].endswith(b"\x00" * 320)
    assert b"au." in model.calls[-1]
    assert b"".join(detector.utterance) == model.calls[-1]


def test_the_fixed_pause_alone_cuts_that_address_off() -> None:
    detector = TurnDetector(TurnParams(fixed_pause_ms=700), None)
    decisions = run(detector, ADDRESS)
    # Ended in the 900 ms pause after "douze".
    assert decisions[-1] == ((300 + 300 + 600 + 400) // 20 + 35 - 1, Decision.END)


def test_an_incomplete_pause_ends_at_the_hard_cap() -> None:
    model = Heard("Marseille")
    detector = TurnDetector(PARAMS, model)
    line = quiet(100) + speech("au", 300) + speech("douze", 300) + quiet(5000)
    decisions = run(detector, line)
    last_speech = (100 + 600) // 20 - 1
    assert decisions[-1] == (last_speech + 100, Decision.END)  # 2 s of silence
    assert len(model.calls) == 1  # asked once per pause
    assert detector.probability == 0.08


def test_a_finished_yes_is_answered_after_200_ms() -> None:
    model = Heard("oui")
    detector = TurnDetector(TurnParams(fixed_pause_ms=700), model)
    decisions = run(detector, quiet(200) + speech("oui", 240) + quiet(2000))
    assert decisions == [(10 + 2, Decision.START), (10 + 12 - 1 + 10, Decision.END)]
    assert detector.ended_at is not None and abs(detector.ended_at - 31 * FRAME) < 1e-9


def test_no_verdict_falls_back_to_the_fixed_pause() -> None:
    calls: list[bytes] = []

    def broken(pcm: bytes) -> float | None:
        calls.append(pcm)
        return None

    detector = TurnDetector(TurnParams(fixed_pause_ms=700), broken)
    decisions = run(detector, speech("oui", 240) + quiet(2000))
    assert decisions[-1] == (12 - 1 + 35, Decision.END)
    assert len(calls) == 1


def test_a_barge_in_needs_longer_speech_than_a_turn() -> None:
    line = speech("oui", 100) + quiet(100) + speech("oui", 300) + quiet(1000)
    over_the_bot = run(TurnDetector(PARAMS, None), line, bot_speaking=True)
    assert over_the_bot[0] == (5 + 5 + 10 - 1, Decision.BARGE_IN)  # 200 ms in a row
    bot_silent = run(TurnDetector(PARAMS, None), line)
    assert bot_silent[0] == (2, Decision.START)


def test_a_click_is_discarded_without_asking_the_model() -> None:
    model = Heard("x")
    detector = TurnDetector(TurnParams(fixed_pause_ms=700), model)
    decisions = run(detector, speech("clic", 80) + quiet(1500))
    assert decisions == [(2, Decision.START), (3 + 35, Decision.DISCARD)]
    assert not detector.in_turn and detector.utterance == []
    assert model.calls == []


def test_speech_probabilities_from_a_vad() -> None:
    model = Heard("oui")
    detector = TurnDetector(TurnParams(fixed_pause_ms=700), model)
    line = [(b"oui".ljust(320, b"."), 0.8)] * 12 + [(b"\x00" * 320, 0.3)] * 40
    assert run(detector, line) == [(2, Decision.START), (21, Decision.END)]


def test_a_turn_that_never_pauses_ends_at_its_maximum() -> None:
    detector = TurnDetector(TurnParams(max_turn_ms=1000, pre_roll_ms=100), None)
    decisions = run(detector, quiet(200) + speech("bla", 3000))
    # Started at frame 12 with 5 frames of pre-roll (2 of them silence), which count in the
    # turn's 1 s.
    assert decisions == [(12, Decision.START), (12 + 50 - 5, Decision.END)]


def test_asks_model_says_which_frame_runs_the_model() -> None:
    """The live path runs exactly those feeds in a thread."""
    model = Heard("Marseille")
    detector = TurnDetector(PARAMS, model)
    for i, (pcm, voiced) in enumerate(ADDRESS[: ADDRESS_LAST + 12]):
        before = len(model.calls)
        predicted = detector.asks_model(voiced)
        detector.feed(pcm, voiced, i * FRAME, False)
        assert predicted == (len(model.calls) == before + 1), i
    assert len(model.calls) == 4
