"""G.711 μ-law (PCMU, RTP payload 0) and A-law (PCMA, payload 8) codecs, in numpy.

The SIP adapter speaks G.711 on the wire and slin16 to the dialogue. Python 3.13 removed audioop,
so the codecs are built here from the ITU-T G.711 segment rules: a 256-entry decode table and a
65536-entry encode table per law, computed once, then every conversion is a table lookup.
"""

from __future__ import annotations

from functools import cache

import numpy as np

PCMU = 0
PCMA = 8
CODEC_NAMES = {PCMU: "PCMU", PCMA: "PCMA"}


def _ulaw_decode_table() -> np.ndarray:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> np.ndarray:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = np.where(
        exponent == 0,
        (mantissa << 4) + 8,
        ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0),
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


def _ulaw_encode_table() -> np.ndarray:
    pcm = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), 32635) + 0x84
    exponent = np.zeros_like(magnitude)
    for bit in range(7, 0, -1):  # position of the top bit above bit 7 (segments 0-7)
        exponent = np.where((exponent == 0) & ((magnitude >> (bit + 7)) != 0), bit, exponent)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def _alaw_encode_table() -> np.ndarray:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 3  # A-law works on 13 bits
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    segment_ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    segment = np.searchsorted(segment_ends, magnitude)
    shift = np.where(segment < 2, 1, segment)
    value = (np.minimum(segment, 7) << 4) | ((magnitude >> shift) & 0x0F)
    value = np.where(segment >= 8, 0x7F, value)
    return ((value ^ mask) & 0xFF).astype(np.uint8)


@cache
def _tables(payload_type: int) -> tuple[np.ndarray, np.ndarray]:
    if payload_type == PCMU:
        return _ulaw_decode_table(), _ulaw_encode_table()
    if payload_type == PCMA:
        return _alaw_decode_table(), _alaw_encode_table()
    raise ValueError(f"not a G.711 payload type: {payload_type}")


def decode(payload: bytes, payload_type: int) -> bytes:
    """G.711 bytes to slin16 (little-endian)."""
    table, _ = _tables(payload_type)
    return table[np.frombuffer(payload, dtype=np.uint8)].astype("<i2").tobytes()


def encode(pcm: bytes, payload_type: int) -> bytes:
    """slin16 (little-endian) to G.711 bytes, one per sample."""
    _, table = _tables(payload_type)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.int32) + 32768
    return table[samples].tobytes()


def silence(payload_type: int, samples: int) -> bytes:
    return encode(b"\x00\x00" * samples, payload_type)
