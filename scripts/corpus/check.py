"""`make corpus-check`: transcribe a sample of the corpus with the project's Whisper and show
what the project's pipeline makes of it (PROJECT venv: faster-whisper, the model packages).

    .venv/bin/python -m scripts.corpus.check --dir var/corpus/dev --sample 20

The pipeline is `encombot eval`'s (workers.dev.evaluation: transcribe → understand → address
search → forced scoring → decision), run on the development gazetteer `ban-dev.csv.gz`; when
the project does not import, only the transcripts are shown (Whisper base, as
make_demo_voicemails.py --check). "Intelligible" = the street's name (without its type) is
found in the transcript (fuzzy, ≥ 0.75) and its number too (digits or words).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections import Counter
from pathlib import Path

from .places import ARRONDISSEMENTS, METROPOLE, fold, street_body
from .plan import stratified_sample
from .spoken import number_words

ROOT = Path(__file__).resolve().parents[2]


def heard_street(street: str, transcript: str) -> bool:
    target = fold(street_body(street)).split()
    words = fold(transcript).split()
    if not target:
        return False
    size = len(target)
    windows = [" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))]
    goal = " ".join(target)
    return any(difflib.SequenceMatcher(None, goal, w).ratio() >= 0.75 for w in windows)


def heard_number(housenumber: str, transcript: str) -> bool:
    number = int(housenumber.split()[0])
    folded = fold(transcript)
    return str(number) in folded.split() or fold(number_words(number)) in folded


def pipeline(directory: Path, geodata: Path):
    """The eval pipeline of the project, or None (transcripts only)."""
    sys.path.insert(0, str(ROOT))
    try:
        from workers.dev.evaluation import EvalOptions, build_pipeline
        from workers.settings import Settings

        ban = directory / "ban-dev.csv.gz"
        sectors = [geodata / ARRONDISSEMENTS, geodata / METROPOLE]
        return build_pipeline(Settings(), ban, sectors, EvalOptions())
    except Exception as exc:
        print(f"(project pipeline unavailable: {type(exc).__name__}: {exc}; transcripts only)")
        return None


def whisper_only():
    from scripts import make_demo_voicemails as demo

    model = demo.whisper_model()

    def run(entry: dict, directory: Path) -> dict:
        segments, _ = model.transcribe(
            str(directory / entry["audio"]),
            language="fr",
            vad_filter=True,
            beam_size=5,
            temperature=0.0,
        )
        return {"transcript": " ".join(s.text.strip() for s in segments)}

    return run


def report(entry: dict, pred: dict, tally: Counter) -> None:
    exp = entry["expected"]
    heard = pred.get("transcript", "")
    print(
        f"{entry['id']} {entry['kind']} | {entry['speaker']} | {entry['condition']} | "
        f"{entry['phrasing']}"
    )
    print(f"    said : {entry['text']}")
    print(f"    heard: {heard}")
    address = exp["address"] or entry.get("spoken_address")
    if address:
        street_ok = heard_street(address["street"], heard)
        number_ok = heard_number(address["housenumber"], heard)
        tally["addresses"] += 1
        tally["street heard"] += street_ok
        tally["street and number heard"] += street_ok and number_ok
    if "decision" not in pred:
        return
    got = pred.get("address") or {}
    label = f"{got.get('housenumber', '')} {got.get('street', '')} {pred.get('sector', '')}".strip()
    print(
        f"    bot  : intent={pred['intent']} decision={pred['decision']} "
        f"conf={pred['confidence']} address={label or '-'}"
    )
    want = exp["address"]
    print(
        f"    want : intent={exp['intent']} outcome={exp['outcome']} address="
        + (f"{want['housenumber']} {want['street']} {exp['sector']}" if want else "-")
    )
    tally["messages"] += 1
    tally["intent right"] += pred["intent"] == exp["intent"]
    full = (
        bool(want)
        and got.get("street") == want["street"]
        and pred.get("sector") == exp["sector"]
        and str(got.get("housenumber", "")).replace(" ", "") == want["housenumber"].replace(" ", "")
    )
    if want and exp["intent"] == "booking":
        tally["bookable"] += 1
        tally["address fully right"] += full
    if pred["decision"] == "book" and not (exp["intent"] == "booking" and full):
        tally["WRONG automatic booking"] += 1
    tally[f"decision {pred['decision']}"] += 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=ROOT / "var" / "corpus" / "dev")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--only", action="append", default=[], metavar="ID")
    ap.add_argument("--whisper-only", action="store_true", help="transcripts, no pipeline")
    args = ap.parse_args(argv)
    entries = json.loads((args.dir / "voicemails.json").read_text(encoding="utf-8"))
    present = [e for e in entries if (args.dir / e["audio"]).is_file()]
    chosen = (
        [e for e in present if e["id"] in args.only]
        if args.only
        else stratified_sample(present, args.sample, args.seed)
    )
    if not chosen:
        print(f"no audio under {args.dir}/audio (run `make corpus` first)")
        return 1
    pipe = None if args.whisper_only else pipeline(args.dir, args.shared / "geodata")
    run = whisper_only() if pipe is None else (lambda e, d: pipe.run(e, d).prediction)
    tally: Counter = Counter()
    for entry in chosen:
        report(entry, run(entry, args.dir), tally)
    print("summary: " + ", ".join(f"{k}={v}" for k, v in sorted(tally.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
