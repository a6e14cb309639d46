"""What the worker's cache of decoded audio saves (issue 15, activities/speech/feature_cache.py):
the three STT activities of each development voicemail (transcription, items' vote, address
vote, with the inputs the evaluation pipeline gives them) run as a worker runs them, once with
the cache and once without, alternated, in one process; process CPU time per message.
Also: the results of both are compared (they must be equal), the decoding alone is timed, and
whether an encoder output of one pass could stand for another's is measured.

    PYTHONPATH=. .venv/bin/python bench/bench_feature_cache.py ../shared/voicemails --count 6 \
        --ban ../shared/geodata/adresses-13-marseille-synthetique.csv.gz \
        --sectors ../shared/geodata/marseille-arrondissements-osm-20160128.geojson \
        --out var/bench-feature-cache.json

Not a test: it asserts nothing."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from temporalio.testing import ActivityEnvironment

from activities.address_scoring import AddressScoringActivities
from activities.audio_store.sealed import open_sealed, seal
from activities.item_refinement import ItemRefinementActivities
from activities.speech.address import address_clip
from activities.speech.audio import SAMPLE_RATE, load_audio
from activities.speech.feature_cache import FeatureCache, MessageAudio
from activities.transcribe import TranscribeActivities
from workers.dev.evaluation import EvalOptions, build_pipeline, load_voicemail_set
from workers.settings import Settings


def _capture(stt: Any) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Wraps the engine's three methods to keep each voicemail's inputs; the originals."""
    seen: dict[str, dict[str, Any]] = {}
    originals = {}
    for method in ("transcribe_file", "score_address_candidates", "refine_items"):
        inner = getattr(stt, method)
        originals[method] = inner

        def wrapped(inp: Any, *a: Any, _m: str = method, _f: Any = inner, **k: Any) -> Any:
            seen.setdefault(inp.call_id, {})[_m] = inp
            return _f(inp, *a, **k)

        setattr(stt, method, wrapped)
    return seen, originals


def _worker(stt: Any, cache: FeatureCache | None) -> list[Any]:
    """The STT activities as composition.stt_activity_methods builds them; without the cache
    each one decodes the audio (the former behaviour)."""
    features = MessageAudio(stt.settings.max_duration_s, cache=cache)
    return [
        TranscribeActivities(stt, features=features, worker_queue="bench").transcribe,
        ItemRefinementActivities(stt, features=features).refine_items,
        AddressScoringActivities(stt, features=features).score_address_candidates,
    ]


def _message(acts: list[Any], inputs: dict[str, Any]) -> tuple[float, list[Any]]:
    env = ActivityEnvironment()
    c0 = time.process_time()
    out = [env.run(acts[0], inputs["transcribe_file"])]
    if "refine_items" in inputs:
        out.append(env.run(acts[1], inputs["refine_items"]))
    if "score_address_candidates" in inputs:
        out.append(env.run(acts[2], inputs["score_address_candidates"]))
    return time.process_time() - c0, out


def _comparable(results: list[Any]) -> list[Any]:
    """The results without their timings."""
    out = []
    for r in results:
        d = dict(vars(r))
        d.pop("processing_s", None)
        out.append(d)
    return out


