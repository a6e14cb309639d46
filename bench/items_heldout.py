"""Items precision / recall / F1 on messages the understanding was never tuned on (issue 16).

Text level (no audio, no gazetteer: a few seconds). Three sets:

- **dev** and **held-out** item requests (`scripts/corpus/item_talk.py`): different seeds,
  different templates of each phrasing family, different item words and misspelling rules.
  Each request sits in a whole message (greeting, name, an address of the corpus territory,
  closing), said cleanly and through the ASR-error channel of `calibrate_folds.garble`.
  Errors may be listed for dev only (`--show-dev-errors`): held-out figures are reported,
  never looked into.
- the corpus plan (`make calibrate`'s `voicemails.json`, when `--corpus` is given), garbled.
- `../shared/voicemails` texts (what was said: a text-level figure, not the Whisper one).

    python bench/items_heldout.py --shared ../shared --out var/items-heldout.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from activities.geo.territory_file import load_territory  # noqa: E402
from activities.understand import load_catalogue  # noqa: E402
from bench.calibrate_folds import garble  # noqa: E402
from domain.catalogue import Catalogue  # noqa: E402
from domain.understanding import Territory, understand  # noqa: E402
from scripts.corpus import item_talk, templates  # noqa: E402
from scripts.corpus.addresses import bookable_address  # noqa: E402
from scripts.corpus.message import Message, assemble, make_caller  # noqa: E402
from scripts.corpus.territory import Territory as CorpusTerritory  # noqa: E402

SEEDS = {"dev": 1601, "heldout": 1602}
CARRIER_PHRASINGS = ("habite_au", "je_suis_au", "mon_adresse", "au_de_la", "address_last")
CALLER = "+33639980101"


class Score:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = self.refused_booked = self.messages = self.exact = 0

    def add(self, want: dict[str, int], got: dict[str, int], refused: Iterable[str]) -> bool:
        self.messages += 1
        for name in set(want) | set(got):
            common = min(want.get(name, 0), got.get(name, 0))
            self.tp += common
            self.fp += got.get(name, 0) - common
            self.fn += want.get(name, 0) - common
        self.refused_booked += sum(1 for r in refused if r in got)
        self.exact += want == got
        return want == got

    def row(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {
            "messages": self.messages,
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f1, 4),
            "messages_exact": round(self.exact / (self.messages or 1), 4),
            "refused_booked": self.refused_booked,
        }


def canonical(items: Iterable[tuple[str, int]], catalogue: Catalogue) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, count in items:
        found = catalogue.get(name)
        key = found.name if found is not None else name
        out[key] = out.get(key, 0) + int(count)
    return out


def carried(msg: item_talk.ItemMessage, territory: CorpusTerritory, rng: random.Random) -> str:
    """The request inside a whole voicemail: greeting, name, address, closing."""
    phrasing = rng.choice(CARRIER_PHRASINGS)
    m = Message("booking", make_caller(rng), [], phrasing)
    m.placed = bookable_address(phrasing, territory, rng)
    address = templates.address_sentence(m.placed.said, phrasing, rng)
    assemble(m, address, msg.request, rng)
    return " ".join(m.sentences)


def predict(text: str, catalogue: Catalogue, territory: Territory) -> dict[str, int]:
    u = understand(text, CALLER, catalogue, territory)
    return canonical(((i.item, i.count) for i in u.items), catalogue)


def run_split(
    split: str,
    count: int,
    catalogue: Catalogue,
    territory: Territory,
    corpus_territory: CorpusTerritory,
    show: bool,
) -> dict[str, Any]:
    msgs = item_talk.build_item_messages(split, SEEDS[split], count)
    channels = {"clean": Score(), "asr": Score()}
    families: dict[str, Score] = {}
    misspelled = {True: Score(), False: Score()}
    for msg in msgs:
        rng = random.Random(f"{SEEDS[split]}:{msg.id}:carrier")
        text = carried(msg, corpus_territory, rng)
        want = canonical(msg.items.items(), catalogue)
        got = predict(text, catalogue, territory)
        ok = channels["clean"].add(want, got, msg.refused)
        families.setdefault(msg.family, Score()).add(want, got, msg.refused)
        misspelled[msg.misspelled].add(want, got, msg.refused)
        if show and not ok:
            print(f"{msg.id} [{msg.family}{' misspelled' if msg.misspelled else ''}]")
            print(f"   said: {msg.request}")
            print(f"   want {want}  got {got}")
        asr_text = garble(text, "gsm", random.Random(f"{SEEDS[split]}:{msg.id}:asr"))
        got = predict(asr_text, catalogue, territory)
        if not channels["asr"].add(want, got, msg.refused) and show and ok:
            print(f"{msg.id} [{msg.family}, asr only]")
            print(f"   heard: {asr_text}")
            print(f"   want {want}  got {got}")
    return {
        "seed": SEEDS[split],
        **{k: v.row() for k, v in channels.items()},
        "misspelled": misspelled[True].row(),
        "not_misspelled": misspelled[False].row(),
        "per_family": {k: families[k].row() for k in sorted(families)},
    }


def run_entries(
    entries: list[dict[str, Any]], catalogue: Catalogue, territory: Territory, asr: bool
) -> dict[str, Any]:
    score = Score()
    for e in entries:
        text = e["text"]
        if asr:
            text = garble(text, e.get("condition", "clean"), random.Random(e["id"]))
        exp = e.get("expected") or {}
        want = canonical(((i["item"], i["count"]) for i in exp.get("items") or []), catalogue)
        score.add(want, predict(text, catalogue, territory), exp.get("refused_items") or [])
    return score.row()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--count", type=int, default=450, help="messages per split")
    ap.add_argument("--corpus", type=Path, help="a corpus plan directory (voicemails.json)")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "items-heldout.json")
    ap.add_argument("--show-dev-errors", action="store_true")
    args = ap.parse_args(argv)
    catalogue, territory = load_catalogue(), load_territory()
    corpus_territory = CorpusTerritory(args.shared / "geodata", 16)
    report: dict[str, Any] = {}
    for split in item_talk.SPLITS:
        show = args.show_dev_errors and split == "dev"
        report[split] = run_split(split, args.count, catalogue, territory, corpus_territory, show)
    vm = json.loads((args.shared / "voicemails" / "voicemails.json").read_text("utf-8"))
    report["shared_voicemails_text"] = run_entries(vm, catalogue, territory, asr=False)
    if args.corpus is not None:
        plan = json.loads((args.corpus / "voicemails.json").read_text("utf-8"))
        report["corpus_plan_asr"] = run_entries(plan, catalogue, territory, asr=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"{'set':34} {'n':>4} {'P':>6} {'R':>6} {'F1':>6} {'exact':>6} {'refused booked':>8}")
    rows = [(f"{s} {c}", report[s][c]) for s in item_talk.SPLITS for c in ("clean", "asr")] + [
        (k, v) for k, v in report.items() if k not in item_talk.SPLITS
    ]
    for split in item_talk.SPLITS:
        rows += [(f"  {split} / {k}", v) for k, v in report[split]["per_family"].items()]
        rows += [(f"  {split} / misspelled", report[split]["misspelled"])]
    for name, r in rows:
        print(
            f"{name:34} {r['messages']:>4} {r['precision']:>6.3f} {r['recall']:>6.3f} "
            f"{r['f1']:>6.3f} {r['messages_exact']:>6.3f} {r['refused_booked']:>8}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
