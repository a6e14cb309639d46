"""Recording and line conditions: names, seeded parameters (pure), and their application to
16 kHz float audio (numpy + the sox binary; imported lazily).

clean · bandlimit (300–3400 Hz) · ulaw / alaw (G.711 at 8 kHz, 300–3400 Hz) · gsm (GSM 06.10
at 8 kHz, 300–3400 Hz) · noise-snr20/10/5 (pink or brown noise at that SNR over the speech) ·
clipped (boosted 10–18 dB into hard clipping) · silence-padded (2–8 s before and after, over a
-60 dBFS noise floor) · second-speaker (another voice's sentence 12–18 dB below the caller).
"""

from __future__ import annotations

import random
import subprocess

RATE = 16_000
# Slots of the per-kind rotation: clean twice as often as each degradation.
CONDITIONS = (
    "clean",
    "clean",
    "bandlimit",
    "ulaw",
    "alaw",
    "gsm",
    "noise-snr20",
    "noise-snr10",
    "noise-snr5",
    "clipped",
    "silence-padded",
    "second-speaker",
)
TELEPHONE = frozenset({"bandlimit", "ulaw", "alaw", "gsm"})


def condition_params(condition: str, rng: random.Random, background: list[str]) -> dict:
    """Seeded parameters of a condition (everything synthesis needs besides the message)."""
    if condition.startswith("noise-snr"):
        return {
            "snr_db": int(condition.removeprefix("noise-snr")),
            "color": rng.choice(("pink", "brown")),
            "noise_seed": rng.randrange(2**31),
        }
    if condition == "clipped":
        return {"gain_db": round(rng.uniform(10, 18), 1)}
    if condition == "silence-padded":
        return {
            "lead_s": round(rng.uniform(2, 8), 2),
            "trail_s": round(rng.uniform(2, 8), 2),
            "noise_seed": rng.randrange(2**31),
        }
    if condition == "second-speaker":
        return {
            "speaker": rng.choice(background),
            "level_db": round(-rng.uniform(12, 18), 1),
            "start": round(rng.uniform(0.1, 0.6), 2),
        }
    return {}


# ------------------------------------------------------------------------------- audio
def sox(
    audio,
    effects: list[str],
    out: list[str] | None = None,
    inp: list[str] | None = None,
    raw: bytes | None = None,
):
    """Run sox on float32 mono audio (or raw bytes with `inp` format args); returns float32
    at 16 kHz, or bytes when `out` gives another output format. -D: no dither; -R:
    repeatable."""
    import numpy as np

    src = inp or ["-t", "raw", "-e", "floating-point", "-b", "32", "-r", str(RATE), "-c", "1"]
    dst = out or ["-t", "raw", "-e", "floating-point", "-b", "32", "-r", str(RATE), "-c", "1"]
    data = raw if raw is not None else np.asarray(audio, "<f4").tobytes()
    proc = subprocess.run(
        ["sox", "-D", "-R", "-V1", *src, "-", *dst, "-", *effects],
        input=data,
        capture_output=True,
        check=True,
    )
    return proc.stdout if out else np.frombuffer(proc.stdout, "<f4").astype(np.float32)


def codec_round_trip(audio, encoding: str):
    """16 kHz → 300–3400 Hz → 8 kHz `encoding` (u-law, a-law, gsm) → back to 16 kHz."""
    fmt = {"ulaw": ["-t", "ul"], "alaw": ["-t", "al"], "gsm": ["-t", "gsm"]}[encoding]
    line = [*fmt, "-r", "8000", "-c", "1"]
    coded = sox(audio, ["sinc", "300-3400", "rate", "-v", "8000"], out=line)
    return sox(None, ["rate", "-v", str(RATE)], inp=line, raw=coded)


def colored_noise(n: int, color: str, seed: int):
    """Pink (1/f power) or brown (1/f²) noise, unit RMS, from a seeded generator."""
    import numpy as np

    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    spec /= np.sqrt(f) if color == "pink" else f
    spec[f < 20] = 0
    noise = np.fft.irfft(spec, n)
    return (noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)).astype(np.float32)


def speech_rms(audio) -> float:
    import numpy as np

    active = audio[np.abs(audio) > 0.02 * float(np.abs(audio).max() or 1)]
    return float(np.sqrt(np.mean(active**2))) if len(active) else 0.0


def peak_normalise(audio, dbfs: float = -3.0):
    import numpy as np

    return (audio / max(float(np.abs(audio).max()), 1e-9) * 10 ** (dbfs / 20)).astype(np.float32)


def apply(audio, condition: str, params: dict, background=None):
    """The condition on a clean, peak-normalised message. `background`: the second
    speaker's audio (second-speaker only)."""
    import numpy as np

    seed = params.get("noise_seed", 0)
    if condition == "clean":
        return audio
    if condition == "bandlimit":
        return sox(audio, ["sinc", "300-3400"])
    if condition in ("ulaw", "alaw", "gsm"):
        return codec_round_trip(audio, condition)
    if condition.startswith("noise-snr"):
        noise = colored_noise(len(audio), params["color"], seed)
        gain = speech_rms(audio) / 10 ** (params["snr_db"] / 20)
        mixed = audio + gain * noise
        return peak_normalise(mixed, -1.0) if np.abs(mixed).max() > 0.89 else mixed
    if condition == "clipped":
        return np.clip(audio * 10 ** (params["gain_db"] / 20), -1.0, 1.0).astype(np.float32)
    if condition == "silence-padded":
        lead, trail = (np.zeros(int(params[k] * RATE), np.float32) for k in ("lead_s", "trail_s"))
        padded = np.concatenate([lead, audio, trail])
        return padded + 10 ** (-60 / 20) * colored_noise(len(padded), "pink", seed)
    if condition == "second-speaker":
        return mix_background(audio, background, params)
    raise ValueError(f"unknown condition {condition}")


def mix_background(audio, background, params: dict):
    import numpy as np

    start = int(params["start"] * len(audio))
    out = np.concatenate(
        [audio, np.zeros(max(0, start + len(background) - len(audio)), np.float32)]
    )
    gain = speech_rms(audio) / max(speech_rms(background), 1e-9) * 10 ** (params["level_db"] / 20)
    out[start : start + len(background)] += gain * background
    return peak_normalise(out, -3.0) if np.abs(out).max() > 0.89 else out
