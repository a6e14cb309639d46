"""Malformed and unusual audio inputs, generated deterministically (seeded) for the bad-input
proof of issue 9: what telephony platforms, misconfigured gateways and broken uploads really
send.

Each input has a `kind` and what the system must make of it:
- `unusable`: cannot be a message (empty, random bytes, not audio at all, a header with
  nothing behind it, silence, hours long) → an `audio_unusable` escalation;
- `speech`: real speech in an unusual but valid form (8/44.1/48 kHz, stereo, 8-bit,
  float, µ-law/A-law, mp3, ogg/vorbis, ogg/opus, flac, aac) → processed like any message,
  never refused as unusable;
- `either`: damaged speech (truncated files, headers that lie about the data) → processed or
  refused, as long as it ends in bounded time.

    inputs = generate(tmp_path / "bad", sources=[...demo WAVs...], count=1000)
"""

from __future__ import annotations

import io
import random
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

UNUSABLE, SPEECH, EITHER = "unusable", "speech", "either"


@dataclass(frozen=True)
class BadInput:
    path: Path
    kind: str
    expect: str  # UNUSABLE | SPEECH | EITHER


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, path
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        if w.getnchannels() > 1:
            pcm = pcm.reshape(-1, w.getnchannels())[:, 0]
        return pcm.astype(np.int16), w.getframerate()


