"""Side by side: the audio vote (address candidates, house numbers, items) computed the former
way and the current way, on the same inputs in one process, alternated, with process CPU time
per message (robust to other load on the host), and whether each voicemail's choice is the
same. The former way is `--baseline main` (default: every text scored, `prune=False`, the
scoring before the pruning of issue 15) or `--baseline legacy` (clip encoded padded to 30 s,
`legacy=True`).

    PYTHONPATH=. .venv/bin/python bench/bench_scoring.py ../shared/voicemails \
        --ban ../shared/geodata/adresses-13-marseille-synthetique.csv.gz \
        --sectors ../shared/geodata/marseille-arrondissements-osm-20160128.geojson \
        --sectors ../shared/geodata/communes-metropole-aix-marseille-provence.geojson \
        --inputs var/bench-scoring-inputs.pickle --out var/bench-scoring.json

`--inputs`: the scoring inputs of each voicemail are kept in that file after a first run and
read back by the next ones (the transcription and the rest of the pipeline are then not run,
and their CPU is not reported).

The inputs of the scoring steps are those the evaluation pipeline builds (its transcription,
understanding and gazetteer search). Per message: the CPU of the transcription (the same in
both paths), of each path's scoring, and the comparison: the street the address step would
pick (domain.geotext.combined_street_score, as activities/speech/address.py), whether the
transcript itself beats it, the best house number, the old winner's rank under the new
scores, and the items refined. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import statistics
import time
from pathlib import Path
from typing import Any

from activities.speech import address, items
from domain import geotext
from domain.address_models import AddressScores, AddressScoringInput, ItemRefineInput
from domain.models import Understanding
from workers.dev.evaluation import EvalOptions, build_pipeline, load_voicemail_set
from workers.settings import Settings

# The resolver's temperatures and parsed-number evidence (activities/geo/resolver.py).
STREET_TEMPERATURE = 1.1
NUMBER_TEMPERATURE = 1.1
PARSED_NUMBER_NATS = 4.0


def _top_probability(values: list[float], temperature: float) -> float:
    top = max(values)
    return 1.0 / sum(math.exp((v - top) / temperature) for v in values)


class _Counting:
    """Proxy around the CTranslate2 Whisper object: counts the texts given to `align`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.texts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def align(self, features: Any, start: Any, tokens: list[Any], *a: Any, **k: Any) -> Any:
        self.texts += len(tokens)
        return self._inner.align(features, start, tokens, *a, **k)


def address_choice(inp: AddressScoringInput, s: AddressScores) -> dict[str, Any]:
    """What the address step takes from the scores: the best street (index), the order of
    the streets, whether the transcript beats it, the best house number."""
    if not s.street_scores:
        return {"reason": s.reason}
    streets = inp.candidates.candidates[: len(s.street_scores)]
    combined = [
        geotext.combined_street_score(sc, c.text_score, c.locality)
        for sc, c in zip(s.street_scores, streets, strict=True)
    ]
    order = sorted(range(len(combined)), key=lambda k: -combined[k])
    number = ""
    p_number = None
    if s.number_scores:
        number = s.numbers[max(range(len(s.numbers)), key=lambda k: s.number_scores[k])]
        parsed = geotext.parse_housenumber(inp.candidates.parsed_housenumber or "")
        values = [
            v + (PARSED_NUMBER_NATS if geotext.parse_housenumber(n) == parsed else 0.0)
            for n, v in zip(s.numbers, s.number_scores, strict=True)
        ]
        p_number = _top_probability(values, NUMBER_TEMPERATURE)
    return {
        "street": order[0],
        "order": order,
        "heard_beats": s.heard_score is not None and s.heard_score > s.street_scores[order[0]],
        "number": number,
        "p_street": _top_probability(combined, STREET_TEMPERATURE),
        "p_number": p_number,
    }


