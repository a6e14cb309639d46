"""The decoded audio kept between a message's STT activities (activities/speech/
feature_cache.py): its bounds, and what a worker with or without it computes."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from temporalio.testing import ActivityEnvironment

from activities.geocode import GeocodeActivities
from activities.speech.engine import SpeechEngine
from activities.speech.feature_cache import FeatureCache, MessageAudio
from corpus import DEMO_DIR
from domain.address_models import AddressScoringInput, AddressSearchInput, ItemRefineInput
from domain.models import Intent, Segment, SpokenAddress, TranscribeInput, Understanding
from workers.worker.composition import stt_activity_methods

WAV = DEMO_DIR / "audio" / "demo01.wav"


def samples(n: int, value: float = 0.1) -> np.ndarray:
    return np.full(n, value, dtype=np.float32)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_audio_is_found_again_read_only() -> None:
    cache = FeatureCache()
    audio = samples(100)
    cache.put("c1", "a.wav", audio)
    got = cache.get("c1", "a.wav")
    assert got is audio and not got.flags.writeable
    assert cache.get("c1", "other.wav") is None  # another recording of the same call
    assert cache.get("c2", "a.wav") is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_least_recently_used_goes_first_past_the_entries_bound() -> None:
    cache = FeatureCache(max_entries=2)
    cache.put("a", "r", samples(10))
    cache.put("b", "r", samples(10))
    assert cache.get("a", "r") is not None  # a is now the most recent
    cache.put("c", "r", samples(10))
    assert cache.get("b", "r") is None  # evicted: a miss, the caller decodes again
    assert cache.get("a", "r") is not None and cache.get("c", "r") is not None
    assert len(cache) == 2


def test_the_bytes_bound_evicts_and_refuses_what_cannot_fit() -> None:
    cache = FeatureCache(max_entries=10, max_bytes=1000)  # 250 float32 samples
    cache.put("a", "r", samples(100))
    cache.put("b", "r", samples(100))
    cache.put("c", "r", samples(100))  # 1,200 bytes: a goes
    assert cache.get("a", "r") is None
    assert cache.bytes == 800 and len(cache) == 2
    cache.put("huge", "r", samples(300))  # alone above the budget: not kept, nothing evicted
    assert cache.get("huge", "r") is None and len(cache) == 2
    cache.put("b", "r", samples(50))  # replaced, counted once
    assert cache.bytes == 600


def test_an_entry_older_than_its_ttl_is_gone() -> None:
    clock = Clock()
    cache = FeatureCache(ttl_s=60, clock=clock)
    cache.put("a", "r", samples(10))
    clock.now = 59
    assert cache.get("a", "r") is not None
    cache.put("b", "r", samples(10))
    clock.now = 61
    assert cache.get("a", "r") is None
    assert len(cache) == 1  # b, 2 s old
    clock.now = 200
    cache.put("c", "r", samples(10))  # a put also sweeps what aged
    assert len(cache) == 1 and cache.bytes == 40


def test_drop_forgets_every_entry_of_a_call() -> None:
    cache = FeatureCache()
    cache.put("a", "r1", samples(10))
    cache.put("a", "r2", samples(10))
    cache.put("b", "r1", samples(10))
    cache.drop("a")
    assert cache.get("a", "r1") is None and cache.get("a", "r2") is None
    assert cache.get("b", "r1") is not None and cache.bytes == 40


def test_no_call_id_or_no_room_keeps_nothing() -> None:
    cache = FeatureCache(max_entries=0)
    cache.put("a", "r", samples(10))
    assert len(cache) == 0
    cache = FeatureCache()
    cache.put("", "r", samples(10))  # the evaluation's inputs: no call to key it by
    assert len(cache) == 0


def test_threads_keep_the_bounds() -> None:
    cache = FeatureCache(max_entries=8, max_bytes=8 * 400)

    def work(k: int) -> None:
        for i in range(200):
            cache.put(f"c{(k * 7 + i) % 20}", "r", samples(100))
            cache.get(f"c{i % 20}", "r")
            if i % 17 == 0:
                cache.drop(f"c{i % 20}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) <= 8
    assert cache.bytes == 400 * len(cache)


class CountingStore:
    """An object store stand-in: each fetch counted, the demo recording served."""

    def __init__(self) -> None:
        self.fetches = 0

    @contextmanager
    def local(self, ref: str) -> Iterator[Path]:
        self.fetches += 1
        yield WAV


REF = "s3://voicemails/c1.wav"


def test_a_second_read_of_a_message_neither_fetches_nor_decodes() -> None:
    store = CountingStore()
    features = MessageAudio(300.0, store=store, cache=FeatureCache())  # type: ignore[arg-type]
    first = features.loader("c1", REF)()
    again = features.loader("c1", REF)()
    assert again is first and store.fetches == 1
    features.drop("c1")  # the message's last activity is done
    assert features.loader("c1", REF)() is not first and store.fetches == 2


def test_another_worker_fetches_and_decodes_the_same_audio() -> None:
    here = MessageAudio(300.0, store=CountingStore(), cache=FeatureCache())  # type: ignore[arg-type]
    elsewhere_store = CountingStore()
    elsewhere = MessageAudio(300.0, store=elsewhere_store, cache=FeatureCache())  # type: ignore[arg-type]
    assert np.array_equal(here.loader("c1", REF)(), elsewhere.loader("c1", REF)())
    assert elsewhere_store.fetches == 1


def test_a_loader_never_called_loads_nothing() -> None:
    store = CountingStore()
    features = MessageAudio(300.0, store=store, cache=FeatureCache())  # type: ignore[arg-type]
    features.loader("c1", REF)
    assert store.fetches == 0


# ------------------------------------------------------------------ the three activities


def worker(stt: SpeechEngine, queue: str) -> tuple[list, FeatureCache]:
    """One worker's STT activities, as the composition builds them, and its cache."""
    acts = stt_activity_methods(stt, worker_queue=queue)
    cache = acts[0].__self__._features.cache
    assert cache is not None
    return acts, cache


