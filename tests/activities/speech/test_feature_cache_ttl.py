"""When a message's decoded audio leaves the STT worker's cache if no vote follows its
transcription (a question, a refusal, no address heard): the address vote, which drops it,
never runs, so the TTL does, and it is short by default (the votes follow within seconds or go
to another worker). The real activities and cache, a stand-in engine, the demo recording."""

from __future__ import annotations

from temporalio.testing import ActivityEnvironment

from activities.speech.engine import SpeechEngine
from corpus import DEMO_DIR
from domain.models import TranscribeInput, TranscribeResult
from workers.settings import Settings
from workers.worker.composition import stt_activity_methods

WAV = DEMO_DIR / "audio" / "demo01.wav"


def test_a_message_no_vote_follows_leaves_the_cache_after_the_ttl(
    base_settings: Settings,
) -> None:
    speech = SpeechEngine(base_settings.stt)

    def fake(inp: TranscribeInput, heartbeat: bool = False, audio=None) -> TranscribeResult:  # type: ignore[no-untyped-def]
        assert audio is not None
        samples = audio()
        return TranscribeResult(text="une question", segments=[], duration_s=len(samples) / 16000)

    speech.transcribe_file = fake  # type: ignore[method-assign]
    acts = stt_activity_methods(speech, worker_queue="stt@w1")
    cache = acts[0].__self__._features.cache  # type: ignore[attr-defined]
    assert cache.ttl_s <= 60
    now = [1000.0]
    cache._clock = lambda: now[0]
    ActivityEnvironment().run(acts[0], TranscribeInput(audio_path=str(WAV), call_id="c-q"))
    assert len(cache) == 1 and cache.bytes > 0
    # Nothing else runs for c-q; the next use of the cache past the TTL sweeps it.
    now[0] += cache.ttl_s + 1
    assert cache.get("c-other", "x") is None
    assert (len(cache), cache.bytes) == (0, 0)
