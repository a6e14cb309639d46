"""Where the CPU-seconds of the speech steps go: the evaluation pipeline run on a few
development voicemails with a timer (process CPU time) around every CTranslate2 call
(encode, generate, align, detect_language) and the feature extraction, per step.

    PYTHONPATH=. .venv/bin/python bench/profile_speech.py ../shared/voicemails --count 8 \
        --ban ../shared/geodata/adresses-13-marseille-synthetique.csv.gz \
        --sectors ../shared/geodata/marseille-arrondissements-osm-20160128.geojson \
        --out var/profile-speech.json

Not a test: it asserts nothing."""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from workers.dev.evaluation import EvalOptions, build_pipeline, load_voicemail_set
from workers.settings import Settings

STEP: list[str] = ["-"]
CPU: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
BATCH: dict[str, int] = defaultdict(int)


class _Timed:
    """Proxy around the CTranslate2 Whisper object: each method call's CPU time is booked
    under (step, method)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            c0 = time.process_time()
            out = attr(*args, **kwargs)
            key = f"{STEP[0]}/{name}"
            CPU[key] += time.process_time() - c0
            CALLS[key] += 1
            # A call whose first argument has no shape has no batch count.
            with contextlib.suppress(Exception):
                BATCH[key] += int(args[0].shape[0])
            return out

        return call


class _Features:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __call__(self, *a: Any, **k: Any) -> Any:
        c0 = time.process_time()
        out = self._inner(*a, **k)
        CPU[f"{STEP[0]}/features"] += time.process_time() - c0
        CALLS[f"{STEP[0]}/features"] += 1
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", type=Path)
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--ban", type=Path, required=True)
    ap.add_argument("--sectors", type=Path, action="append", required=True)
    ap.add_argument("--out", type=Path, default=Path("var/profile-speech.json"))
    args = ap.parse_args()
    pipeline = build_pipeline(Settings(), args.ban, args.sectors, EvalOptions())
    stt = pipeline.stt
    model = stt.model()
    model.model = _Timed(model.model)
    model.feature_extractor = _Features(model.feature_extractor)
    stt.silence_encoding()
    CPU.clear()
    CALLS.clear()
    BATCH.clear()
    step_cpu: dict[str, float] = defaultdict(float)
    for name, method in (
        ("transcribe", "transcribe_file"),
        ("score", "score_address_candidates"),
        ("refine", "refine_items"),
    ):
        inner = getattr(stt, method)

        def wrapped(*a: Any, _n: str = name, _m: Any = inner, **k: Any) -> Any:
            STEP[0] = _n
            c0 = time.process_time()
            try:
                return _m(*a, **k)
            finally:
                step_cpu[_n] += time.process_time() - c0
                STEP[0] = "-"

        setattr(stt, method, wrapped)
    entries = load_voicemail_set(args.directory)[: args.count]
    ids = [str(e["id"]) for e in entries]
    c0 = time.process_time()
    for entry in entries:
        pipeline.run(entry, args.directory)
    total = time.process_time() - c0
    n = len(ids)
    rows = sorted(CPU.items(), key=lambda kv: -kv[1])
    report = {
        "voicemails": ids,
        "cpu_s_per_message_total": round(total / n, 3),
        "cpu_s_per_message_by_step": {k: round(v / n, 3) for k, v in step_cpu.items()},
        "cpu_s_per_message_by_call": {k: round(v / n, 3) for k, v in rows},
        "calls_per_message": {k: round(CALLS[k] / n, 1) for k, _ in rows},
        "batch_items_per_message": {k: round(BATCH[k] / n, 1) for k, _ in rows if k in BATCH},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
