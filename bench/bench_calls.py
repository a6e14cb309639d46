"""Benchmark: the scripted live calls (bench/calls/calls.yaml) through AudioSocket.

    .venv/bin/python bench/bench_calls.py --turn-rule fixed,semantic,smart --calls 4
    .venv/bin/python bench/bench_calls.py --turn-rule semantic@0,semantic@10   # two windows

The same machinery as bench/bench_turn_latency.py (a Temporal dev server, the workers and the
telephony process in this process, a fresh set for each rule; the AudioSocket test client
plays the caller in real time), driven by a script instead of one fixed dialogue: whenever
the bot waits for the caller (or, for a barge-in, while its prompt plays), the caller gives
the script's next answer for that question (bench/calls_support.py: answer_for), rendered
from the voicemail clips through the call's line condition (G.711/GSM round trip at 8 kHz,
noise; scripts/corpus/conditions.py, sox).

Per call: the outcome (right, wrong booking, transferred, missed: calls_support.score) from
the booking row and the workflow's state, the turns, and per turn the latency (the caller's
last frame sent, or their keys, to the bot's first speech frame) and whether the bot cut the
caller off (calls_support.cut_off). Per rule: those side by side. Not a test: it asserts
nothing.

    --calls N     the first N calls of the seeded spread over the kinds (all when omitted)
    --only IDS    only these calls (comma-separated ids)
    --seed S      the spread's seed (the script's when omitted); also seeds the line noise
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_turn_latency import (  # noqa: E402 - the repository first on the path
    RULES,
    TURN_ENDS,
    bench_settings,
    record_turn_ends,
    speech_end_s,
    valid_spec,
)
from calls_support import (  # noqa: E402
    ONSET_GAP_S,
    PHASES,
    Answer,
    Call,
    Script,
    answer_for,
    cut_off,
    line_idle,
    load_script,
    score,
    select,
    speech_onset,
    summarize,
)

from domain.stats import percentile  # noqa: E402

CALL_TIMEOUT_S = 300
# A call that goes round in circles is hung up after this many answers (scored "missed").
MAX_TURNS = 16
# A barge-in starts once the prompt has played this long.
BARGE_AFTER_S = 0.8
REPLY_TIMEOUT_S = 30
OUTCOME_TIMEOUT_S = 90
ENDED_STATUSES = ("booked", "answered", "waiting_agent", "closed", "abandoned")
_SLIN = ["-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c", "1"]


# ------------------------------------------------------------------------------- audio
class Voices:
    """The script's clips as slin16 8 kHz, and answers rendered through a line condition."""

    def __init__(self, script: Script, shared: Path, seed: int) -> None:
        from corpus import DEMO_DIR

        self.script = script
        self.dirs = {"demo": DEMO_DIR / "audio", "shared": shared / "voicemails" / "audio"}
        self.seed = seed
        self._files: dict[str, bytes] = {}
        self._rendered: dict[tuple[str, int, int], tuple[bytes, float]] = {}

    def clip(self, name: str) -> bytes:
        from tests.fakes.audiosocket_client import load_slin8k

        clip = self.script.clips[name]
        source, file = clip.src.split(":", 1)
        if clip.src not in self._files:
            self._files[clip.src] = load_slin8k(self.dirs[source] / file)
        pcm = self._files[clip.src]
        return pcm[int(clip.start * 8000) * 2 : int(clip.end * 8000) * 2]

    def missing(self) -> list[str]:
        return sorted(
            {
                str(self.dirs[c.src.split(":")[0]] / c.src.split(":", 1)[1])
                for c in self.script.clips.values()
                if not (self.dirs[c.src.split(":")[0]] / c.src.split(":", 1)[1]).is_file()
            }
        )

    def render(self, call: Call, index: int, answer: Answer) -> tuple[bytes, float]:
        """The answer as the line carries it, and the offset of its last voiced frame (found
        on the clean audio: noise is not the caller speaking)."""
        key = (call.id, index, hash(answer))
        if key in self._rendered:
            return self._rendered[key]
        chunks = []
        for part in answer.parts:
            if part.pause_s:
                chunks.append(b"\x00" * (int(part.pause_s * 8000) * 2))
                continue
            pcm = self.clip(part.clip)
            b = len(pcm) if part.b is None else int(part.b * 8000) * 2
            chunks.append(pcm[int(part.a * 8000) * 2 : b])
        clean = b"".join(chunks)
        rendered = (
            line(clean, call.condition, self.seed, f"{call.id}/{index}"),
            speech_end_s(clean),
        )
        self._rendered[key] = rendered
        return rendered


