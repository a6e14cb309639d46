"""Benchmark: what the live call's yes/no question takes for a « oui » (the answer that books
a read-back address), with the turn path's own decoding (activities/live/work.py) and the
dialogue's `yes_or_no`, for the prompt before 2026-12-07 and the current one, each without
and with the retry in silence margins (activities/live/pauses.py: with_margins).

    make bench-yes-no          # synthesizes the answers (TTS venv), then this; ~8 min

Three sets: the synthetic answers of scripts/yes_no_answers.py (must be heard right);
--fragments speech fragments of 0.15-0.6 s cut at random from the demo and development
voicemails, past their first 1.2 s (other words: none should be a yes; --seed 8 is the
held-out draw, 7 the one the prompt was chosen on); 60 noise bursts (breath- and cough-like,
none should be a yes). Prints the table; JSON under var/. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from activities.live.work import INITIAL_PROMPTS, pcm_to_float16k, turn_words  # noqa: E402
from domain.dialogue import Expect  # noqa: E402
from domain.dialogue.words import yes_or_no  # noqa: E402
from tests.fakes.audiosocket_client import load_slin8k  # noqa: E402

PROMPTS = {"before": "Oui. Non.", "now": INITIAL_PROMPTS[Expect.YES_NO.value]}


def heard(model: Any, audio: np.ndarray, prompt: str, margins: bool) -> bool | None:
    return yes_or_no(turn_words(model, audio, beam_size=1, prompt=prompt, margins=margins))


def variants(model: Any, audio: np.ndarray) -> dict[str, bool | None]:
    return {
        f"{name}{' + margins' if margins else ''}": heard(model, audio, prompt, margins)
        for name, prompt in PROMPTS.items()
        for margins in (False, True)
    }


def fragments(files: list[Path], count: int, seed: int) -> list[np.ndarray]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        pcm = load_slin8k(rng.choice(files))
        length = rng.uniform(0.15, 0.6)
        start = rng.uniform(1.2, max(1.3, len(pcm) / 2 / 8000 - length))
        a, b = int(start * 8000) * 2, int((start + length) * 8000) * 2
        gain = rng.choice([0.3, 1.0, 1.0, 2.0])
        out.append((pcm_to_float16k(pcm[a:b]) * gain).astype(np.float32))
    return out


def bursts(count: int, seed: int) -> list[np.ndarray]:
    rng = random.Random(seed)
    out = []
    for k in range(count):
        n = int(rng.uniform(0.12, 0.5) * 16000)
        x = np.random.default_rng(seed * 1000 + k).standard_normal(n)
        if k % 2:  # cough-like: low-passed
            x = np.convolve(x, np.ones(8) / 8, mode="same")
        shaped = x * np.hanning(n) ** rng.choice([0.5, 1, 2]) * rng.choice([0.005, 0.02, 0.08, 0.2])
        pad = np.zeros(int(rng.uniform(0, 0.3) * 16000))
        out.append(np.concatenate([pad, shaped, pad]).astype(np.float32))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=Path, default=Path("var/yes-no"))
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--fragments", type=int, default=200)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("var/bench-yes-no.json"))
    args = parser.parse_args()
    meta_path = args.answers / "meta.json"
    if not meta_path.is_file():
        parser.error(f"{meta_path} missing: make bench-yes-no synthesizes the answers first")
    voicemails = sorted((args.shared / "voicemails" / "audio").glob("*.wav"))
    if not voicemails:
        parser.error(f"no development voicemails under {args.shared} (set --shared)")

    from activities.speech.engine import SpeechEngine
    from activities.understand import load_catalogue
    from corpus import DEMO_DIR
    from workers.settings import Settings

    model = SpeechEngine(Settings().stt, load_catalogue()).model()
    names = [f"{n}{' + margins' if m else ''}" for n in PROMPTS for m in (False, True)]
    answers = {v: {"right": 0, "wrong": 0, "neither": 0} for v in names}
    wrong: list[dict[str, Any]] = []
    for entry in json.loads(meta_path.read_text("utf-8")):
        audio = pcm_to_float16k(load_slin8k(args.answers / entry["file"]))
        want = entry["said"].startswith("oui")
        for v, got in variants(model, audio).items():
            key = "right" if got is want else "neither" if got is None else "wrong"
            answers[v][key] += 1
            if key == "wrong":
                wrong.append({"variant": v, **entry})
    files = sorted((DEMO_DIR / "audio").glob("*.wav")) + voicemails
    yes_fragments = dict.fromkeys(names, 0)
    for audio in fragments(files, args.fragments, args.seed):
        for v, got in variants(model, audio).items():
            yes_fragments[v] += got is True
    yes_bursts = dict.fromkeys(names, 0)
    noise = bursts(60, args.seed)
    for audio in noise:
        for v, got in variants(model, audio).items():
            yes_bursts[v] += got is True
    report = {
        "prompts": PROMPTS,
        "answers": answers,
        "answers_wrong": wrong,
        "fragments": {"count": args.fragments, "seed": args.seed, "heard_yes": yes_fragments},
        "bursts": {"count": len(noise), "heard_yes": yes_bursts},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), "utf-8")
    n = sum(answers[names[0]].values())
    print("| at the yes/no question | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    print(
        f"| {n} synthetic answers heard right | "
        + " | ".join(str(answers[v]["right"]) for v in names)
        + " |"
    )
    print(
        f"| {args.fragments} fragments (seed {args.seed}) heard as a yes | "
        + " | ".join(str(yes_fragments[v]) for v in names)
        + " |"
    )
    print(
        f"| {len(noise)} noise bursts heard as a yes | "
        + " | ".join(str(yes_bursts[v]) for v in names)
        + " |"
    )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
