"""G.711 (workers/telephony/g711.py): round trip and reference values."""

from __future__ import annotations

import numpy as np
import pytest

from tests.workers.telephony.support import samples
from workers.telephony import g711


@pytest.mark.parametrize("law", [g711.PCMU, g711.PCMA])
def test_g711_round_trip_within_the_segment_step(law: int) -> None:
    x = np.arange(-32768, 32768, 3, dtype=np.int32).astype("<i2")
    back = samples(g711.decode(g711.encode(x.tobytes(), law), law))
    error = np.abs(back - x.astype(np.float64))
    # logarithmic: at most ~1/16 of the magnitude (one step of 16 per segment), 16 near zero
    assert np.all(error <= np.maximum(np.abs(x.astype(np.float64)) / 15, 16))
    codes = bytes(range(256))
    again = g711.encode(g711.decode(codes, law), law)
    # every code decodes and re-encodes to itself (mu-law's two zeros both come back as 0xff)
    assert [i for i in range(256) if again[i] != i] == ([0x7F] if law == g711.PCMU else [])


def test_g711_reference_values() -> None:
    pcm = np.array([0, 1000, -1000, 32767, -32768], dtype="<i2").tobytes()
    assert g711.encode(pcm, g711.PCMU).hex() == "ffce4e8000"
    assert g711.encode(pcm, g711.PCMA).hex() == "d5fa7aaa2a"
    assert g711.silence(g711.PCMU, 2) == b"\xff\xff"
    with pytest.raises(ValueError, match=r"G\.711"):
        g711.encode(pcm, 18)