def line(pcm: bytes, condition: str, seed: int, what: str) -> bytes:
    """slin16 8 kHz through a condition of scripts/corpus/conditions.py (at 16 kHz, as the
    corpus applies them) and back."""
    if condition == "clean":
        return pcm
    from scripts.corpus import conditions

    params = conditions.condition_params(condition, random.Random(f"{seed}/{what}"), [])
    audio = conditions.sox(None, ["rate", "-v", str(conditions.RATE)], inp=_SLIN, raw=pcm)
    audio = conditions.apply(audio, condition, params)
    out: bytes = conditions.sox(audio, ["rate", "-v", "8000"], out=_SLIN)
    return out[: len(pcm)]


# ------------------------------------------------------------------------------- a call
def _match(view: Any) -> dict[str, str] | None:
    m = view.progress.match
    if m is None:
        return None
    return {
        "housenumber": m.housenumber,
        "street": m.street,
        "postcode": m.postcode,
        "label": m.label(),
    }


async def next_question(
    tel: Any, caller: Any, call: Call, answered: int, visits: dict[str, int]
) -> tuple[str, Answer, bool] | None:
    """The question the bot now waits on and the caller's answer to it (with whether that is
    a refused read-back), None once the call is over. A barge-in answer is given while the
    prompt plays: once the bot has spoken BARGE_AFTER_S since the question came. A new
    question: the dialogue counted the last answer, or went from speaking back to listening
    (an answer it did not hear as one, e.g. only noise, is asked again)."""
    cid = caller.call_id
    spoke = answered == 0
    spoken_from: float | None = None
    seen = 0
    speech_frames = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if caller.closed:
            return None
        view = tel.activities.dialogues.get(cid)
        spoke = spoke or (view is not None and not view.listening)
        if view is not None and (view.progress.turns >= answered or spoke):
            phase = str(view.progress.phase)
            if phase == "ended":
                return None
            asked = "ask_address" if phase == "greeting" else phase
            if asked in PHASES:
                answer, refused = answer_for(call, asked, visits.get(asked, 0), _match(view))
                if view.listening and phase in PHASES:
                    return asked, answer, refused
                if answer.barge:
                    frames = caller.frames
                    speech_frames += sum(1 for f in frames[seen:] if f.speech)
                    seen = len(frames)
                    if speech_frames and spoken_from is None:
                        spoken_from = time.monotonic()
                    if spoken_from is not None and time.monotonic() - spoken_from >= BARGE_AFTER_S:
                        return asked, answer, refused
        await asyncio.sleep(0.02)
    raise TimeoutError("the bot asked nothing for 120 s")


async def play(caller: Any, voices: Voices, call: Call, index: int, answer: Answer) -> dict:
    """One answer on the line: its latency and whether the bot cut the caller off."""
    loop = asyncio.get_running_loop()
    turn: dict[str, Any] = {"spoken": answer.spoken, "barge": answer.barge}
    onset_gap = ONSET_GAP_S
    if not answer.spoken:
        # The prompt's frames all in first: keys sent on an idle line make any speech after
        # them the reply (speech_onset with no gap), even one glued to the prompt's last word.
        await until_line_idle(caller)
        for digit in answer.keys:
            await caller.dtmf(digit)
        turn.update(keys=answer.keys, cut_off=False, cut_reason="")
        ended = loop.time()  # the last key
        onset_gap = 0.0
    else:
        pcm, last_word = voices.render(call, index, answer)
        ends_before = len(TURN_ENDS)
        started = loop.time()
        ended = float(await caller.say(pcm))
        speech = [f.at for f in caller.frames if started <= f.at < ended and f.speech]
        reason = cut_off(
            started, started + last_word, ended, speech, TURN_ENDS[ends_before:], barge=answer.barge
        )
        turn.update(audio_s=round(len(pcm) / 16000, 2), cut_off=bool(reason), cut_reason=reason)
    latency = None
    if not turn["cut_off"]:
        first = await reply_onset(caller, ended, onset_gap)
        latency = round(first - ended, 3) if first is not None else None
    turn["latency_s"] = latency
    return turn