def resample(pcm: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    if rate == new_rate:
        return pcm
    n = int(len(pcm) * new_rate / rate)
    x = np.linspace(0, len(pcm) - 1, n)
    return np.interp(x, np.arange(len(pcm)), pcm.astype(np.float64)).astype(np.int16)


def wav_bytes(
    data: bytes,
    *,
    rate: int,
    channels: int = 1,
    bits: int = 16,
    fmt: int = 1,
    riff_size: int | None = None,
    data_size: int | None = None,
    block_align: int | None = None,
    byte_rate: int | None = None,
) -> bytes:
    """A RIFF/WAVE file whose header fields can each be made to lie."""
    align = block_align if block_align is not None else channels * max(bits, 8) // 8
    brate = byte_rate if byte_rate is not None else rate * align
    fmt_chunk = struct.pack(
        "<4sIHHIIHH",
        b"fmt ",
        16,
        fmt & 0xFFFF,
        channels & 0xFFFF,
        rate & 0xFFFFFFFF,
        brate & 0xFFFFFFFF,
        align & 0xFFFF,
        bits & 0xFFFF,
    )
    dsize = len(data) if data_size is None else data_size
    data_chunk = struct.pack("<4sI", b"data", dsize & 0xFFFFFFFF) + data
    body = b"WAVE" + fmt_chunk + data_chunk
    rsize = len(body) if riff_size is None else riff_size
    return struct.pack("<4sI", b"RIFF", rsize & 0xFFFFFFFF) + body


def encode(
    pcm: np.ndarray, rate: int, container: str, codec: str, *, layout: str = "mono"
) -> bytes:
    """Real compressed audio through PyAV's FFmpeg (the encoders a phone platform uses)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        # FFmpeg's own vorbis encoder is flagged experimental; it is what a gateway without
        # libvorbis uses.
        stream = out.add_stream(codec, rate=rate, layout=layout, options={"strict": "-2"})
        channels = 2 if layout == "stereo" else 1
        interleaved = np.repeat(pcm[:, None], channels, axis=1).reshape(1, -1)
        for start in range(0, interleaved.shape[1], 4096 * channels):
            chunk = np.ascontiguousarray(interleaved[:, start : start + 4096 * channels])
            frame = av.AudioFrame.from_ndarray(chunk.astype(np.int16), format="s16", layout=layout)
            frame.sample_rate = rate
            # PyAV resamples to the encoder's sample format and frames to its frame size.
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def speech_variants(pcm: np.ndarray, rate: int) -> list[tuple[str, bytes]]:
    """One real message in every valid form the inputs of a phone platform take."""
    out: list[tuple[str, bytes]] = []
    for r in (8000, 16000, 44100, 48000):
        out.append((f"wav_{r}.wav", wav_bytes(resample(pcm, rate, r).tobytes(), rate=r)))
    p8 = resample(pcm, rate, 8000)
    stereo = np.repeat(p8[:, None], 2, axis=1).reshape(-1)
    out.append(("wav_stereo.wav", wav_bytes(stereo.tobytes(), rate=8000, channels=2)))
    u8 = ((p8.astype(np.int32) >> 8) + 128).astype(np.uint8)
    out.append(("wav_u8.wav", wav_bytes(u8.tobytes(), rate=8000, bits=8)))
    f32 = (p8.astype(np.float32) / 32768.0).astype("<f4")
    out.append(("wav_float.wav", wav_bytes(f32.tobytes(), rate=8000, bits=32, fmt=3)))
    p48 = resample(pcm, rate, 48000)
    p16 = resample(pcm, rate, 16000)
    for name, container, codec, r, src in (
        ("mulaw.wav", "wav", "pcm_mulaw", 8000, p8),
        ("alaw.wav", "wav", "pcm_alaw", 8000, p8),
        ("mp3_44k.mp3", "mp3", "libmp3lame", 44100, resample(pcm, rate, 44100)),
        ("mp3_8k.mp3", "mp3", "libmp3lame", 8000, p8),
        ("opus.ogg", "ogg", "libopus", 48000, p48),
        ("opus.opus", "opus", "libopus", 48000, p48),
        ("flac.flac", "flac", "flac", 16000, p16),
        ("aac.m4a", "ipod", "aac", 16000, p16),
    ):
        out.append((name, encode(src, r, container, codec)))
    out.append(("mp3_stereo.mp3", encode(p16, 16000, "mp3", "libmp3lame", layout="stereo")))
    # FFmpeg's own vorbis encoder (no libvorbis in PyAV's build) only does stereo.
    out.append(("vorbis.ogg", encode(p48, 48000, "ogg", "vorbis", layout="stereo")))
    return out


NOT_AUDIO = (
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    b'{"call_id": "x", "audio": null}',
    b"<html><body>502 Bad Gateway</body></html>",
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    b"\x7fELF\x02\x01\x01" + b"\x00" * 120,
    b"PK\x03\x04" + b"\x00" * 100,
    b"ID3\x03\x00\x00\x00\x00\x00\x00",  # an MP3 tag with no frames
    b"OggS" + b"\x00" * 60,
    b"fLaC" + b"\x00" * 40,
    b"RIFF\x24\x00\x00\x00WAVE",
)


def generate(
    out_dir: Path, sources: list[Path], count: int = 1000, seed: int = 9
) -> list[BadInput]:
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs: list[BadInput] = []

    def put(kind: str, expect: str, data: bytes, suffix: str = ".wav") -> None:
        path = out_dir / f"{len(inputs):04d}-{kind}{suffix}"
        path.write_bytes(data)
        inputs.append(BadInput(path, kind, expect))

    speech = [read_wav(p) for p in sources]
    encoded: list[tuple[str, bytes]] = []
    for pcm, rate in speech:
        encoded += speech_variants(pcm, rate)

    # Valid speech in unusual forms: one of each form, over the sources in turn.
    forms = speech_variants(*speech[0])
    for i, (name, _) in enumerate(forms):
        pcm, rate = speech[i % len(speech)]
        data = dict(speech_variants(pcm, rate))[name] if i % len(speech) else forms[i][1]
        put(f"speech-{Path(name).stem}", SPEECH, data, Path(name).suffix)

    # Hours long: a real 1-hour file (8 kHz, 8-bit, low noise) and a long mp3.
    hour = (np.random.default_rng(seed).integers(124, 132, 8000 * 3600)).astype(np.uint8)
    put("hours-wav", UNUSABLE, wav_bytes(hour.tobytes(), rate=8000, bits=8))
    tone = (np.sin(np.arange(8000 * 60 * 20) * 0.05) * 3000).astype(np.int16)
    put("hours-mp3", UNUSABLE, encode(tone, 8000, "mp3", "libmp3lame"), ".mp3")
    # Silence, and a header claiming hours over a second of silence.
    put("silence", UNUSABLE, wav_bytes(np.zeros(8000 * 5, np.int16).tobytes(), rate=8000))
    put(
        "claims-hours",
        EITHER,
        wav_bytes(np.zeros(8000, np.int16).tobytes(), rate=8000, data_size=8000 * 2 * 3600 * 3),
    )

    for i, blob in enumerate(NOT_AUDIO):
        put(f"not-audio-{i}", UNUSABLE, blob, rng.choice([".wav", ".mp3", ".ogg"]))

    quotas = {"empty": 0.02, "random": 0.30, "riff-random": 0.12, "header-only": 0.04,
              "lying-header": 0.22, "truncated": 0.30}  # fmt: skip
    remaining = count - len(inputs)
    plan = [kind for kind, share in quotas.items() for _ in range(round(remaining * share))]
    while len(plan) < remaining:
        plan.append("random")
    for kind in plan[:remaining]:
        if kind == "empty":
            put("empty", UNUSABLE, b"", rng.choice([".wav", ".mp3", ""]))
        elif kind == "random":
            size = int(10 ** rng.uniform(0, 5.3))  # 1 byte .. 200 kB
            put("random", UNUSABLE, rng.randbytes(size), rng.choice([".wav", ".mp3", ".ogg"]))
        elif kind == "riff-random":
            body = rng.randbytes(int(10 ** rng.uniform(1, 5)))
            put(
                "riff-random", UNUSABLE, b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body
            )
        elif kind == "header-only":
            rate = rng.choice([8000, 16000, 44100])
            put(
                "header-only", UNUSABLE, wav_bytes(b"", rate=rate, data_size=rng.choice([0, 10**6]))
            )
        elif kind == "lying-header":
            pcm, rate = rng.choice(speech)
            p8 = resample(pcm, rate, 8000)
            start = rng.randrange(0, max(1, len(p8) - 8000 * 3))
            data = p8[start : start + 8000 * rng.choice([1, 2, 3])].tobytes()
            lie = rng.choice(
                [
                    {"rate": rng.choice([0, 1, 7, 3_000_000, 0xFFFFFFFF])},
                    {"channels": rng.choice([0, 3, 9, 255, 65535])},
                    {"bits": rng.choice([0, 1, 7, 12, 24, 64, 65535])},
                    {"fmt": rng.choice([0, 2, 3, 0x55, 0x2000, 0xFFFE, 0xFFFF])},
                    {"data_size": rng.choice([0, 1, len(data) * 50, 0xFFFFFFFF])},
                    {"riff_size": rng.choice([0, 4, 0xFFFFFFFF])},
                    {"block_align": rng.choice([0, 1, 3, 4096])},
                    {"byte_rate": rng.choice([0, 1, 0xFFFFFFFF])},
                ]
            )
            kwargs: dict[str, int] = {"rate": 8000, **lie}
            put("lying-header", EITHER, wav_bytes(data, **kwargs))
        else:  # truncated: a real file cut short, most often early (a dropped upload)
            name, blob = rng.choice(encoded)
            cut = int(len(blob) * rng.choice([0.001, 0.01, 0.03, 0.05, 0.1, 0.2]) * rng.random())
            put(f"truncated-{Path(name).stem}", EITHER, blob[: max(cut, 1)], Path(name).suffix)
    return inputs