@pytest.fixture(scope="module")
def message(stt: SpeechEngine, geocode: GeocodeActivities):
    """demo01 transcribed by a worker, then what its two votes are asked."""
    acts, cache = worker(stt, "stt@w1")
    transcribe = acts[0]
    env = ActivityEnvironment()
    t = env.run(transcribe, TranscribeInput(audio_path=str(WAV), call_id="c-fc"))
    spoken = SpokenAddress(housenumber="12", street="boulevard Chave", postcode="13005")
    cands = geocode.propose_addresses(AddressSearchInput(text=t.text, address=spoken))
    assert cands.candidates
    score = AddressScoringInput(
        audio_path=str(WAV), text=t.text, segments=t.segments, candidates=cands, call_id="c-fc"
    )
    # An item the words do not name, so that the items' vote reads the audio (test_items.py).
    found = re.search(r"\b(un|en)\s+(canap\w*)", t.text, re.IGNORECASE)
    assert found is not None, t.text
    said = found.group(0)
    items = ItemRefineInput(
        audio_path=str(WAV),
        text=t.text.replace(said, "un tanapé"),
        segments=[
            Segment(s.start, s.end, s.text.replace(said, "un tanapé"), s.avg_logprob)
            for s in t.segments
        ],
        understanding=Understanding(intent=Intent.BOOKING.value),
        call_id="c-fc",
    )
    return t, acts, cache, score, items


def test_the_transcription_names_its_worker_queue_and_keeps_the_audio(message) -> None:
    t, _, cache, _, _ = message
    assert t.worker_queue == "stt@w1"
    assert cache.get("c-fc", str(WAV)) is not None


def test_the_votes_on_the_same_worker_hit_and_another_worker_recomputes_the_same(
    stt: SpeechEngine, message
) -> None:
    _, acts, cache, score_in, items_in = message
    env = ActivityEnvironment()
    _, score, refine = acts
    hits = cache.hits
    items_here = env.run(refine, items_in)
    assert cache.hits == hits + 1
    scores_here = env.run(score, score_in)
    assert cache.hits == hits + 2
    assert len(cache) == 0  # the address vote, last of the message, dropped it

    # The worker that transcribed is gone: another one, its cache empty, decodes again.
    other, other_cache = worker(stt, "stt@w2")
    items_there = env.run(other[2], items_in)
    scores_there = env.run(other[1], score_in)
    # The first vote there decodes (a miss), the second reads what the first kept.
    assert (other_cache.misses, other_cache.hits) == (1, 1)
    assert items_there == items_here
    assert "canapé" in {i.item for i in items_here.items}
    assert scores_there.street_scores == scores_here.street_scores
    assert scores_there.number_scores == scores_here.number_scores
    assert scores_there.heard_score == scores_here.heard_score
