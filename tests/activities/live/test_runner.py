"""A live call's loop (activities/live/runner.py) with its work faked and its turns scripted:
which turn's audio each vote gets, and what the caller hears while it runs."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace

import pytest

from activities.geo.territory_file import load_territory
from activities.live.runner import CallRunner
from activities.live.turns import Keys, Turn, TurnTaking, Utterance
from activities.understand import load_catalogue
from domain.address_models import AddressCandidates, StreetCandidate
from domain.dialogue import Dialogue, Lookup, Prompt, Step
from domain.live_call_models import Outcome
from domain.media import Hangup
from domain.models import (
    GeocodeResult,
    GeocodeStatus,
    Intent,
    ItemCount,
    Understanding,
)
from tests.domain.test_dialogue import MATCH
from tests.fakes.fed_line import FedLine


class ScriptedWork:
    """CallWork's side of the loop: each utterance's audio stands for its words; the votes
    record the audio they were given."""

    def __init__(self, words: dict[bytes, str], *, address_found: bool = True) -> None:
        self.words = words
        self.address_found = address_found
        self.turns = TurnTaking()
        self.turn_latencies: deque[float] = deque()
        self.metrics = None
        self.transcribed = {"during": 0, "after": 0}
        self.went_on = 0
        self.acknowledged = 0
        self.answer_latencies: deque[float] = deque()
        self.said: list[str] = []
        self.item_votes: list[bytes] = []
        self.address_votes: list[bytes] = []

    def synthesize(self, prompts: list[Prompt]) -> bytes:
        self.said.extend(p.template for p in prompts)
        return b""

    def transcribe(self, pcm: bytes, expect: str = "") -> str:
        return self.words[pcm]

    def lookup_address(self, lookup: Lookup) -> tuple[AddressCandidates, GeocodeResult]:
        chave = StreetCandidate(
            "Boulevard Chave", "13005", "13205", "Marseille", 0.9, numbers=["12", "14"]
        )
        candidates = AddressCandidates(candidates=[chave])
        if self.address_found:
            return candidates, GeocodeResult(GeocodeStatus.MATCHED, match=MATCH)
        return candidates, GeocodeResult(GeocodeStatus.NOT_FOUND, reason="doubt")

    def vote_address(
        self, lookup: Lookup, candidates: AddressCandidates, pcm: bytes
    ) -> GeocodeResult:
        self.address_votes.append(pcm)
        return GeocodeResult(GeocodeStatus.MATCHED, match=MATCH)

    def hear_items(self, lookup: Lookup, pcm: bytes) -> Understanding:
        self.item_votes.append(pcm)
        return Understanding(intent=Intent.BOOKING.value, items=[ItemCount("réfrigérateur", 1)])

    def first_free_day(self, sector: str) -> str:
        return "2026-12-01"


def runner(
    work: ScriptedWork,
    turns: list[Turn],
    *,
    resume_ms: int = 1000,
    ack_ms: int = 0,
    live: bool = False,
) -> CallRunner:
    """`live`: each utterance ends as the bot starts listening for it (its latencies are
    the bot's, not the script's)."""
    dialogue = Dialogue(
        load_catalogue(),
        "+33612345678",
        service_name="test",
        agent_phone="",
        territory=load_territory(),
    )
    work.turns = TurnTaking(resume_ms=resume_ms, ack_ms=ack_ms)
    call = CallRunner(work, FedLine(b""), dialogue, max_call_s=60)  # type: ignore[arg-type]
    script = iter(turns)

    async def speak_and_listen(step: Step) -> Turn:
        if step.say:
            await call._say(step.say)
        else:
            await call._acknowledged()
        # Nothing of the last turn is left to say while the caller is listened to.
        assert call._ack is None
        call._expect = step.expect
        turn = next(script, Hangup("end of the script"))
        if live and isinstance(turn, Utterance):
            turn = replace(turn, ended_at=time.monotonic())
        return turn

    call._speak_and_listen = speak_and_listen  # type: ignore[method-assign]
    return call


def said(pcm: bytes) -> Utterance:
    return Utterance(pcm=pcm, ended_at=time.monotonic())


async def test_items_heard_in_the_audio_of_their_own_answer() -> None:
    work = ScriptedWork(
        {
            b"address": "J'habite au 12 boulevard Chave, 13005 Marseille",
            b"items": "Je souhaite un rendez-vous pour un effrayé hâteur",
            b"yes": "Oui.",
        }
    )
    progress = await runner(work, [said(b"address"), said(b"items"), said(b"yes")]).run()
    assert work.item_votes == [b"items"]
    assert progress.outcome == Outcome.CONFIRMED
    assert progress.understanding is not None
    assert progress.understanding.items == [ItemCount("réfrigérateur", 1)]
    assert "aucun objet reconnu" not in progress.understanding.notes
    # The caller hears the bot at work, then the read-back that says the item.
    assert work.said[work.said.index("ask_items") + 1 :][:2] == ["one_moment", "readback"]


async def test_a_no_is_never_the_audio_an_address_is_voted_on() -> None:
    """Read-back refused, the number said wrong, a new one typed: the lookup after the keys
    has no audio of an address (the last was "non"), so no vote runs on it."""
    work = ScriptedWork(
        {
            b"address": "J'habite au 12 boulevard Chave, 13005 Marseille",
            b"items": "un canapé",
            b"no": "Non.",
        },
        address_found=False,
    )
    call = runner(work, [said(b"address"), said(b"items"), said(b"no"), said(b"no"), Keys("14#")])
    # The words' lookup finds nothing usable: the address's own audio is voted on, once.
    await call.run()
    assert "ask_number" in work.said  # the keys answered it, and a lookup followed them
    assert work.address_votes == [b"address"]


class BrokenAddressVote(ScriptedWork):
    def vote_address(
        self, lookup: Lookup, candidates: AddressCandidates, pcm: bytes
    ) -> GeocodeResult:
        raise RuntimeError("12 boulevard Chave: out of memory")


async def test_a_failed_address_vote_goes_on_with_the_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = BrokenAddressVote(
        {b"address": "J'habite au 12 boulevard Chave, 13005 Marseille"}, address_found=False
    )
    progress = await runner(work, [said(b"address")]).run()
    # Not found by the words: the postcode is asked on the keypad, the call goes on.
    assert work.said[-1] == "ask_postcode" and progress.outcome == Outcome.HANGUP
    assert "address vote failed (RuntimeError)" in caplog.text and "Chave" not in caplog.text


class PlaceNeededVote(ScriptedWork):
    """The audio names no street of the whole territory, then the right one among the
    streets of the postcode typed."""

    def vote_address(
        self, lookup: Lookup, candidates: AddressCandidates, pcm: bytes
    ) -> GeocodeResult:
        self.address_votes.append(pcm)
        if lookup.address is None or not lookup.address.postcode:
            return GeocodeResult(GeocodeStatus.NOT_FOUND, reason="doubt")
        return GeocodeResult(GeocodeStatus.MATCHED, match=MATCH)


async def test_a_typed_postcode_gets_a_vote_of_its_own_on_the_address_audio() -> None:
    work = PlaceNeededVote(
        {b"address": "J'habite au 12 rejoulier", b"items": "un canapé", b"yes": "Oui."},
        address_found=False,
    )
    progress = await runner(
        work, [said(b"address"), Keys("13005"), said(b"items"), said(b"yes")]
    ).run()
    assert work.address_votes == [b"address", b"address"]
    assert progress.outcome == Outcome.CONFIRMED


class NumberNotHeard(ScriptedWork):
    """The street is found, not the number heard; the number typed is there."""

    def lookup_address(self, lookup: Lookup) -> tuple[AddressCandidates, GeocodeResult]:
        candidates, _ = super().lookup_address(lookup)
        street = replace(MATCH, housenumber="", score=0.9)
        if lookup.address is not None and lookup.address.housenumber == "12":
            return candidates, GeocodeResult(GeocodeStatus.MATCHED, match=replace(MATCH, score=0.5))
        return candidates, GeocodeResult(GeocodeStatus.NUMBER_NOT_FOUND, candidates=[street])

    def vote_address(
        self, lookup: Lookup, candidates: AddressCandidates, pcm: bytes
    ) -> GeocodeResult:
        self.address_votes.append(pcm)
        return self.lookup_address(lookup)[1]


async def test_a_number_typed_in_the_street_named_gets_no_second_vote() -> None:
    """No place said: the number asked in the street found takes that street's postcode,
    which is no place the caller typed; the audio was voted on already, once."""
    work = NumberNotHeard(
        {b"address": "J'habite au dos boulevard Chave", b"items": "un canapé", b"yes": "Oui."}
    )
    progress = await runner(
        work, [said(b"address"), Keys("12#"), said(b"items"), said(b"yes")]
    ).run()
    assert "number_not_found" in work.said
    assert work.address_votes == [b"address"]
    assert progress.outcome == Outcome.CONFIRMED


# A caller who pauses inside the address longer than the pause rule: the end of the turn
# cut « J'habite au 12 », the bot went to work on it, the caller went on.
WENT_ON = {
    b"au 12": "J'habite au 12.",
    b"au 12" + b" chave": "J'habite au 12 boulevard Chave, 13005 Marseille.",
    b" chave": "Boulevard Chave, 13005 Marseille.",
    b"items": "un canapé",
    b"yes": "Oui.",
}


def cut_short(*, went_on_after: float, worked: float = 5.0) -> list[Turn]:
    """The address cut by the pause rule `worked` s ago (the bot has been at work since), its
    rest begun `went_on_after` s after that end, then the items and the « oui »."""
    ended = time.monotonic() - worked
    rest = ended + went_on_after
    return [
        Utterance(b"au 12", ended, None, ended - 1.5, ended),
        Utterance(b" chave", rest + 1.5, None, rest, rest + 1.5),
        said(b"items"),
        said(b"yes"),
    ]


async def test_a_turn_the_caller_went_on_with_is_heard_as_one() -> None:
    work = ScriptedWork(WENT_ON, address_found=False)
    call = runner(work, cut_short(went_on_after=0.4))
    progress = await call.run()
    assert work.went_on == 1
    # What the bot made of « J'habite au 12 » is taken back: one address answer, whole.
    assert progress.heard[0] == WENT_ON[b"au 12 chave"]
    assert WENT_ON[b"au 12"] not in progress.heard
    assert progress.turns == 3
    # The words alone find nothing: the vote hears the whole address, never the half (nor
    # the rest alone, as with the window off).
    assert work.address_votes == [b"au 12 chave"]
    assert progress.outcome == Outcome.CONFIRMED


async def test_an_answer_to_the_reply_is_not_the_rest_of_the_last_turn() -> None:
    """Begun 3 s after the last turn (within a 5-s window): the bot's reply had been playing
    for longer than anyone takes to react to it (« un instant » included: the bench's
    barging caller repeats the address over it)."""
    work = ScriptedWork(WENT_ON)
    turns = cut_short(went_on_after=3.0, worked=0.0)
    call = runner(work, turns, resume_ms=5000)
    progress = await call.run()
    assert work.went_on == 0
    assert progress.heard[:2] == [WENT_ON[b"au 12"], WENT_ON[b" chave"]]


@pytest.mark.parametrize(("went_on_after", "resume_ms"), [(1.5, 1000), (0.4, 0)])
async def test_a_turn_begun_past_the_window_or_with_it_off_is_a_turn_of_its_own(
    went_on_after: float, resume_ms: int
) -> None:
    work = ScriptedWork(WENT_ON)
    call = runner(work, cut_short(went_on_after=went_on_after), resume_ms=resume_ms)
    progress = await call.run()
    assert work.went_on == 0
    assert progress.heard[:2] == [WENT_ON[b"au 12"], WENT_ON[b" chave"]]


async def test_keys_between_two_turns_end_the_first() -> None:
    work = ScriptedWork(WENT_ON)
    turns = cut_short(went_on_after=0.4)
    call = runner(work, [turns[0], Keys("12#"), *turns[1:]])
    await call.run()
    assert work.went_on == 0


class SlowWords(ScriptedWork):
    """Whisper on a loaded host: each turn's words come `slow_s` after the turn."""

    slow_s = 0.5

    def transcribe(self, pcm: bytes, expect: str = "") -> str:
        time.sleep(self.slow_s)
        return super().transcribe(pcm, expect)