async def until_line_idle(caller: Any, limit_s: float = 3.0) -> None:
    """Wait (at most limit_s) until no bot frame has arrived for LINE_IDLE_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while loop.time() < deadline and not caller.closed:
        if line_idle([f.at for f in caller.frames[-1:]], loop.time()):
            return
        await asyncio.sleep(0.01)


async def reply_onset(caller: Any, since: float, gap_s: float = ONSET_GAP_S) -> float | None:
    """When the bot's reply started (calls_support.speech_onset), None when none came: the
    call ended, or the bot waits on."""
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    frames: list[tuple[float, bool]] = []
    seen = 0
    while time.monotonic() < deadline:
        new = caller.frames[seen:]
        seen += len(new)
        frames += [(f.at, f.speech) for f in new]
        if (onset := speech_onset(frames, since, gap_s)) is not None:
            return onset
        if caller.closed:
            return None
        await asyncio.sleep(0.02)
    return None


async def outcome_of(client: Any, settings: Any, cid: str) -> dict[str, Any]:
    """What the call led to: the booking row (booked address) and the workflow's outcome."""
    from activities.bookings.calendar_file import load_calendar
    from activities.bookings.engine import make_engine
    from activities.bookings.store import BookingStore
    from domain.live_call_models import LiveCallState
    from domain.names import STATE_QUERY, live_call_workflow_id

    handle = client.get_workflow_handle(live_call_workflow_id(cid))
    deadline = time.monotonic() + OUTCOME_TIMEOUT_S
    state = None
    while time.monotonic() < deadline:
        try:
            state = await handle.query(STATE_QUERY, result_type=LiveCallState)
        except Exception:  # not started yet, or already closed: ask again
            state = None
        if state is not None and state.status in ENDED_STATUSES:
            break
        await asyncio.sleep(0.25)
    store = BookingStore(
        make_engine(settings.booking.database_url), load_calendar(settings.booking.calendar_file)
    )
    # A call that books what an earlier booking already holds (same address and number: the
    # same caller calling back) gets that booking's reference, whose row names the first call.
    reference = state.booking_reference if state is not None else ""
    booking = store.get_by_reference(reference) if reference else store.get_by_call(cid)
    progress = state.progress if state is not None else None
    return {
        "status": state.status if state is not None else "",
        "outcome": progress.outcome if progress is not None else "",
        "transfer_reason": progress.transfer_reason if progress is not None else "",
        "booking_reference": reference,
        "booked": f"{booking.housenumber} {booking.street}, {booking.postcode} {booking.city}"
        if booking is not None
        else None,
    }


