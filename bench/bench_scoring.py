"""Side by side: the audio vote (address candidates, house numbers, items) computed the former
way (clip encoded padded to 30 s, `legacy=True`) and the current way, on the same inputs in one
process, alternated, with process CPU time per message (robust to other load on the host), and
whether each voicemail's choice is the same.

    PYTHONPATH=. .venv/bin/python bench/bench_scoring.py ../shared/voicemails \
        --ban ../shared/geodata/adresses-13-marseille-synthetique.csv.gz \
        --sectors ../shared/geodata/marseille-arrondissements-osm-20160128.geojson \
        --sectors ../shared/geodata/communes-metropole-aix-marseille-provence.geojson \
        --out var/bench-scoring.json

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
    if s.number_scores:
        number = s.numbers[max(range(len(s.numbers)), key=lambda k: s.number_scores[k])]
    return {
        "street": order[0],
        "order": order,
        "heard_beats": s.heard_score is not None and s.heard_score > s.street_scores[order[0]],
        "number": number,
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
    args = ap.parse_args()
    pipeline = build_pipeline(Settings(), args.ban, args.sectors, EvalOptions())
    stt = pipeline.stt
    stt.model()
    stt.silence_encoding()
    captured: dict[str, Any] = {}
    transcribe = stt.transcribe_file

    def capture_transcribe(*a: Any, **k: Any) -> Any:
        c0 = time.process_time()
        out = transcribe(*a, **k)
        captured["transcribe_cpu"] = time.process_time() - c0
        return out

    def capture_score(inp: AddressScoringInput) -> AddressScores:
        captured["score"] = inp
        return address.score_address_candidates(stt, inp, legacy=True)

    def capture_refine(inp: ItemRefineInput) -> Understanding:
        captured["refine"] = inp
        return items.refine_items(stt, stt.catalogue, stt.territory, inp, legacy=True)

    stt.transcribe_file = capture_transcribe
    stt.score_address_candidates = capture_score
    stt.refine_items = capture_refine
    entries = load_voicemail_set(args.directory)
    if args.count:
        entries = entries[: args.count]
    rows = []
    for n, entry in enumerate(entries):
        captured.clear()
        pipeline.run(entry, args.directory)
        row: dict[str, Any] = {"id": entry["id"], "transcribe_cpu": captured.get("transcribe_cpu")}
        runs: dict[str, dict[str, Any]] = {}
        # Alternated: the old path first on even messages, the new one first on odd ones.
        for legacy in (True, False) if n % 2 == 0 else (False, True):
            key = "old" if legacy else "new"
            out: dict[str, Any] = {}
            c0 = time.process_time()
            if "score" in captured:
                sc = address.score_address_candidates(stt, captured["score"], legacy=legacy)
                out["address"] = address_choice(captured["score"], sc)
                out["street_scores"] = sc.street_scores
            if "refine" in captured:
                u = items.refine_items(
                    stt, stt.catalogue, stt.territory, captured["refine"], legacy=legacy
                )
                out["items"] = item_choice(u)
            out["cpu"] = round(time.process_time() - c0, 3)
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
        row["same_items"] = runs["old"].get("items") == runs["new"].get("items")
        rows.append(row)
        print(
            f"{entry['id']}: old {runs['old']['cpu']:.2f} s new {runs['new']['cpu']:.2f} s "
            f"same_address={row['same_address']} same_items={row['same_items']}",
            flush=True,
        )
    stt_cpu = [r["transcribe_cpu"] or 0.0 for r in rows]
    old = [r["old"]["cpu"] for r in rows]
    new = [r["new"]["cpu"] for r in rows]
    report = {
        "messages": len(rows),
        "scoring_cpu_s_per_message": {
            "old": round(statistics.mean(old), 3),
            "new": round(statistics.mean(new), 3),
            "ratio": round(sum(old) / max(sum(new), 1e-9), 2),
        },
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
