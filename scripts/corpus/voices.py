"""Speakers: Kokoro's five voices, fixed blends of their style vectors, pitch-shifted
variants, and espeak-ng French voices. One speaker id per (engine, voice or blend, pitch):
the unit of leave-one-voice-out. The speaking rate varies per message, not per speaker."""

from __future__ import annotations

from dataclasses import dataclass

KOKORO_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")


@dataclass(frozen=True)
class Speaker:
    id: str
    engine: str  # "kokoro" | "espeak"
    voice: str  # Kokoro voice, or espeak-ng voice name ("fr+m3")
    blend: tuple[tuple[str, float], ...] = ()  # Kokoro style blend: (voice, weight) pairs
    pitch_cents: int = 0  # sox `pitch` after synthesis (0: none)
    espeak_pitch: int = 50  # espeak-ng -p (0-99, default 50)

    @property
    def voice_label(self) -> str:
        """The `voice` field of the JSON: "jm_kumo", "jm_kumo+jf_alpha", "espeak:fr+m3"."""
        if self.engine == "espeak":
            return f"espeak:{self.voice}"
        if self.blend:
            return "+".join(f"{v}*{w:g}" for v, w in self.blend)
        return self.voice


def _blend(sid: str, a: str, b: str, wa: float = 0.5, pitch: int = 0) -> Speaker:
    key = f"{a}*{wa:g}+{b}*{1 - wa:g}"
    return Speaker(sid, "kokoro", key, ((a, wa), (b, round(1 - wa, 2))), pitch)


SPEAKERS: tuple[Speaker, ...] = (
    *(Speaker(f"k-{v.split('_')[1]}", "kokoro", v) for v in KOKORO_VOICES),
    _blend("kb-kumo-alpha", "jm_kumo", "jf_alpha"),
    _blend("kb-kumo-nezumi", "jm_kumo", "jf_nezumi"),
    _blend("kb-alpha-tebukuro", "jf_alpha", "jf_tebukuro"),
    _blend("kb-gongitsune-nezumi", "jf_gongitsune", "jf_nezumi"),
    _blend("kb-kumo70-gongitsune30", "jm_kumo", "jf_gongitsune", 0.7),
    Speaker("kp-kumo-low", "kokoro", "jm_kumo", pitch_cents=-250),
    Speaker("kp-nezumi-high", "kokoro", "jf_nezumi", pitch_cents=150),
    _blend("kbp-kumo-alpha-low", "jm_kumo", "jf_alpha", pitch=-150),
    _blend("kb-nezumi-tebukuro", "jf_nezumi", "jf_tebukuro"),
    _blend("kb-kumo40-tebukuro60", "jm_kumo", "jf_tebukuro", 0.4),
    # espeak-ng (formant synthesis, no mbrola): the variants Whisper base understood best on a
    # test sentence (m2, m4, m6, f5; m3, m7, f2, f4, klatt, fr-be were worse or looped).
    Speaker("e-fr-m2", "espeak", "fr+m2"),
    Speaker("e-fr-m4", "espeak", "fr+m4"),
    Speaker("e-fr-m6", "espeak", "fr+m6"),
    Speaker("e-fr-f5", "espeak", "fr+f5"),
    Speaker("ep-fr-m5-low", "espeak", "fr+m5", espeak_pitch=30),
    Speaker("ep-fr-m1-high", "espeak", "fr+m1", espeak_pitch=70),
)
BY_ID = {s.id: s for s in SPEAKERS}

KOKORO_SPEED = (0.85, 1.1)
ESPEAK_WPM = 130  # speed 1.0; espeak-ng -s = round(130 * speed) (its default 175 is too fast)
ESPEAK_SPEED = (0.9, 1.1)