async def run_call(call: Call, tel: Any, client: Any, settings: Any, voices: Voices) -> dict:
    from tests.fakes.audiosocket_client import AudioSocketCaller

    turns: list[dict[str, Any]] = []
    visits: dict[str, int] = {}
    refused = 0
    stuck = False
    started = time.monotonic()
    went_on = tel.activities.went_on
    acknowledged = tel.activities.acknowledged
    error = ""
    async with AudioSocketCaller("127.0.0.1", tel.audiosocket_port or 0) as caller:
        cid = caller.call_id
        try:
            while True:
                asked = await next_question(tel, caller, call, len(turns), visits)
                if asked is None:
                    break
                if len(turns) >= MAX_TURNS:
                    stuck = True
                    break
                phase, answer, no = asked
                visits[phase] = visits.get(phase, 0) + 1
                refused += no
                turn = await play(caller, voices, call, len(turns), answer)
                turns.append({"phase": phase, **turn})
        except (TimeoutError, ConnectionError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    outcome = await outcome_of(client, settings, cid)
    transferred = outcome["outcome"] == "transfer"
    return {
        "id": call.id,
        "kind": call.kind,
        "condition": call.condition,
        "expect": call.expect,
        "expected_address": call.address.label(),
        "score": score(call, outcome["booked"], transferred),
        **outcome,
        "stuck": stuck,
        "error": error,
        "readbacks_refused": refused,
        # Turns the caller went on with after the bot took them as ended (RESUME_MS).
        "went_on": tel.activities.went_on - went_on,
        # Turns the bot acknowledged before its answer was ready (ACK_MS).
        "acknowledged": tel.activities.acknowledged - acknowledged,
        "wall_s": round(time.monotonic() - started, 1),
        "turns": turns,
    }


# ------------------------------------------------------------------------------- a rule
async def run_rule(calls: list[Call], voices: Voices, rule: str) -> dict[str, Any]:
    from workers.client import connect, ensure_search_attributes
    from workers.dev.devserver import DevServer
    from workers.settings import Settings
    from workers.telephony.live import RunningTelephony, run_telephony
    from workers.worker.composition import workers_running

    tmp = Path(tempfile.mkdtemp(prefix="encombot-bench-calls-"))
    load_before = os.getloadavg()
    data = tmp / "var"
    rows: list[dict[str, Any]] = []
    with DevServer(db_file=tmp / "temporal.sqlite", log_file=tmp / "temporal.log") as server:
        settings = bench_settings(Settings(), server.address, data, rule)
        data.mkdir(parents=True, exist_ok=True)
        client = await connect(settings)
        await ensure_search_attributes(client, settings.temporal.namespace)
        stop = asyncio.Event()
        ready: asyncio.Future[RunningTelephony] = asyncio.get_running_loop().create_future()
        async with workers_running(client, settings, "all"):
            task = asyncio.create_task(
                run_telephony(client, settings, stop=stop, on_ready=ready.set_result)
            )
            tel = await asyncio.wait_for(ready, 120)
            bot_clock: dict[str, list[float]] = {}
            try:
                for call in calls:
                    try:
                        row = await asyncio.wait_for(
                            run_call(call, tel, client, settings, voices), CALL_TIMEOUT_S
                        )
                    except TimeoutError:
                        row = {
                            "id": call.id,
                            "kind": call.kind,
                            "expect": call.expect,
                            "score": "missed",
                            "error": f"no end in {CALL_TIMEOUT_S} s",
                            "readbacks_refused": 0,
                            "turns": [],
                        }
                    print(f"  {rule} {call.id}: {row['score']} ({len(row['turns'])} turns)")
                    rows.append(row)
                # The bot's own clock, from the end of each turn it took: to its first
                # sound, and to the answer (the acknowledgement and « un instant » are not).
                bot_clock = {
                    "first_sound": list(tel.activities.turn_latencies),
                    "answer": list(tel.activities.answer_latencies),
                }
            finally:
                stop.set()
                await task
    summary = summarize(rows, percentile)
    for name, values in bot_clock.items():
        for q in (50, 95):
            summary[f"bot_{name}_p{q}_s"] = (
                round(percentile(values, q / 100), 3) if values else None
            )
    return {
        "rule": rule,
        "summary": summary,
        "calls": rows,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_before": load_before,
            "load_avg_after": os.getloadavg(),
        },
    }


