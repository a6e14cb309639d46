"""The vote's `align` batches sent to the model's replicas at once (scoring.Scorer._align):
both replicas work on one message's batches together, and every text gets the score it gets
when the batches run one after the other."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from activities.config import SttSettings
from activities.speech.audio import SAMPLE_RATE, load_audio
from activities.speech.model import SpeechModel
from activities.speech.scoring import Scorer
from corpus import DEMO_DIR
from domain.models import TranscribeResult
from workers.settings import Settings


class _Rendezvous:
    """The CTranslate2 model with an `align` that waits for a second call to be in flight
    before it runs: scoring one message's batches one after the other breaks the barrier
    (a timeout), and the test fails."""

    def __init__(self, model: Any, parties: int) -> None:
        self._model = model
        self.num_workers = model.num_workers
        self.barrier = threading.Barrier(parties, timeout=20)
        self.threads: set[int] = set()

    def align(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.add(threading.get_ident())
        self.barrier.wait()
        return self._model.align(*args, **kwargs)


@pytest.fixture(scope="module")
def two_replicas(base_settings: Settings) -> SpeechModel:
    settings: SttSettings = base_settings.stt.model_copy(
        update={"num_workers": 2, "cpu_threads": 1}
    )
    return SpeechModel(settings)


def _texts(demo01: TranscribeResult) -> list[str]:
    head = demo01.text[:40]
    # Eight distinct texts: two batches of four (the address vote's batch).
    return [f"{head} {n} boulevard Chave" for n in ("deux", "six", "douze", "vingt")] + [
        f"{head} {n} rue Paradis" for n in ("deux", "six", "douze", "vingt")
    ]


def test_a_messages_batches_run_on_both_replicas_with_the_same_scores(
    two_replicas: SpeechModel, demo01: TranscribeResult
) -> None:
    piece = load_audio(Path(DEMO_DIR / "audio" / "demo01.wav"), 60)[: 6 * SAMPLE_RATE]
    scorer = Scorer(two_replicas, piece, batch=4)
    assert scorer.replicas == 2
    texts = _texts(demo01)
    tokens = [scorer.tokenizer.encode(" " + t.strip()) for t in texts]

    scorer.replicas = 1
    one_after_the_other = scorer._align(scorer.audio, tokens)

    real = scorer.model
    spy = _Rendezvous(real.model, parties=2)
    scorer.model = SimpleNamespace(model=spy)  # type: ignore[assignment]
    scorer.replicas = 2
    together = scorer._align(scorer.audio, tokens)

    assert len(spy.threads) == 2
    assert together.keys() == one_after_the_other.keys()
    for seq, logps in one_after_the_other.items():
        assert together[seq].tolist() == logps.tolist()


def test_one_replica_scores_its_batches_in_the_callers_thread(
    stt: SpeechModel, demo01: TranscribeResult
) -> None:
    piece = load_audio(Path(DEMO_DIR / "audio" / "demo01.wav"), 60)[: 6 * SAMPLE_RATE]
    scorer = Scorer(stt, piece, batch=4)
    assert scorer.replicas == 1
    calls: list[int] = []
    real = scorer.model.model

    class _Spy:
        num_workers = 1

        def align(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(threading.get_ident())
            return real.align(*args, **kwargs)

    scorer.model = SimpleNamespace(model=_Spy())  # type: ignore[assignment]
    tokens = [scorer.tokenizer.encode(" " + t.strip()) for t in _texts(demo01)]
    scorer._align(scorer.audio, tokens)
    assert calls == [threading.get_ident()] * 2