PLAIN = {
    b"address": "J'habite au 12 boulevard Chave, 13005 Marseille",
    b"items": "Je souhaite un rendez-vous pour un effrayé hâteur",
    b"yes": "Oui.",
}


async def test_a_late_answer_is_acknowledged_before_it() -> None:
    work = SlowWords(PLAIN)
    call = runner(work, [said(b"address"), said(b"items"), said(b"yes")], ack_ms=20, live=True)
    progress = await call.run()
    assert progress.outcome == Outcome.CONFIRMED
    asked = work.said.index("ask_items")
    # The address: « un instant » as soon as it was late, not said again before the lookup;
    # the items: « je note », and no « un instant » before their vote; the « oui »: « d'accord ».
    assert work.said[:asked].count("ack_moment") == 1 and "one_moment" not in work.said
    assert work.said[asked + 1 : asked + 3] == ["ack_items", "readback"]
    assert work.said[-2:] == ["ack", "confirmed"]
    assert work.acknowledged == 3
    # Each turn's first sound (the acknowledgement) comes before its answer.
    assert len(work.answer_latencies) == len(work.turn_latencies) == 3
    assert all(a > t for a, t in zip(work.answer_latencies, work.turn_latencies, strict=True))


@pytest.mark.parametrize(("ack_ms", "slow_s"), [(0, 0.5), (1000, 0.0)])
async def test_an_answer_in_time_or_with_acks_off_is_not_acknowledged(
    ack_ms: int, slow_s: float
) -> None:
    work = SlowWords(PLAIN)
    work.slow_s = slow_s
    turns: list[Turn] = [said(b"address"), said(b"items"), said(b"yes")]
    call = runner(work, turns, ack_ms=ack_ms, live=True)
    progress = await call.run()
    assert progress.outcome == Outcome.CONFIRMED
    assert work.acknowledged == 0
    assert not {"ack", "ack_items", "ack_moment"} & set(work.said)
    # « Un instant » before the lookups, as without acknowledgements.
    assert work.said[work.said.index("ask_items") + 1 :][:2] == ["one_moment", "readback"]
    # The « oui »'s answer is its first sound (nothing before the booking's confirmation).
    assert len(work.answer_latencies) == 3
    assert abs(work.answer_latencies[-1] - work.turn_latencies[-1]) < 0.05


class SlowPlaceNeededVote(SlowWords, PlaceNeededVote):
    pass


async def test_an_acknowledgement_covers_its_own_turn_only() -> None:
    """The spoken address acknowledged, found by no vote; the postcode typed brings a second
    vote on the same audio: « un instant » before it (the keys were not acknowledged)."""
    work = SlowPlaceNeededVote(
        {**PLAIN, b"address": "J'habite au 12 rejoulier"}, address_found=False
    )
    turns: list[Turn] = [said(b"address"), Keys("13005"), said(b"items"), said(b"yes")]
    progress = await runner(work, turns, ack_ms=20, live=True).run()
    assert work.address_votes == [b"address", b"address"]
    asked = work.said.index("ask_postcode")
    assert "ack_moment" in work.said[:asked] and "one_moment" not in work.said[:asked]
    assert work.said[asked + 1] == "one_moment"
    assert progress.outcome == Outcome.CONFIRMED
