"""CTranslate2 threads against activity concurrency on the STT worker (issue 15): the three
STT steps of each development voicemail (transcription, items' vote, address vote, with the
inputs the evaluation pipeline gives them) run as a worker runs them, C messages at once, on a
model with W replicas (`ENCOMBOT_STT__NUM_WORKERS`) of T threads each
(`ENCOMBOT_STT__CPU_THREADS`, 0: CTranslate2's default). Each configuration runs in a process
of its own (its peak RSS is its own), after one message to warm up, and the configurations
are alternated over the rounds so that a noisy host weighs on all of them alike. Reports the
wall time, messages per hour of these steps alone (the rest of the system costs ~0.5 CPU-s a
message more, `make bench-backlog`), CPU-s per message, cores used, peak RSS, and whether the
results are those of the first configuration.

    PYTHONPATH=. .venv/bin/python bench/bench_stt_threads.py ../shared/voicemails \\
        --ban ../shared/geodata/adresses-13-marseille-synthetique.csv.gz \\
        --sectors ../shared/geodata/marseille-arrondissements-osm-20160128.geojson \\
        --configs 1:0:2,2:1:2,1:1:2,1:2:1 --rounds 2 --out var/bench-stt-threads.json

A configuration is W:T:C. Not a test: it asserts nothing."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

STEPS = ("transcribe_file", "refine_items", "score_address_candidates")


def _capture(directory: Path, count: int, ban: Path, sectors: list[Path]) -> list[dict]:
    """Each voicemail's STT inputs, as the evaluation pipeline (the workflow's steps) gives
    them."""
    from workers.dev.evaluation import EvalOptions, build_pipeline, load_voicemail_set
    from workers.settings import Settings

    pipeline = build_pipeline(Settings(), ban, sectors, EvalOptions())
    stt = pipeline.stt
    seen: dict[str, dict[str, Any]] = {}
    for method in STEPS:
        inner = getattr(stt, method)

        def wrapped(inp: Any, *a: Any, _m: str = method, _f: Any = inner, **k: Any) -> Any:
            seen.setdefault(inp.call_id, {})[_m] = inp
            return _f(inp, *a, **k)

        setattr(stt, method, wrapped)
    entries = load_voicemail_set(directory)[:count]
    for entry in entries:
        pipeline.run(entry, directory)
    return [inputs for inputs in seen.values() if "transcribe_file" in inputs]


def _comparable(result: Any) -> Any:
    d = dict(vars(result))
    d.pop("processing_s", None)
    return repr(d)


def _child(inputs_path: Path, workers: int, threads: int, concurrency: int) -> dict[str, Any]:
    from activities.geo.territory_file import load_territory
    from activities.speech.engine import SpeechEngine
    from activities.understand import load_catalogue
    from workers.settings import Settings

    settings = Settings()
    stt_settings = settings.stt.model_copy(update={"num_workers": workers, "cpu_threads": threads})
    stt = SpeechEngine(
        stt_settings,
        load_catalogue(settings.booking.items_file),
        territory=load_territory(settings.geo.territory_dir),
    )
    messages: list[dict[str, Any]] = pickle.loads(inputs_path.read_bytes())

    def run(inputs: dict[str, Any]) -> list[str]:
        return [_comparable(getattr(stt, m)(inputs[m])) for m in STEPS if m in inputs]

    stt.silence_encoding()
    run(messages[0])  # warm-up: model loaded, first-call allocations made
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(run, messages))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "results": results,
    }


def _run_config(inputs_path: Path, config: str) -> dict[str, Any]:
    workers, threads, concurrency = (int(x) for x in config.split(":"))
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            str(inputs_path),
            "--configs",
            config,
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    report.update(workers=workers, threads=threads, concurrency=concurrency)
    return report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", type=Path, nargs="?")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--configs", default="1:0:2,2:1:2,1:1:2,1:2:1")
    ap.add_argument("--ban", type=Path)
    ap.add_argument("--sectors", type=Path, action="append")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=Path("var/bench-stt-threads.json"))
    args = ap.parse_args()
    if args.child is not None:
        w, t, c = (int(x) for x in args.configs.split(":"))
        print(json.dumps(_child(args.child, w, t, c)))
        return
    if args.directory is None or args.ban is None or not args.sectors:
        ap.error("the voicemail directory, --ban and --sectors are required")
    configs = args.configs.split(",")
    messages = _capture(args.directory, args.count, args.ban, args.sectors)
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        inputs_path = Path(tmp) / "inputs.pickle"
        inputs_path.write_bytes(pickle.dumps(messages))
        for r in range(args.rounds):
            # Alternated: each round in another order.
            order = configs[r % len(configs) :] + configs[: r % len(configs)]
            for config in order:
                runs[config].append(_run_config(inputs_path, config))
                last = runs[config][-1]
                print(f"round {r + 1} {config}: {last['wall_s']:.1f} s", file=sys.stderr)
    reference = runs[configs[0]][0]["results"]
    n = len(messages)
    table = []
    for config, reps in runs.items():
        wall = statistics.median(x["wall_s"] for x in reps)
        cpu = statistics.median(x["cpu_s"] for x in reps)
        table.append(
            {
                "config": config,
                "workers": reps[0]["workers"],
                "threads": reps[0]["threads"],
                "concurrency": reps[0]["concurrency"],
                "wall_s": [round(x["wall_s"], 1) for x in reps],
                "messages_per_hour": round(n * 3600 / wall),
                "cpu_s_per_message": round(cpu / n, 3),
                "cores_used": round(cpu / wall, 2),
                "peak_rss_mib": round(max(x["peak_rss_mib"] for x in reps)),
                "same_results_as_first": sum(
                    a == b for x in reps for a, b in zip(x["results"], reference, strict=True)
                ),
                "results": len(reference) * len(reps),
            }
        )
    report = {"messages": n, "rounds": args.rounds, "cores": os.cpu_count(), "table": table}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"{n} messages, STT steps only, median of {args.rounds} rounds, {os.cpu_count()} cores")
    print("W:T:C      msg/h   CPU-s/msg  cores  RSS MiB  same results")
    for row in table:
        print(
            f"{row['config']:9} {row['messages_per_hour']:6} {row['cpu_s_per_message']:10} "
            f"{row['cores_used']:6} {row['peak_rss_mib']:8}  "
            f"{row['same_results_as_first']}/{row['results']}"
        )


if __name__ == "__main__":
    main()
