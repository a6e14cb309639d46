"""The committed demo voicemail demo01, transcribed once by the session's Whisper model (the
`stt` fixture), and the demo gazetteer: what the scoring tests of the speech engine read."""

from __future__ import annotations

import pytest

from activities.geo.gazetteer import Gazetteer
from activities.geo.sectors import SectorIndex
from activities.geocode import GeocodeActivities
from activities.speech.engine import SpeechEngine
from corpus import DEMO_DIR
from domain.models import TranscribeInput
from domain.understanding import Territory

AUDIO = DEMO_DIR / "audio"


@pytest.fixture(scope="package")
def geocode(tmp_path_factory: pytest.TempPathFactory, territory: Territory) -> GeocodeActivities:
    gz = Gazetteer.load(DEMO_DIR / "adresses-demo.csv", tmp_path_factory.mktemp("gz"))
    sectors = SectorIndex.load(DEMO_DIR / "secteurs-demo.geojson")
    return GeocodeActivities(gz, sectors, 0.82, territory)


@pytest.fixture(scope="package")
def demo01(stt: SpeechEngine):
    return stt.transcribe_file(TranscribeInput(audio_path=str(AUDIO / "demo01.wav")))