def _encoder_reuse(stt: Any, inputs: dict[str, Any]) -> dict[str, float] | None:
    """Max |difference| of encoder outputs that one pass could lend another on the same audio:
    the address clip encoded as the items encode theirs (padded to 30 s) against the same
    positions of the message's first 30-s window (what Whisper encodes for a message of up to
    30 s without its voice-activity cut), and against the clip padded by 200 frames (the
    address vote's own encoding)."""
    from faster_whisper.audio import pad_or_trim

    score = inputs.get("score_address_candidates")
    if score is None:
        return None
    clip = address_clip(score.text, score.segments, score.candidates)
    if clip is None:
        return None
    model = stt.model()
    audio = load_audio(Path(score.audio_path), stt.settings.max_duration_s)
    s0 = int(clip.start_s * SAMPLE_RATE)
    piece = audio[s0 : int(clip.end_s * SAMPLE_RATE)]

    def encode(samples: np.ndarray, frames: int = 3000) -> np.ndarray:
        features = model.feature_extractor(samples)
        return np.asarray(model.encode(pad_or_trim(features, frames)))[0]

    n = min(1500, len(piece) // 320)
    clip_30 = encode(piece)[:n]
    window = encode(audio)
    offset = s0 // 320  # 20 ms per encoder position
    m = min(n, window.shape[0] - offset)
    frames = len(piece) // 160 + 200
    clip_pad = encode(piece, frames + frames % 2)[:n]
    return {
        "clip30_vs_message_window": float(np.abs(clip_30[:m] - window[offset : offset + m]).max()),
        "clip30_vs_clip_padded_200": float(np.abs(clip_30 - clip_pad).max()),
        "clip30_vs_itself": float(np.abs(clip_30 - encode(piece)[:n]).max()),
    }


def _transcode(src: Path, dst: Path, codec: str) -> None:
    """`src` re-encoded with `codec` (mono, 16 kHz for Opus's sake too), as a provider's
    compressed recording would come."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream(codec, rate=16_000 if codec != "libopus" else 48_000)
        stream.layout = "mono"  # type: ignore[union-attr]
        for frame in inp.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):  # type: ignore[union-attr]
                out.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            out.mux(packet)


def _decode_by_format(paths: list[Path], max_duration_s: float) -> dict[str, float]:
    """Mean CPU-s of one decoding of each message, in its WAV and in two compressed forms."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for codec, ext in (("libmp3lame", ".mp3"), ("libopus", ".ogg")):
            times = []
            for path in paths:
                dst = Path(tmp) / f"{path.stem}{ext}"
                _transcode(path, dst, codec)
                c0 = time.process_time()
                load_audio(dst, max_duration_s)
                times.append(time.process_time() - c0)
            out[ext.lstrip(".")] = round(statistics.mean(times), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", type=Path)
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ban", type=Path, required=True)
    ap.add_argument("--sectors", type=Path, action="append", required=True)
    ap.add_argument("--out", type=Path, default=Path("var/bench-feature-cache.json"))
    args = ap.parse_args()
    pipeline = build_pipeline(Settings(), args.ban, args.sectors, EvalOptions())
    stt = pipeline.stt
    stt.silence_encoding()
    seen, originals = _capture(stt)
    entries = load_voicemail_set(args.directory)[: args.count]
    for entry in entries:  # the inputs of each activity, as the workflow would give them
        pipeline.run(entry, args.directory)
    for method, inner in originals.items():
        setattr(stt, method, inner)
    messages = {cid: inp for cid, inp in seen.items() if "transcribe_file" in inp}

    cpu: dict[str, list[float]] = {"cache": [], "no_cache": []}
    saved: list[float] = []
    hits: list[int] = []
    same = True
    for r in range(args.rounds):
        for k, (_cid, inputs) in enumerate(messages.items()):
            order = [True, False] if (r + k) % 2 == 0 else [False, True]
            got: dict[bool, tuple[float, list[Any]]] = {}
            for cached in order:
                cache = FeatureCache() if cached else None
                got[cached] = _message(_worker(stt, cache), inputs)
                if cache is not None:
                    hits.append(cache.hits)
            cpu["cache"].append(got[True][0])
            cpu["no_cache"].append(got[False][0])
            saved.append(got[False][0] - got[True][0])
            same = same and _comparable(got[True][1]) == _comparable(got[False][1])

    decode: list[float] = []
    unseal: list[float] = []
    keys = {"k": os.urandom(32)}
    for cid, inputs in messages.items():
        path = Path(inputs["transcribe_file"].audio_path)
        c0 = time.process_time()
        load_audio(path, stt.settings.max_duration_s)
        decode.append(time.process_time() - c0)
        # What an object-store reference adds per read (the network fetch aside): opening the
        # sealed object and writing its private file.
        blob = seal(keys, "k", cid, path.read_bytes())
        c0 = time.process_time()
        data = open_sealed(keys, cid, blob)
        with tempfile.NamedTemporaryFile(suffix=path.suffix) as tmp:
            tmp.write(data)
            tmp.flush()
        unseal.append(time.process_time() - c0)
    by_format = _decode_by_format(
        [Path(i["transcribe_file"].audio_path) for i in messages.values()],
        stt.settings.max_duration_s,
    )
    reuse = {cid: _encoder_reuse(stt, inputs) for cid, inputs in messages.items()}
    report = {
        "voicemails": list(messages),
        "rounds": args.rounds,
        "cpu_s_per_message_mean": {k: round(statistics.mean(v), 3) for k, v in cpu.items()},
        "cpu_s_saved_per_message_mean": round(statistics.mean(saved), 4),
        "cpu_s_saved_per_message_median": round(statistics.median(saved), 4),
        "cpu_s_saved_per_message_stdev": round(statistics.stdev(saved), 4),
        "decode_cpu_s_per_read_mean": round(statistics.mean(decode), 4),
        "decode_cpu_s_per_read_compressed_mean": by_format,
        "unseal_and_write_cpu_s_per_read_mean": round(statistics.mean(unseal), 4),
        "decodings_saved_per_message_mean": round(statistics.mean(hits), 2),
        "results_identical_with_and_without_cache": same,
        "encoder_max_abs_difference": reuse,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
