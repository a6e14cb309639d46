"""Benchmark: transcription real-time factor and end-to-end voicemail -> SMS seconds.

    .venv/bin/python bench/bench_voicemails.py --out var/bench.json [--dir corpus/demo]
        [--repeat 1]

Transcription is timed in-process on each voicemail (model loaded once, load time reported
apart). End-to-end runs the real system: a Temporal dev server, one worker (role all), the
voicemails submitted one at a time, timed from submission to the SMS in the outbox or the
escalation. Writes JSON; prints a summary. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from activities.speech.engine import SpeechEngine
from corpus import DEMO_DIR
from domain.models import TranscribeInput
from domain.stats import percentile
from workers.client import connect
from workers.dev.demo import demo_settings, process_voicemails
from workers.dev.devserver import DevServer
from workers.settings import Settings
from workers.worker.composition import workers_running


def bench_transcription(
    settings: Settings, entries: list[dict[str, Any]], base: Path, repeat: int
) -> dict[str, Any]:
    stt = SpeechEngine(settings.stt)
    started = time.perf_counter()
    stt.model()
    load_s = time.perf_counter() - started
    rows = []
    for entry in entries:
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = stt.transcribe_file(TranscribeInput(audio_path=str(base / entry["audio"])))
            wall = time.perf_counter() - t0
            rows.append(
                {
                    "id": entry["id"],
                    "audio_s": result.duration_s,
                    "wall_s": round(wall, 3),
                    "rtf": round(wall / result.duration_s, 4),
                    "transcript": result.text,
                }
            )
    rtfs: list[float] = [float(r["rtf"]) for r in rows]
    return {
        "model_load_s": round(load_s, 3),
        "rtf_mean": round(statistics.mean(rtfs), 4),
        "rtf_p95": round(percentile(rtfs, 0.95), 4),
        "per_voicemail": rows,
    }


async def bench_end_to_end(settings: Settings, entries: list[dict[str, Any]]) -> dict[str, Any]:
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        with DevServer(db_file=data / "temporal.sqlite", headless=True) as server:
            s = demo_settings(settings, data)
            s = s.model_copy(
                update={"temporal": s.temporal.model_copy(update={"address": server.address})}
            )
            client = await connect(s)
            async with workers_running(client, s, "all"):
                outcomes = await process_voicemails(
                    client, s, entries, time.strftime("%H%M%S"), console
                )
    rows = [
        {"call_id": o.call_id, "status": o.status, "seconds": round(o.seconds, 3)} for o in outcomes
    ]
    secs = [round(o.seconds, 3) for o in outcomes]
    return {
        "e2e_mean_s": round(statistics.mean(secs), 3),
        "e2e_p95_s": round(percentile(secs, 0.95), 3),
        "per_voicemail": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEMO_DIR, help="voicemail set directory")
    parser.add_argument("--out", type=Path, default=Path("var/bench.json"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    entries = json.loads((args.dir / "voicemails.json").read_text(encoding="utf-8"))
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "stt": {
            "compute_type": settings.stt.compute_type,
            "beam_size": settings.stt.beam_size,
            "vad_filter": settings.stt.vad_filter,
        },
        "transcription": bench_transcription(settings, entries, args.dir, args.repeat),
    }
    if not args.skip_e2e:
        report["end_to_end"] = asyncio.run(bench_end_to_end(settings, entries))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    tr = report["transcription"]
    print(f"model load {tr['model_load_s']} s; RTF mean {tr['rtf_mean']} p95 {tr['rtf_p95']}")
    for row in tr["per_voicemail"]:
        print(
            f"  {row['id']}: {row['audio_s']:.1f} s audio, {row['wall_s']:.2f} s, RTF {row['rtf']}"
        )
    if "end_to_end" in report:
        e2e = report["end_to_end"]
        print(f"end-to-end mean {e2e['e2e_mean_s']} s, p95 {e2e['e2e_p95_s']} s")
        for row in e2e["per_voicemail"]:
            print(f"  {row['call_id']}: {row['status']} in {row['seconds']} s")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
