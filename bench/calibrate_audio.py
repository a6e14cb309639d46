"""The auto-booking threshold of the audio path chosen on training folds, reported on held-out
folds and held-out speakers (issue 16): `bench/calibrate_folds.py` on the recordings.

`calibrate_folds.py` calibrates the text-only path on an ASR-error channel in a minute; the
workflow's usual path is another: Whisper's transcript, the items' and the address's audio
votes, whose confidence is scaled otherwise. This runs `encombot eval`'s pipeline (the
workflow's steps, in-process) on every message of a corpus with audio (`make corpus SEED=…
CORPUS_DIR=…`: synthetic voices through telephone conditions), keeps what each decision stands
on, and applies the same procedure: the smallest threshold whose wrong automatic bookings stay
≤ `--max-wrong` on the training folds, reported on the held-out fold, by message and by
speaker, with the decisions per kind and per condition and the reliability curve.

The first-pass transcripts are cached under the corpus (`transcripts/`, keyed by the audio
and the STT settings); the outcomes are kept in `--outcomes` as the run goes (a run stopped
midway resumes where it stopped; `--report-only` reads them back without the model;
`--fresh` runs every message again, as after a change of the code). About 5 CPU-s per
message on two cores.

    PYTHONPATH=. .venv/bin/python bench/calibrate_audio.py --corpus var/corpus/audio4646 \\
        --seed 4646 --out var/calibration-audio.json
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.calibrate_folds import (
    Outcome,
    build_report,
    fold_arguments,
    is_booking,
    print_report,
    sectors_of,
)
from domain.decision import AUDIO_BOOK_THRESHOLD


def _with_audio(corpus: Path) -> list[dict[str, Any]]:
    entries = json.loads((corpus / "voicemails.json").read_text(encoding="utf-8"))
    return [e for e in entries if (corpus / e["audio"]).is_file()]


def _load(path: Path) -> dict[str, Outcome]:
    if not path.is_file():
        return {}
    done: dict[str, Outcome] = pickle.loads(path.read_bytes())
    return done


def _save(path: Path, done: dict[str, Outcome]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(done))
    tmp.replace(path)


def run_audio(
    corpus: Path, shared: Path, outcomes_file: Path, limit: int = 0, fresh: bool = False
) -> list[Outcome]:
    from workers.dev.evaluation import EvalOptions, build_pipeline
    from workers.settings import Settings

    entries = _with_audio(corpus)
    # The outcomes kept are the code's that made them: after a change, --fresh.
    done = {} if fresh else _load(outcomes_file)
    pipe = build_pipeline(
        Settings(),
        corpus / "ban-dev.csv.gz",
        sectors_of(shared),
        EvalOptions(),
        transcript_cache=corpus / "transcripts",
    )
    started = time.perf_counter()
    todo = [e for e in entries if e["id"] not in done]
    if limit:
        todo = todo[:limit]
    try:
        for n, entry in enumerate(todo, 1):
            run = pipe.run(entry, corpus)
            exp = entry.get("expected") or {}
            done[entry["id"]] = Outcome(
                entry["id"],
                entry.get("speaker", ""),
                entry.get("kind", ""),
                is_booking(exp),
                run.request,
                run.geo if not run.request else None,
                exp,
                run.can_text,
                entry.get("condition", ""),
                run.prediction,
            )
            if n % 10 == 0:
                _save(outcomes_file, done)
                rate = (time.perf_counter() - started) / n
                print(f"[{len(done)}/{len(entries)}] {rate:.1f} s per message", flush=True)
    finally:
        _save(outcomes_file, done)
    return [done[e["id"]] for e in entries if e["id"] in done]


# The figures of `encombot eval` besides the address decisions (workers/dev/eval_metrics.py).
_EVAL_KEYS = (
    "messages",
    "intent_accuracy",
    "items_f1",
    "items_precision",
    "items_recall",
    "caller_name_right",
    "callback_number_right",
    "both_requests_heard",
    "address_fully_right",
    "wrong_automatic_decisions",
    "escalation_rate",
    "sms_confirmation_rate",
)


def eval_figures(corpus: Path, outcomes: list[Outcome]) -> dict[str, Any]:
    """`encombot eval`'s metrics on the messages whose prediction was kept (outcomes made
    before it was have none: --fresh)."""
    from activities.understand import load_catalogue
    from workers.dev.eval_metrics import compute_metrics

    kept = {o.id: o.prediction for o in outcomes if o.prediction is not None}
    if not kept:
        return {}
    entries = [e for e in _with_audio(corpus) if e["id"] in kept]
    metrics = compute_metrics(entries, [kept[e["id"]] for e in entries], load_catalogue())
    return {key: metrics[key] for key in _EVAL_KEYS}


def main() -> None:
    parser = fold_arguments(__doc__.splitlines()[0])
    parser.add_argument("--outcomes", type=Path, help="default: <corpus>/audio-outcomes.pickle")
    parser.add_argument("--limit", type=int, default=0, help="run at most N new messages")
    parser.add_argument("--fresh", action="store_true", help="run every message again")
    parser.add_argument("--report-only", action="store_true", help="the outcomes kept, no run")
    parser.add_argument("--out", type=Path, default=Path("var/calibration-audio.json"))
    args = parser.parse_args()
    outcomes_file = args.outcomes or args.corpus / "audio-outcomes.pickle"
    if args.report_only:
        kept = _load(outcomes_file)
        outcomes = [kept[e["id"]] for e in _with_audio(args.corpus) if e["id"] in kept]
    else:
        outcomes = run_audio(args.corpus, args.shared, outcomes_file, args.limit, args.fresh)
    if not outcomes:
        sys.exit(f"no outcome: no audio under {args.corpus} (make corpus) or none kept")
    report = build_report(outcomes, args.folds, args.seed, args.max_wrong, AUDIO_BOOK_THRESHOLD)
    report["path"] = "audio"
    report["eval"] = eval_figures(args.corpus, outcomes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print_report(report, args.folds)
    if report["eval"]:
        print()
        print(f"encombot eval's figures, at the committed threshold: {report['eval']}")


if __name__ == "__main__":
    main()
