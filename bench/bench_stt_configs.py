"""Benchmark: transcription configurations side by side, speed and accuracy.

    .venv/bin/python bench/bench_stt_configs.py [--limit N] [--grid | --configs a,b]
        [--model-path DIR] [--dir ../shared/voicemails] [--out var/bench-stt-configs.json]

Same audio (the development set, whose `text` is what was said), same model (the project's
Whisper base, loaded as activities/speech/model.py loads it; --model-path or
ENCOMBOT_STT__MODEL_PATH for another CTranslate2 directory), four factors:

- compute type: int8 | float32
- beam size: 1 | 5
- VAD filter: on | off
- decoding: sequential `WhisperModel.transcribe` (production: `SpeechEngine.transcribe_file`
  itself) | faster-whisper's `BatchedInferencePipeline` (the audio cut in
  chunks decoded as one batch; same options; without VAD, fixed 30 s windows, since the
  pipeline needs clip timestamps beyond 30 s)

By default a one-factor-at-a-time sweep: the project's default (SttSettings in
workers/settings.py, with any ENCOMBOT_STT__* override) and each factor flipped alone;
--grid runs the 16-combination factorial; --configs picks configurations by name
(e.g. `int8-b5-vad-seq,float32-b1-novad-batched`).

Per configuration: model load time; real-time factor (processing seconds / audio seconds,
decoding of the file excluded as in TranscribeResult.processing_s) over the whole set and
p50/p95 per file; WER and CER against the ground truth, corpus-level (edit operations
summed over the set / reference words or characters) and split by telephone quality. One
untimed warm-up transcription per configuration first.

Normalisation before scoring, the same on both sides: numbers said in words are written in
digits by the project's own reader (domain.numbers.spoken_to_digits: "treize zéro quinze" →
"13015", a phone number read in pairs → one run of ten digits, "quatrième" → "4e"; a lone
"un"/"une" stays a word), then domain.geotext.fold (lowercase, accents stripped, œ → oe,
every punctuation mark including apostrophes and hyphens → a space). So "c'est" is two words,
a postcode or a phone number is one, and writing numbers as digits or words is no error.

Writes JSON and prints a table. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from temporalio.exceptions import ApplicationError

from activities.config import SttSettings
from activities.speech.audio import SAMPLE_RATE, load_audio
from activities.speech.engine import SpeechEngine
from domain import geotext
from domain.models import TranscribeInput
from domain.numbers import spoken_to_digits
from domain.stats import percentile
from workers.settings import Settings

REPO = Path(__file__).resolve().parent.parent
BATCH_WINDOW_S = 30.0


# --------------------------------------------------------------------------- scoring


def normalise(text: str) -> str:
    """See the module docstring: numbers as digits, then folded."""
    return geotext.fold(spoken_to_digits(text))


@dataclass
class Errors:
    word_edits: int = 0
    words: int = 0
    char_edits: int = 0
    chars: int = 0

    def add(self, reference: str, hypothesis: str) -> None:
        ref, hyp = normalise(reference), normalise(hypothesis)
        self.word_edits += Levenshtein.distance(ref.split(), hyp.split())
        self.words += len(ref.split())
        self.char_edits += Levenshtein.distance(ref, hyp)
        self.chars += len(ref)

    @property
    def wer(self) -> float:
        return self.word_edits / self.words if self.words else float("nan")

    @property
    def cer(self) -> float:
        return self.char_edits / self.chars if self.chars else float("nan")


# --------------------------------------------------------------------------- configurations


@dataclass(frozen=True)
class SttConfig:
    compute_type: str
    beam_size: int
    vad_filter: bool
    batched: bool

    @property
    def name(self) -> str:
        vad = "vad" if self.vad_filter else "novad"
        mode = "batched" if self.batched else "seq"
        return f"{self.compute_type}-b{self.beam_size}-{vad}-{mode}"

    @staticmethod
    def parse(name: str) -> SttConfig:
        try:
            compute, beam, vad, mode = name.split("-")
            if not beam.startswith("b") or vad not in ("vad", "novad"):
                raise ValueError
            if mode not in ("seq", "batched"):
                raise ValueError
            return SttConfig(compute, int(beam[1:]), vad == "vad", mode == "batched")
        except ValueError:
            raise SystemExit(
                f"bad configuration name {name!r}: <compute>-b<beam>-<vad|novad>-<seq|batched>,"
                " e.g. int8-b5-vad-seq"
            ) from None


def default_config(stt: SttSettings) -> SttConfig:
    return SttConfig(stt.compute_type, stt.beam_size, stt.vad_filter, batched=False)


def one_factor_at_a_time(base: SttConfig) -> list[SttConfig]:
    flipped_compute = "float32" if base.compute_type != "float32" else "int8"
    flipped_beam = 1 if base.beam_size != 1 else 5
    return [
        base,
        SttConfig(flipped_compute, base.beam_size, base.vad_filter, base.batched),
        SttConfig(base.compute_type, flipped_beam, base.vad_filter, base.batched),
        SttConfig(base.compute_type, base.beam_size, not base.vad_filter, base.batched),
        SttConfig(base.compute_type, base.beam_size, base.vad_filter, not base.batched),
    ]


def full_grid() -> list[SttConfig]:
    return [
        SttConfig(c, b, v, m)
        for c, b, v, m in itertools.product(
            ("int8", "float32"), (1, 5), (True, False), (False, True)
        )
    ]


# --------------------------------------------------------------------------- transcription


class Transcriber:
    """One configuration: the production activity class for the model and the sequential
    path; the batched pipeline wraps that same loaded model with the same options."""

    def __init__(self, base: SttSettings, config: SttConfig, batch_size: int) -> None:
        self.config = config
        self.batch_size = batch_size
        self.settings = base.model_copy(
            update={
                "compute_type": config.compute_type,
                "beam_size": config.beam_size,
                "vad_filter": config.vad_filter,
            }
        )
        self.stt = SpeechEngine(self.settings)
        self._pipeline: Any = None

    def load(self) -> float:
        self.stt.model_dir  # noqa: B018  (assembled once from the packages: not load time)
        started = time.perf_counter()
        model = self.stt.model()
        if self.config.batched:
            from faster_whisper import BatchedInferencePipeline

            self._pipeline = BatchedInferencePipeline(model)
        return time.perf_counter() - started

    def transcribe(self, path: Path) -> tuple[str, float, float | None]:
        """(text, audio seconds, processing seconds), decoding of the file excluded; no
        processing time when the production path refused the transcript (no speech)."""
        if not self.config.batched:
            try:
                result = self.stt.transcribe_file(TranscribeInput(audio_path=str(path)))
            except ApplicationError:
                # "No speech heard" is a transcript of nothing, scored as such.
                audio = load_audio(path, self.settings.max_duration_s)
                return "", audio.shape[0] / SAMPLE_RATE, None
            return result.text, result.duration_s, result.processing_s
        audio = load_audio(path, self.settings.max_duration_s)
        duration = audio.shape[0] / SAMPLE_RATE
        started = time.perf_counter()
        text = self._batched(audio, duration)
        return text, duration, time.perf_counter() - started

    def _batched(self, audio: np.ndarray, duration: float) -> str:
        s = self.settings
        options: dict[str, Any] = {
            "language": s.language,
            "beam_size": s.beam_size,
            "temperature": 0.0,
            "vad_filter": s.vad_filter,
            "condition_on_previous_text": False,
            "batch_size": self.batch_size,
        }
        if not s.vad_filter and duration >= BATCH_WINDOW_S:
            options["clip_timestamps"] = [
                {"start": t, "end": min(t + BATCH_WINDOW_S, duration)}
                for t in np.arange(0.0, duration, BATCH_WINDOW_S).tolist()
            ]
        segments, _ = self._pipeline.transcribe(audio, **options)
        return " ".join(seg.text.strip() for seg in segments if seg.text.strip()).strip()


def bench_config(
    base: SttSettings, config: SttConfig, entries: list[dict[str, Any]], folder: Path, batch: int
) -> dict[str, Any]:
    transcriber = Transcriber(base, config, batch)
    load_s = transcriber.load()
    warm = time.perf_counter()
    transcriber.transcribe(folder / entries[0]["audio"])
    warm_up_s = time.perf_counter() - warm
    overall, clean, phone = Errors(), Errors(), Errors()
    rows: list[dict[str, Any]] = []
    for entry in entries:
        text, audio_s, processing_s = transcriber.transcribe(folder / entry["audio"])
        file_errors = Errors()
        for errors in (overall, phone if entry.get("telephone_quality") else clean, file_errors):
            errors.add(entry["text"], text)
        rows.append(
            {
                "id": entry["id"],
                "telephone_quality": bool(entry.get("telephone_quality")),
                "audio_s": round(audio_s, 3),
                "processing_s": None if processing_s is None else round(processing_s, 3),
                "rtf": None if processing_s is None else round(processing_s / audio_s, 4),
                "wer": round(file_errors.wer, 4),
                "cer": round(file_errors.cer, 4),
                "transcript": text,
            }
        )
    timed = [r for r in rows if r["processing_s"] is not None]
    rtfs = [float(r["rtf"]) for r in timed]
    audio_total = sum(float(r["audio_s"]) for r in timed)
    processing_total = sum(float(r["processing_s"]) for r in timed)
    return {
        "name": config.name,
        "compute_type": config.compute_type,
        "beam_size": config.beam_size,
        "vad_filter": config.vad_filter,
        "batched": config.batched,
        "model_load_s": round(load_s, 3),
        "warm_up_s": round(warm_up_s, 3),
        "files": len(rows),
        "no_speech_files": len(rows) - len(timed),
        "audio_s": round(audio_total, 2),
        "processing_s": round(processing_total, 2),
        "rtf": round(processing_total / audio_total, 4) if audio_total else None,
        "rtf_p50": round(percentile(rtfs, 0.50), 4),
        "rtf_p95": round(percentile(rtfs, 0.95), 4),
        "rtf_mean": round(statistics.mean(rtfs), 4) if rtfs else None,
        "wer": round(overall.wer, 4),
        "cer": round(overall.cer, 4),
        "wer_clean": round(clean.wer, 4) if clean.words else None,
        "wer_telephone": round(phone.wer, 4) if phone.words else None,
        "per_file": rows,
    }


def print_report(report: dict[str, Any]) -> None:
    cols = ("name", "load s", "RTF", "p50", "p95", "WER", "CER", "WER clean", "WER tel")
    widths = (26, 8, 8, 8, 8, 8, 8, 10, 9)
    print(
        "".join(
            f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
            for i, (c, w) in enumerate(zip(cols, widths, strict=True))
        )
    )
    default = report["default"]
    for r in report["configs"]:
        name = r["name"] + (" *" if r["name"] == default else "")
        values = (
            name,
            r["model_load_s"],
            r["rtf"],
            r["rtf_p50"],
            r["rtf_p95"],
            r["wer"],
            r["cer"],
            r["wer_clean"],
            r["wer_telephone"],
        )
        print(
            "".join(
                f"{v!s:<{w}}" if i == 0 else f"{v!s:>{w}}"
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            )
        )
    print("* the project's default")
    print(f"best by WER: {report['best_by_wer']}; best by RTF: {report['best_by_rtf']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir",
        type=Path,
        default=REPO.parent / "shared" / "voicemails",
        help="development set: voicemails.json with the ground-truth `text`, and the audio",
    )
    parser.add_argument("--limit", type=int, default=0, help="first N files only (0: all)")
    parser.add_argument("--out", type=Path, default=Path("var/bench-stt-configs.json"))
    parser.add_argument("--model-path", type=Path, default=None, help="CTranslate2 directory")
    parser.add_argument("--batch-size", type=int, default=8, help="BatchedInferencePipeline")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--grid", action="store_true", help="all 16 combinations")
    choice.add_argument("--configs", default="", help="comma-separated configuration names")
    args = parser.parse_args()

    index = args.dir / "voicemails.json"
    if not index.is_file():
        raise SystemExit(f"{index} not found: the development set is needed for the ground truth")
    entries = [
        e
        for e in json.loads(index.read_text(encoding="utf-8"))
        if (args.dir / e["audio"]).is_file() and e.get("text")
    ]
    if args.limit:
        entries = entries[: args.limit]
    if not entries:
        raise SystemExit(f"no audio with a ground-truth text under {args.dir}")

    stt = Settings().stt
    if args.model_path is not None:
        stt = stt.model_copy(update={"model_path": args.model_path})
    base = default_config(stt)
    if args.configs:
        configs = [SttConfig.parse(n.strip()) for n in args.configs.split(",") if n.strip()]
    elif args.grid:
        configs = full_grid()
    else:
        configs = one_factor_at_a_time(base)

    results = []
    for config in configs:
        print(f"{config.name}…", flush=True)
        results.append(bench_config(stt, config, entries, args.dir, args.batch_size))
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "model": str(SpeechEngine(stt).model_dir),
        "cpu_threads": stt.cpu_threads,
        "files": len(entries),
        "audio_s": results[0]["audio_s"] if results else 0,
        "design": "configs" if args.configs else "grid" if args.grid else "one-factor-at-a-time",
        "default": base.name,
        "normalisation": "numbers as digits (domain.numbers.spoken_to_digits), then "
        "domain.geotext.fold: lowercase, no accents, punctuation as spaces",
        "best_by_wer": min(results, key=lambda r: (r["wer"], r["rtf"]))["name"],
        "best_by_rtf": min(results, key=lambda r: (r["rtf"], r["wer"]))["name"],
        "configs": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print_report(report)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