def item_choice(u: Understanding) -> list[Any]:
    return sorted([i.item, i.count] for i in [*u.items, *u.refused_items])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", type=Path)
    ap.add_argument("--ban", type=Path, required=True)
    ap.add_argument("--sectors", type=Path, action="append", required=True)
    ap.add_argument("--count", type=int, default=0, help="first N voicemails (0: all)")
    ap.add_argument("--out", type=Path, default=Path("var/bench-scoring.json"))
    ap.add_argument("--baseline", choices=("main", "legacy"), default="main")
    ap.add_argument("--inputs", type=Path, help="scoring inputs kept between runs (pickle)")
    args = ap.parse_args()
    pipeline = build_pipeline(Settings(), args.ban, args.sectors, EvalOptions())
    stt = pipeline.stt
    whisper = stt.model()
    stt.silence_encoding()
    counting = _Counting(whisper.model)
    whisper.model = counting
    # The former path: (legacy, prune) as score_address_candidates and refine_items take them.
    paths = {"old": (args.baseline == "legacy", False), "new": (False, True)}
    captured: dict[str, Any] = {}
    transcribe = stt.transcribe_file

    def capture_transcribe(*a: Any, **k: Any) -> Any:
        c0 = time.process_time()
        out = transcribe(*a, **k)
        captured["transcribe_cpu"] = time.process_time() - c0
        return out

    def capture_score(inp: AddressScoringInput) -> AddressScores:
        captured["score"] = inp
        return address.score_address_candidates(stt, inp)

    def capture_refine(inp: ItemRefineInput) -> Understanding:
        captured["refine"] = inp
        return items.refine_items(stt, stt.catalogue, stt.territory, inp)

    stt.transcribe_file = capture_transcribe
    stt.score_address_candidates = capture_score
    stt.refine_items = capture_refine
    entries = load_voicemail_set(args.directory)
    if args.count:
        entries = entries[: args.count]
    kept: dict[str, dict[str, Any]] = {}
    if args.inputs is not None and args.inputs.is_file():
        with args.inputs.open("rb") as handle:
            kept = pickle.load(handle)
    rows = []
    for n, entry in enumerate(entries):
        captured.clear()
        if entry["id"] in kept:
            captured.update(kept[entry["id"]])
        else:
            pipeline.run(entry, args.directory)
            kept[entry["id"]] = {k: v for k, v in captured.items() if k in ("score", "refine")}
        row: dict[str, Any] = {"id": entry["id"], "transcribe_cpu": captured.get("transcribe_cpu")}
        runs: dict[str, dict[str, Any]] = {}
        # Alternated: the old path first on even messages, the new one first on odd ones.
        for key in ("old", "new") if n % 2 == 0 else ("new", "old"):
            legacy, prune = paths[key]
            out: dict[str, Any] = {}
            counting.texts = 0
            c0 = time.process_time()
            if "score" in captured:
                sc = address.score_address_candidates(
                    stt, captured["score"], legacy=legacy, prune=prune
                )
                out["address"] = address_choice(captured["score"], sc)
                out["street_scores"] = sc.street_scores
                out["number_scores"] = sc.number_scores
            if "refine" in captured:
                u = items.refine_items(
                    stt, stt.catalogue, stt.territory, captured["refine"], legacy=legacy
                )
                out["items"] = item_choice(u)
            out["cpu"] = round(time.process_time() - c0, 3)
            out["texts_aligned"] = counting.texts
            runs[key] = out
        row.update(runs)
        old_a, new_a = runs["old"].get("address"), runs["new"].get("address")
        row["same_address"] = (
            old_a is None
            or new_a is None
            or "reason" in old_a
            or (
                old_a["street"] == new_a["street"]
                and old_a["heard_beats"] == new_a["heard_beats"]
                and old_a["number"] == new_a["number"]
            )
        )
        if old_a and "order" in old_a and new_a and "order" in new_a:
            row["old_winner_new_rank"] = new_a["order"].index(old_a["street"])
            row["p_street_diff"] = abs(old_a["p_street"] - new_a["p_street"])
            if old_a["p_number"] is not None and new_a["p_number"] is not None:
                row["p_number_diff"] = abs(old_a["p_number"] - new_a["p_number"])
        row["same_items"] = runs["old"].get("items") == runs["new"].get("items")
        rows.append(row)
        print(
            f"{entry['id']}: old {runs['old']['cpu']:.2f} s ({runs['old']['texts_aligned']} texts)"
            f" new {runs['new']['cpu']:.2f} s ({runs['new']['texts_aligned']} texts) "
            f"same_address={row['same_address']} same_items={row['same_items']}",
            flush=True,
        )
    if args.inputs is not None:
        args.inputs.parent.mkdir(parents=True, exist_ok=True)
        with args.inputs.open("wb") as handle:
            pickle.dump(kept, handle)
    stt_cpu = [r["transcribe_cpu"] or 0.0 for r in rows]
    old = [r["old"]["cpu"] for r in rows]
    new = [r["new"]["cpu"] for r in rows]
    report = {
        "messages": len(rows),
        "baseline": args.baseline,
        "texts_aligned_per_message": {
            k: round(statistics.mean(r[k]["texts_aligned"] for r in rows), 1)
            for k in ("old", "new")
        },
        "max_p_street_diff": max((r.get("p_street_diff", 0.0) for r in rows), default=0.0),
        "max_p_number_diff": max((r.get("p_number_diff", 0.0) for r in rows), default=0.0),
        "scoring_cpu_s_per_message": {
            "old": round(statistics.mean(old), 3),
            "new": round(statistics.mean(new), 3),
            "ratio": round(sum(old) / max(sum(new), 1e-9), 2),
        },
        # Without the transcription's CPU when the inputs were read from --inputs.
        "stt_plus_scoring_cpu_s_per_message": {
            "old": round(statistics.mean(a + b for a, b in zip(stt_cpu, old, strict=True)), 3),
            "new": round(statistics.mean(a + b for a, b in zip(stt_cpu, new, strict=True)), 3),
            "ratio": round((sum(stt_cpu) + sum(old)) / max(sum(stt_cpu) + sum(new), 1e-9), 2),
        },
        "same_address": sum(r["same_address"] for r in rows),
        "same_items": sum(r["same_items"] for r in rows),
        "differ": [r["id"] for r in rows if not (r["same_address"] and r["same_items"])],
        "per_voicemail": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "per_voicemail"}, indent=2))


if __name__ == "__main__":
    main()
