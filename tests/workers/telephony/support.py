"""What the telephony tests share: test tones and their measures, free ports, a raw UDP peer."""

from __future__ import annotations

import asyncio
import math
import socket

import numpy as np

HOST = "127.0.0.1"


def tone(seconds: float, freq: float, amplitude: int = 8000) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    return (amplitude * np.sin(2 * math.pi * freq * t)).astype("<i2").tobytes()


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def rms(pcm: bytes) -> float:
    x = samples(pcm)
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def peak_hz(pcm: bytes) -> float:
    x = samples(pcm)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / 8000)[int(np.argmax(spectrum))])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_sip_port() -> int:
    """A port free for both UDP and TCP: baresip's `sip_listen` binds the two, and a port free
    for UDP alone can be an ephemeral TCP port of another test (CI: "Address already in use")."""
    for _ in range(50):
        port = free_udp_port()
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free for both UDP and TCP on loopback")


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class UdpPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.inbox.put_nowait((data, addr))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)


async def open_peer() -> UdpPeer:
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(UdpPeer, local_addr=(HOST, 0))
    return peer
