"""Smart Turn v3.2: the probability that the caller's turn so far is complete, from its audio.

The model is the ONNX file that the `pipecat-ai` wheel ships (requirements/models.lock,
installed without its dependencies: only the file is used, pipecat is never imported). Its
input is what pipecat's LocalSmartTurnAnalyzerV3 computes: the last 8 s at 16 kHz, zeros
in front when shorter, normalised to zero mean and unit variance, then Whisper's 80-bin
log-mel spectrogram (faster-whisper's FeatureExtractor gives the same features as pipecat's
vendored copy of transformers', to 1e-5: tests/activities/live/test_smart_turn.py); its
output, the sigmoid probability of "complete".

One inference is about 100 ms on one core of the 2-core development machine when it is idle
(features 15 ms, the model the rest), 0.2-0.3 s when it is loaded: the live path runs it in
a thread, and one thread per inference keeps the other core to Whisper.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import time
from collections import deque
from pathlib import Path

import numpy as np

from activities.speech.tts import resample_s16
from domain.media import SAMPLE_RATE

log = logging.getLogger(__name__)

MODEL_RATE = 16000
WINDOW_S = 8
# Inside the pipecat-ai wheel.
BUNDLED = ("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")


def bundled_model_path() -> Path:
    """The ONNX file of the installed pipecat-ai wheel, found without importing pipecat (its
    __init__ would want the dependencies that are deliberately not installed)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "Smart Turn: pipecat-ai is not installed "
            "(pip install --no-deps --require-hashes -r requirements/models.lock)"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*BUNDLED)
    if not path.is_file():
        raise FileNotFoundError(f"Smart Turn: no model at {path}")
    return path


class SmartTurn:
    """The loaded model; `completion_probability` is thread-safe (onnxruntime sessions are)."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._features = FeatureExtractor(feature_size=80, chunk_length=WINDOW_S)
        self._frames = WINDOW_S * MODEL_RATE // self._features.hop_length  # 800
        # Seconds per inference, the last ones (the latency bench reads them).
        self.timings: deque[float] = deque(maxlen=1000)

    def features(self, audio: np.ndarray) -> np.ndarray:
        """(80, 800) log-mel features of float audio at 16 kHz (the last 8 s)."""
        n = WINDOW_S * MODEL_RATE
        x = audio[-n:].astype(np.float32)
        x = np.pad(x, (n - len(x), 0))  # the model was trained with the silence in front
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        mel = self._features(x, padding=0)
        return np.asarray(mel[:, : self._frames], dtype=np.float32)

    def probability(self, audio: np.ndarray) -> float:
        """The probability that float audio at 16 kHz ends a complete turn."""
        out = self._session.run(None, {"input_features": self.features(audio)[None]})
        return float(np.asarray(out[0]).reshape(-1)[0])

    def completion_probability(self, pcm: bytes) -> float | None:
        """domain.turn_detector.CompletionModel: slin16 at 8 kHz in; None if the model failed
        (the fixed pause then decides)."""
        start = time.perf_counter()
        try:
            wide = resample_s16(pcm, SAMPLE_RATE, MODEL_RATE)
            audio = np.frombuffer(wide, dtype=np.int16).astype(np.float32) / 32768.0
            p = self.probability(audio)
            self.timings.append(time.perf_counter() - start)
            return p
        except Exception as exc:  # a broken turn must not end the call
            log.warning("smart turn inference failed: %s", type(exc).__name__)
            return None


@functools.cache
def smart_turn(path: Path | None = None) -> SmartTurn:
    """The process's one model (loaded once: about 0.35 s and 30 MB)."""
    return SmartTurn(path or bundled_model_path())
