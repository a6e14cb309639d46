"""Synthetic answers to a yes/no question for `make bench-yes-no` (bench/bench_yes_no.py):
every speaker of the corpus (scripts/corpus/voices.py) says « Oui. », « Non. », « Oui, c'est
ça. » and « Non, c'est pas ça. », cut tight (the synthesizer's silence off, 50 ms kept), under
one of six line conditions each. Runs in the corpus's TTS venv (var/ttsvenv); writes WAVs
and meta.json under --out, never committed.

    var/ttsvenv/bin/python -m scripts.yes_no_answers --out var/yes-no
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ANSWERS = {
    "oui": "Oui.",
    "non": "Non.",
    "oui-c-est-ca": "Oui, c'est ça.",
    "non-c-est-pas-ca": "Non, c'est pas ça.",
}
# (condition, its parameters), taken in turn: the call set's line conditions.
CONDITIONS = (
    ("clean", {}),
    ("ulaw", {}),
    ("gsm", {}),
    ("noise-snr10", {"snr_db": 10, "color": "pink", "noise_seed": 3}),
    ("alaw", {}),
    ("noise-snr20", {"snr_db": 20, "color": "white", "noise_seed": 5}),
)
# Under this peak level a sample is the synthesizer's silence; KEEP samples (16 kHz) of it
# are left on each side: a turn cut tight.
SILENCE_LEVEL = 0.01
KEEP = 800


def said_tight(engines: Any, text: str, speaker: Any, condition: str, params: dict) -> Any:
    """`text` said by `speaker` (scripts.corpus.synth.Engines), cut tight as a turn is (the
    synthesizer's silence off, KEEP samples left), under the line `condition`."""
    import numpy as np

    from scripts.corpus import conditions

    audio = conditions.peak_normalise(engines.voice(text, speaker, 1.0))
    loud = np.flatnonzero(np.abs(audio) > SILENCE_LEVEL)
    if loud.size:
        audio = audio[max(0, loud[0] - KEEP) : loud[-1] + KEEP]
    return conditions.apply(audio.astype(np.float32), condition, params)


def main() -> None:
    from scripts.corpus.synth import Engines
    from scripts.corpus.voices import SPEAKERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/yes-no"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    engines = Engines()
    meta = []
    for i, speaker in enumerate(SPEAKERS):
        for key, text in ANSWERS.items():
            condition, params = CONDITIONS[(i + len(key)) % len(CONDITIONS)]
            audio = said_tight(engines, text, speaker, condition, params)
            name = f"{speaker.id}-{key}-{condition}.wav"
            engines.demo.write_wav(args.out / name, audio)
            meta.append({"file": name, "speaker": speaker.id, "said": key, "condition": condition})
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")
    print(f"{len(meta)} answers written to {args.out}")


if __name__ == "__main__":
    main()
