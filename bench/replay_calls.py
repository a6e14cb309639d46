"""Benchmark: the scripted call set (bench/calls/calls.yaml) replayed offline, turn by turn.

    .venv/bin/python bench/replay_calls.py                       # all 36 calls, ~3 min
    .venv/bin/python bench/replay_calls.py --only plain-julia --words

What the bot understands of each answer, without the timing: the dialogue (domain/dialogue/)
and the call's steps (activities/live/work.py: transcription with the turns' beam, the
gazetteer, the address and item votes, the spelled street, the first free day, the FAQ) are
fed each answer whole, rendered through the call's line condition exactly as `make
bench-calls` plays it; the truthful caller of bench/calls_support.py answers. No Temporal, no
AudioSocket, no turn detection and no real time: a call takes seconds, and the same code
gives the same outcome on any host with the same CPU kernels (Whisper's int8 transcripts
follow the CPU), so a change to the dialogue or to the understanding can
be compared before and after in minutes (`make bench-calls` then measures the timing: the
latency, the cut-offs, and the answers cut short by a turn ended too early, which this
replay cannot see). Not a test: it asserts nothing.

Per call: the outcome (calls_support.score: right, wrong booking, transferred, missed), the
transfer's reason, the turns, and with --words what was heard at each turn and what each
lookup gave (synthetic callers: no personal data). JSON under var/.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from calls_support import PHASES, Answer, Call, answer_for, load_script, score  # noqa: E402

from activities.live.vote_audio import VoteAudio  # noqa: E402
from domain.dialogue import Dialogue, LookupKind, Step  # noqa: E402
from domain.models import GeocodeResult  # noqa: E402

# A call that goes round in circles stops after this many answers (as in bench_calls.py).
MAX_TURNS = 16


class CallSteps(Protocol):
    """What the replay asks of activities.live.work.CallWork."""

    def transcribe(self, pcm: bytes, expect: str = "", beam_size: int = 0) -> str: ...
    def lookup_address(self, lookup: Any) -> tuple[Any, GeocodeResult]: ...
    def vote_address(self, lookup: Any, candidates: Any, pcm: bytes) -> GeocodeResult: ...
    def spelled_street(self, lookup: Any) -> str: ...
    def hear_items(self, lookup: Any, pcm: bytes) -> Any: ...
    def first_free_day(self, sector: str) -> str: ...
    def answer(self, question: str) -> Any: ...


def _geo(geo: GeocodeResult) -> str:
    if geo.match is not None:
        return f"{geo.status} {geo.match.label()} ({geo.match.score:.2f})"
    return f"{geo.status} " + "; ".join(f"{c.label()} ({c.score:.2f})" for c in geo.candidates[:2])


def replay(
    call: Call,
    dialogue: Dialogue,
    steps: CallSteps,
    render: Callable[[Call, int, Answer], bytes],
) -> dict[str, Any]:
    """One call: the dialogue driven to its end by the truthful caller's answers, each
    lookup done as activities/live/runner.py does it (the audio votes on an address unless
    the words alone would book it, only on the audio of an address, once per place:
    activities/live/vote_audio.py)."""
    step: Step = dialogue.start()
    visits: dict[str, int] = {}
    log: list[str] = []
    audio = VoteAudio()  # the runner's rule for the audio an address vote may use
    turns = silences = refused = 0
    while not dialogue.ended and turns < MAX_TURNS and silences < MAX_TURNS:
        lookup = step.lookup
        if lookup is not None:
            if lookup.kind == LookupKind.ADDRESS:
                candidates, geo = steps.lookup_address(lookup)
                log.append(f"    address: {_geo(geo)}")
                pcm = audio.for_address(lookup)
                if candidates.candidates and pcm and dialogue.vote_wanted(geo):
                    audio.voted(lookup)
                    try:
                        geo = steps.vote_address(lookup, candidates, pcm)
                        log.append(f"    address vote: {_geo(geo)}")
                    except Exception as exc:  # as the runner: the words' result stands
                        log.append(f"    address vote failed: {exc.__class__.__name__}")
                step = dialogue.on_address(geo)
            elif lookup.kind == LookupKind.SPELLED:
                audio.drop()
                street = steps.spelled_street(lookup)
                log.append(f"    spelled: {street or '(none)'}")
                step = dialogue.on_spelled(street)
            elif lookup.kind == LookupKind.ITEMS:
                heard = steps.hear_items(lookup, audio.take())
                log.append(f"    items heard again: {[(i.item, i.count) for i in heard.items]}")
                step = dialogue.on_items(heard)
            elif lookup.kind == LookupKind.SLOT:
                step = dialogue.on_slot(steps.first_free_day(lookup.sector))
            else:
                step = dialogue.on_faq(steps.answer(lookup.text))
            continue
        if step.hang_up:
            break
        phase = str(dialogue.progress.phase)
        asked = "ask_address" if phase == "greeting" else phase
        if asked not in PHASES:
            # The bench's caller has no answer to this question (spelling): silence.
            silences += 1
            log.append(f"  {asked}: (silence)")
            step = dialogue.on_silence()
            continue
        match = dialogue.progress.match
        shown = None
        if match is not None:
            shown = {
                "housenumber": match.housenumber,
                "street": match.street,
                "postcode": match.postcode,
                "label": match.label(),
            }
        answer, no = answer_for(call, asked, visits.get(asked, 0), shown)
        visits[asked] = visits.get(asked, 0) + 1
        refused += no
        # The answer's index seeds its line noise: as bench_calls.py counts them (answers
        # given before this one, keys included, silences not).
        index = turns
        turns += 1
        if not answer.spoken:
            log.append(f"  {asked}: keys {answer.keys}")
            step = dialogue.on_dtmf(answer.keys)
            continue
        pcm = render(call, index, answer)
        text = steps.transcribe(pcm, step.expect)
        audio.heard(pcm, dialogue.phase)
        log.append(f"  {asked}: « {text} »")
        step = dialogue.on_utterance(text)
    progress = dialogue.progress
    confirmed = progress.outcome == "confirmed" and progress.match is not None
    booked = progress.match.label() if confirmed and progress.match is not None else None
    return {
        "id": call.id,
        "kind": call.kind,
        "condition": call.condition,
        "expect": call.expect,
        "score": score(call, booked, progress.outcome == "transfer"),
        "outcome": progress.outcome,
        "transfer_reason": progress.transfer_reason,
        "booked": booked,
        "turns": turns,
        "silences": silences,
        "readbacks_refused": refused,
        "stuck": not dialogue.ended,
        "log": log,
    }


class OfflineCall:
    """The call's steps and dialogue as `make bench-calls` runs them (its settings, the
    workers' services), with nothing spoken and no Temporal: data written under `data`."""

    def __init__(self, data: Path) -> None:
        from bench_turn_latency import bench_settings

        from activities.live.work import CallWork
        from activities.speech.engine import SpeechEngine
        from workers.settings import Settings
        from workers.telephony.live import turn_taking
        from workers.worker.composition import build_services

        # The rule does not matter: there is no turn detection here.
        self.settings = bench_settings(Settings(), "127.0.0.1:7233", data, "fixed")
        self.services = build_services(self.settings)
        geocode = self.services.geocode
        stt = SpeechEngine(self.settings.stt, self.services.catalogue, territory=geocode.territory)
        self.steps = CallWork(
            None,  # type: ignore[arg-type]  # nothing is spoken offline
            stt,
            geocode,
            self.services.store,
            self.services.faq,
            turns=turn_taking(self.settings.telephony),
        )

    def dialogue(self) -> Dialogue:
        geocode = self.services.geocode
        return Dialogue(
            self.services.catalogue,
            "",  # no caller id, as over AudioSocket: the mobile is typed
            service_name=self.settings.sms.service_name,
            agent_phone=self.settings.sms.agent_phone,
            territory=geocode.territory,
            book_threshold=geocode.book_threshold,
            confirm_threshold=geocode.confirm_threshold,
        )


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    booked = [r for r in rows if r["expect"] == "booked"]
    counts = Counter(r["score"] for r in rows)
    return {
        "calls": len(rows),
        "right": counts["right"],
        "booked_right": sum(r["score"] == "right" for r in booked),
        "booked_expected": len(booked),
        "wrong_bookings": counts["wrong"],
        "transfers_unexpected": counts["transferred"],
        "transfers_right": sum(r["score"] == "right" for r in rows if r["expect"] == "transfer"),
        "transfers_expected": len(rows) - len(booked),
        "missed": counts["missed"],
        "turns": sum(r["turns"] for r in rows),
        "readbacks_refused": sum(r["readbacks_refused"] for r in rows),
        "transfer_reasons": dict(
            Counter(r["transfer_reason"] for r in rows if r["score"] != "right")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="call ids, comma-separated")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--words", action="store_true", help="print what each turn heard")
    parser.add_argument("--out", type=Path, default=Path("var/replay-calls.json"))
    args = parser.parse_args()

    from bench_calls import Voices

    script = load_script()
    calls = script.calls
    if args.only:
        ids = {i.strip() for i in args.only.split(",") if i.strip()}
        if unknown := ids - {c.id for c in calls}:
            parser.error(f"--only: no call {', '.join(sorted(unknown))}")
        calls = [c for c in calls if c.id in ids]
    voices = Voices(script, args.shared, script.seed)
    if missing := voices.missing():
        parser.error(f"caller audio missing: {', '.join(missing)} (set --shared)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="encombot-replay-calls-") as tmp:
        offline = OfflineCall(Path(tmp))
        rows = []
        for call in calls:
            row = replay(
                call, offline.dialogue(), offline.steps, lambda c, i, a: voices.render(c, i, a)[0]
            )
            rows.append(row)
            print(
                f"{call.id}: {row['score']} ({row['outcome']} {row['transfer_reason']}, "
                f"{row['turns']} turns)"
            )
            if args.words:
                print("\n".join(row["log"]))
    report: dict[str, Any] = {
        "what": "scripted calls replayed offline: whole answers, no turn-taking, no real time",
        "summary": summary(rows),
        "calls": rows,
        "wall_s": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), "utf-8")
    s = summary(rows)
    print(
        f"booked right {s['booked_right']}/{s['booked_expected']}, wrong bookings "
        f"{s['wrong_bookings']}, transfers right {s['transfers_right']}/"
        f"{s['transfers_expected']}, unexpected transfers {s['transfers_unexpected']} "
        f"{s['transfer_reasons']}, missed {s['missed']}, turns {s['turns']}, read-backs "
        f"refused {s['readbacks_refused']}; {report['wall_s']} s; written to {args.out}"
    )


if __name__ == "__main__":
    main()
