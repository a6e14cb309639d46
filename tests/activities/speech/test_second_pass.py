"""The evaluation's second pass (activities/speech/second_pass.py), on the committed demo
voicemails (one Whisper model per session: the `stt` fixture)."""

from __future__ import annotations

from activities.geocode import GeocodeActivities
from activities.speech.engine import SpeechEngine
from activities.speech.second_pass import AddressPassInput
from corpus import DEMO_DIR
from domain.address_models import AddressSearchInput

AUDIO = DEMO_DIR / "audio"


def test_second_pass_rewrites_the_address_segment(
    stt: SpeechEngine, geocode: GeocodeActivities, demo01
) -> None:
    cands = geocode.propose_addresses(AddressSearchInput(text=demo01.text))
    result = stt.transcribe_address(
        AddressPassInput(
            audio_path=str(AUDIO / "demo01.wav"),
            text=demo01.text,
            segments=demo01.segments,
            candidates=cands,
        )
    )
    assert result.segment_text
    # Only the address segment is rewritten: the last segment is untouched.
    assert result.text.endswith(demo01.segments[-1].text)
    assert " ".join(s.text for s in result.segments) == result.text