SUMMARY_ROWS = (
    ("calls", "calls"),
    ("booked right", "booked_right_pct"),
    ("wrong bookings", "wrong_bookings"),
    ("transfers right/expected", None),
    ("unexpected transfers", "transfers_unexpected"),
    ("missed", "missed"),
    ("turns (spoken)", None),
    ("read-backs refused", "readbacks_refused"),
    ("latency p50 s", "latency_p50_s"),
    ("latency p95 s", "latency_p95_s"),
    ("keys latency p50 s", "keys_latency_p50_s"),
    ("cut-offs / spoken turns", None),
    ("went on after an end", "went_on"),
    ("acknowledged", "acknowledged"),
    ("bot: first sound p50 s", "bot_first_sound_p50_s"),
    ("bot: answer p50 s", "bot_answer_p50_s"),
    ("bot: answer p95 s", "bot_answer_p95_s"),
)


def summary_cell(s: dict[str, Any], label: str, key: str | None) -> str:
    if label.startswith("transfers"):
        return f"{s['transfers_right']}/{s['transfers_expected']}"
    if label.startswith("turns"):
        return f"{s['turns']} ({s['spoken_turns']})"
    if label.startswith("cut-offs"):
        return f"{s['cut_offs']}/{s['spoken_turns']} ({s['cut_off_pct']} %)"
    if key == "booked_right_pct":
        return f"{s['booked_right']}/{s['booked_expected']} ({s[key]} %)"
    return str(s.get(key)) if key else ""


def print_tables(reports: dict[str, dict[str, Any]]) -> None:
    rules = list(reports)
    print(f"{'':<26}" + "".join(f" | {r:>18}" for r in rules))
    for label, key in SUMMARY_ROWS:
        cells = [summary_cell(reports[r]["summary"], label, key) for r in rules]
        print(f"{label:<26}" + "".join(f" | {c:>18}" for c in cells))
    print()
    print(f"{'call':<22}" + "".join(f" | {r + ': outcome, turns, cut':>30}" for r in rules))
    for i, row in enumerate(reports[rules[0]]["calls"]):
        cells = []
        for r in rules:
            other = reports[r]["calls"][i]
            cut = sum(1 for t in other["turns"] if t["cut_off"])
            cells.append(f"{other['score']}, {len(other['turns'])}, {cut}")
        print(f"{row['id']:<22}" + "".join(f" | {c:>30}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--turn-rule", default="fixed,semantic,smart")
    parser.add_argument("--only", default="", help="call ids, comma-separated (before --calls)")
    parser.add_argument("--script", type=Path, default=None)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=Path("var/bench-calls.json"))
    args = parser.parse_args()
    rules = [r.strip() for r in args.turn_rule.split(",") if r.strip()]
    if not rules or not all(valid_spec(r) for r in rules):
        parser.error(f"--turn-rule: one or more of {', '.join(RULES)}, each with @PAD_S or not")
    script = load_script(args.script) if args.script else load_script()
    seed = script.seed if args.seed is None else args.seed
    chosen = script.calls
    if args.only:
        ids = [i.strip() for i in args.only.split(",") if i.strip()]
        if unknown := set(ids) - {c.id for c in chosen}:
            parser.error(f"--only: no call {', '.join(sorted(unknown))}")
        chosen = [c for c in chosen if c.id in ids]
    calls = select(chosen, args.calls, seed)
    voices = Voices(script, args.shared, seed)
    if missing := voices.missing():
        parser.error(f"caller audio missing: {', '.join(missing)} (set --shared)")
    started = time.monotonic()
    record_turn_ends()
    reports: dict[str, dict[str, Any]] = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for rule in rules:
        print(f"{rule}: {len(calls)} calls")
        reports[rule] = asyncio.run(run_rule(calls, voices, rule))
        # Written after each rule: a run stopped halfway keeps the rules it finished.
        out = {
            "what": "scripted live calls over AudioSocket, real time, one rule after the other",
            "seed": seed,
            "calls": [c.id for c in calls],
            "rules": reports,
            "wall_s": round(time.monotonic() - started, 1),
        }
        args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False), "utf-8")
    print_tables(reports)
    print(f"{out['wall_s']} s; load {os.getloadavg()}; written to {args.out}")


if __name__ == "__main__":
    main()
