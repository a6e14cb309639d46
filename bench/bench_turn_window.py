"""Benchmark: a live turn transcribed over Whisper's 30-s window and over shorter ones (the
turn plus a few seconds of silence, activities/live/window.py), side by side on the same
answers, alternated, with the turn path's own decoding (activities/live/work.py: turn_words).

    make bench-turn-window     # synthesizes the answers (TTS venv), then this; ~15 min

Answers never heard before by the dialogue's tuning: scripts/turn_answers.py (every corpus
voice gives gazetteer addresses and held-out item requests, line conditions) and
scripts/yes_no_answers.py; and the fragments of other words and the noise bursts of `make
bench-yes-no` (none should be a yes). Per window: the CPU time of a turn; the word and
character error rates of the address and item answers against what was said (folded, digits
written as words, a runaway transcript cut at three times the said length); the address
answers whose house number and street the understanding reads right, the item answers whose
items it reads exactly; the yes/no answers heard right and heard as the opposite; the
fragments and bursts taken for a yes; the runaway transcripts (Whisper repeating itself).
Prints the table; JSON under var/. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
from bench_yes_no import bursts, fragments  # noqa: E402
from items_heldout import CALLER, canonical  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

from activities.live.window import WindowedTurns  # noqa: E402
from activities.live.work import INITIAL_PROMPTS, pcm_to_float16k, turn_words  # noqa: E402
from domain.dialogue import Expect  # noqa: E402
from domain.dialogue.words import yes_or_no  # noqa: E402
from domain.geotext import fold  # noqa: E402
from domain.understanding import understand  # noqa: E402
from scripts.corpus.spoken import number_words  # noqa: E402
from tests.fakes.audiosocket_client import load_slin8k  # noqa: E402

YES_NO_PROMPT = INITIAL_PROMPTS[Expect.YES_NO.value]
# A transcript this many times longer than what was said is Whisper looping.
RUNAWAY = 3.0


def normalised(text: str) -> str:
    """Folded, hyphens as spaces, numbers in words (« 13005 » as « treize mille cinq »)."""
    words = re.sub(r"\d{1,6}", lambda m: f" {number_words(int(m.group()))} ", text)
    return " ".join(fold(words).replace("-", " ").split())


class Variant:
    def __init__(self, name: str, model: Any, window: WindowedTurns | None) -> None:
        self.name, self.model, self.window = name, model, window
        self.cpu_s = 0.0
        self.turns = 0
        self.counts: dict[str, int] = {}
        # Edit distances and reference lengths, in words and in characters.
        self.errors = {"words": [0, 0], "chars": [0, 0]}

    def hear(self, audio: np.ndarray, prompt: str | None) -> str:
        started = time.process_time()
        text = turn_words(self.model, audio, beam_size=1, prompt=prompt, window=self.window)
        self.cpu_s += time.process_time() - started
        self.turns += 1
        return text

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def score(self, said: str, heard: str) -> None:
        ref = normalised(said)
        hyp = normalised(heard)[: int(RUNAWAY * len(ref))]
        for unit, (r, h) in {"words": (ref.split(), hyp.split()), "chars": (ref, hyp)}.items():
            self.errors[unit][0] += Levenshtein.distance(r, h)
            self.errors[unit][1] += len(r)

    def rate(self, unit: str) -> float:
        edits, length = self.errors[unit]
        return edits / length if length else 0.0


def same_street(heard: str, want: str) -> bool:
    return bool(heard) and fold(heard) == fold(want)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=Path, default=Path("var/turn-answers"))
    parser.add_argument("--yes-no", type=Path, default=Path("var/yes-no"))
    parser.add_argument("--pads", default="6,10,15", help="seconds of silence after the turn")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--fragments", type=int, default=200)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("var/bench-turn-window.json"))
    args = parser.parse_args()
    for folder in (args.answers, args.yes_no):
        if not (folder / "meta.json").is_file():
            parser.error(f"{folder}/meta.json missing: make bench-turn-window synthesizes it")

    from activities.geo.territory_file import load_territory
    from activities.speech.engine import SpeechEngine
    from activities.understand import load_catalogue
    from corpus import DEMO_DIR
    from workers.settings import Settings

    catalogue, territory = load_catalogue(), load_territory()
    model = SpeechEngine(Settings().stt, catalogue).model()
    variants = [Variant("30 s", model, None)] + [
        Variant(f"turn + {p} s", model, WindowedTurns(model, float(p)))
        for p in args.pads.split(",")
    ]
    examples: list[dict[str, Any]] = []
    for entry in json.loads((args.answers / "meta.json").read_text("utf-8")):
        audio = pcm_to_float16k(load_slin8k(args.answers / entry["file"]))
        want = entry["expected"]
        heard = {}
        for v in variants:
            text = heard[v.name] = v.hear(audio, None)
            v.add(f"{entry['kind']} answers")
            v.add("runaway", len(text) > RUNAWAY * len(entry["text"]))
            v.score(entry["text"], text)
            u = understand(text, CALLER, catalogue, territory)
            if entry["kind"] == "address":
                a = u.address
                number = a is not None and a.housenumber == want["housenumber"]
                street = a is not None and same_street(a.street, want["street"])
                v.add("address number right", number)
                v.add("address street right", street)
                v.add("address both right", number and street)
            else:
                got = canonical(((i.item, i.count) for i in u.items), catalogue)
                v.add("items exact", got == canonical(want["items"].items(), catalogue))
        if len(set(heard.values())) > 1:
            examples.append({"file": entry["file"], "said": entry["text"], "heard": heard})
    yes_no_errors: list[dict[str, Any]] = []
    for entry in json.loads((args.yes_no / "meta.json").read_text("utf-8")):
        audio = pcm_to_float16k(load_slin8k(args.yes_no / entry["file"]))
        want = entry["said"].startswith("oui")
        for v in variants:
            text = v.hear(audio, YES_NO_PROMPT)
            got = yes_or_no(text)
            v.add("yes/no answers")
            v.add("yes/no right", got is want)
            v.add("yes/no heard as the opposite", got is (not want))
            if got is not want:
                yes_no_errors.append({"variant": v.name, "file": entry["file"], "heard": text})
    files = sorted((DEMO_DIR / "audio").glob("*.wav")) + sorted(
        (args.shared / "voicemails" / "audio").glob("*.wav")
    )
    for audio in fragments(files, args.fragments, args.seed) + bursts(60, args.seed):
        for v in variants:
            v.add("fragments and bursts heard yes", yes_or_no(v.hear(audio, YES_NO_PROMPT)) is True)
    rows = sorted({k for v in variants for k in v.counts})
    report = {
        "variants": {
            v.name: {
                "cpu_s_per_turn": round(v.cpu_s / v.turns, 4),
                "turns": v.turns,
                "word_error_rate": round(v.rate("words"), 4),
                "char_error_rate": round(v.rate("chars"), 4),
                **v.counts,
            }
            for v in variants
        },
        "differences": examples,
        "yes_no_errors": yes_no_errors,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), "utf-8")
    print("| | " + " | ".join(v.name for v in variants) + " |")
    print("|---|" + "---|" * len(variants))
    print("| CPU-s per turn | " + " | ".join(f"{v.cpu_s / v.turns:.3f}" for v in variants) + " |")
    for unit in ("words", "chars"):
        cells = " | ".join(f"{v.rate(unit):.3f}" for v in variants)
        print(f"| address and items, error rate ({unit}) | {cells} |")
    for key in rows:
        print(f"| {key} | " + " | ".join(str(v.counts.get(key, 0)) for v in variants) + " |")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
