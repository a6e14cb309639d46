"""Synthetic answers to the live call's address and items questions, for `make
bench-turn-window` (bench/bench_turn_window.py): every speaker of the corpus
(scripts/corpus/voices.py) gives addresses drawn from the gazetteer as the voicemail corpus
draws them (scripts/corpus/addresses.py) and requests from the items' held-out split
(scripts/corpus/item_talk.py), cut tight as a turn is, under the call set's line conditions
(scripts/yes_no_answers.py). Seeded; never the call set's own clips. Runs in the corpus's TTS
venv (var/ttsvenv); writes WAVs and meta.json under --out, never committed.

    var/ttsvenv/bin/python -m scripts.turn_answers --seed 5151 --out var/turn-answers
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from scripts.yes_no_answers import CONDITIONS, said_tight

# How a caller answers « Quelle est votre adresse ? » (scripts/corpus/templates.py).
PHRASINGS = ("habite_au", "je_suis_au", "mon_adresse")


def main() -> None:
    from scripts.corpus import item_talk, templates
    from scripts.corpus.addresses import bookable_address
    from scripts.corpus.synth import Engines
    from scripts.corpus.territory import Territory
    from scripts.corpus.voices import SPEAKERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--addresses", type=int, default=4, help="per speaker")
    parser.add_argument("--items", type=int, default=3, help="per speaker")
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path, default=Path("var/turn-answers"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    territory = Territory(args.shared / "geodata", args.seed)
    requests = [
        m
        for m in item_talk.build_item_messages("heldout", args.seed, 4 * args.items * len(SPEAKERS))
        if not m.misspelled and m.items
    ]
    engines = Engines()
    meta = []
    n = 0
    for i, speaker in enumerate(SPEAKERS):
        answers: list[tuple[str, str, dict]] = []
        for k in range(args.addresses):
            rng = random.Random(f"{args.seed}:{speaker.id}:address:{k}")
            phrasing = PHRASINGS[(i + k) % len(PHRASINGS)]
            placed = bookable_address(phrasing, territory, rng)
            assert placed.address is not None
            text = templates.address_sentence(placed.said, phrasing, rng)
            answers.append(("address", text, placed.address.expected()))
        for k in range(args.items):
            request = requests[(i * args.items + k) % len(requests)]
            answers.append(("items", request.request, {"items": request.items}))
        for kind, text, expected in answers:
            condition, params = CONDITIONS[n % len(CONDITIONS)]
            audio = said_tight(engines, text, speaker, condition, params)
            name = f"{n:04d}-{speaker.id}-{kind}-{condition}.wav"
            engines.demo.write_wav(args.out / name, audio)
            meta.append(
                {
                    "file": name,
                    "speaker": speaker.id,
                    "kind": kind,
                    "condition": condition,
                    "text": text,
                    "expected": expected,
                }
            )
            n += 1
    (args.out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")
    print(f"{len(meta)} answers written to {args.out}")


if __name__ == "__main__":
    main()
