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


class _Spy:
    """The CTranslate2 model, recording the thread of each `align` call. With `parties`, a
    call waits for that many to be in flight before it runs: scoring one message's batches
    one after the other breaks the barrier (a timeout), and the test fails."""

    def __init__(self, model: Any, parties: int = 0) -> None:
        self._model = model
        self.num_workers = model.num_workers
        self.barrier = threading.Barrier(parties, timeout=20) if parties else None
        self.threads: list[int] = []

    def align(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.get_ident())
        if self.barrier is not None:
            self.barrier.wait()
        return self._model.align(*args, **kwargs)


@pytest.fixture(scope="module")
def two_replicas(base_settings: Settings) -> SpeechModel:
    settings: SttSettings = base_settings.stt.model_copy(
        update={"num_workers": 2, "cpu_threads": 1}
    )
    return SpeechModel(settings)


def _scorer(speech: SpeechModel, demo01: TranscribeResult) -> tuple[Scorer, list[list[int]]]:
    """A scorer on demo01's first 6 s, in batches of four (the address vote's), and eight
    distinct texts: two batches."""
    piece = load_audio(Path(DEMO_DIR / "audio" / "demo01.wav"), 60)[: 6 * SAMPLE_RATE]
    scorer = Scorer(speech, piece, batch=4)
    head = demo01.text[:40]
    texts = [f"{head} {n} boulevard Chave" for n in ("deux", "six", "douze", "vingt")] + [
        f"{head} {n} rue Paradis" for n in ("deux", "six", "douze", "vingt")
    ]
    return scorer, [scorer.tokenizer.encode(" " + t.strip()) for t in texts]


def _spy_on(scorer: Scorer, parties: int = 0) -> _Spy:
    spy = _Spy(scorer.model.model, parties)
    scorer.model = SimpleNamespace(model=spy)  # type: ignore[assignment]
    return spy


def test_a_messages_batches_run_on_both_replicas_with_the_same_scores(
    two_replicas: SpeechModel, demo01: TranscribeResult
) -> None:
    scorer, tokens = _scorer(two_replicas, demo01)
    assert scorer.replicas == 2
    scorer.replicas = 1
    one_after_the_other = scorer._align(scorer.audio, tokens)

    spy = _spy_on(scorer, parties=2)
    scorer.replicas = 2
    together = scorer._align(scorer.audio, tokens)

    assert len(set(spy.threads)) == 2
    assert together.keys() == one_after_the_other.keys()
    for seq, logps in one_after_the_other.items():
        assert together[seq].tolist() == logps.tolist()


def test_one_replica_scores_its_batches_in_the_callers_thread(
    stt: SpeechModel, demo01: TranscribeResult
) -> None:
    scorer, tokens = _scorer(stt, demo01)
    assert scorer.replicas == 1
    spy = _spy_on(scorer)
    scorer._align(scorer.audio, tokens)
    assert spy.threads == [threading.get_ident()] * 2
