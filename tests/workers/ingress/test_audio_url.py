"""The `audio_url` fetch's SSRF guards (workers/ingress/audio_url.py), against small servers on
the loopback: a total deadline, non-public addresses refused before any connection, ports
pinned, the size cap counted while streaming, redirects not followed, one resolution."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.net_policy import refusal
from tests.workers.ingress.support import wav_bytes
from workers.ingress.audio_url import fetch_audio_url
from workers.ingress.errors import IngressError
from workers.settings import IngressSettings

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Loopback:
    """A raw HTTP server on 127.0.0.1 whose handler writes the bytes it wants, when it wants."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[bytes] = []
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.requests.append(await reader.readuntil(b"\r\n\r\n"))
            await self.handler(reader, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def loopback() -> AsyncIterator[Callable[[Handler], Awaitable[Loopback]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> Loopback:
        box = Loopback(handler)
        server = await asyncio.start_server(box._serve, "127.0.0.1", 0)
        servers.append(server)
        box.port = server.sockets[0].getsockname()[1]
        return box

    yield start
    for server in servers:
        server.close()


def _cfg(port: int, **update: Any) -> IngressSettings:
    values: dict[str, Any] = {
        "audio_url_hosts": ["127.0.0.1", "localhost", "audio.test", "::1"],
        "audio_url_schemes": ["http"],
        "audio_url_ports": [port],
        "audio_url_allow_networks": ["127.0.0.1/32"],
        "max_body_bytes": 64 * 1024,
        "audio_fetch_timeout_s": 1.5,
    }
    return IngressSettings(**{**values, **update})


def _ok(body: bytes, extra: bytes = b"") -> Handler:
    async def handler(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n"
            + extra
            + b"\r\n"
            + body
        )

    return handler


async def _refused(url: str, cfg: IngressSettings) -> IngressError:
    with pytest.raises(IngressError) as err:
        await fetch_audio_url(url, cfg)
    return err.value


async def test_a_slow_drip_is_cut_at_the_total_deadline(loopback: Any) -> None:
    # One byte every 0.5 s: each read is well inside any per-read timeout, the whole is not.
    async def drip(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
        for _ in range(40):
            writer.write(b"\x00")
            await writer.drain()
            await asyncio.sleep(0.5)

    server = await loopback(drip)
    started = time.monotonic()
    err = await _refused(f"http://127.0.0.1:{server.port}/vm.wav", _cfg(server.port))
    elapsed = time.monotonic() - started
    assert (err.status, err.reason) == (504, "deadline")
    assert 1.4 < elapsed < 3.0, elapsed


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "[::1]",
        "169.254.169.254",
        "[::ffff:127.0.0.1]",
        "10.1.2.3",
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "localhost",  # a name resolving to the loopback
        "0.0.0.0",
        "224.0.0.1",
    ],
)
async def test_non_public_addresses_are_refused_before_connecting(loopback: Any, host: str) -> None:
    server = await loopback(_ok(wav_bytes()))
    bare = host.strip("[]")
    cfg = _cfg(server.port, audio_url_allow_networks=[], audio_url_hosts=[bare])
    err = await _refused(f"http://{host}:{server.port}/vm.wav", cfg)
    assert err.status == 422
    assert err.reason in {"non_public_address", "embedded_non_public_address"}, err.reason
    assert server.requests == []


def test_the_address_policy() -> None:
    import ipaddress

    def verdict(address: str, *nets: str) -> str | None:
        return refusal(ipaddress.ip_address(address), [ipaddress.ip_network(n) for n in nets])

    for public in ("93.184.216.34", "2606:4700::6810:84e5", "2002:5db8:d822::", "64:ff9b::808:808"):
        assert verdict(public) is None, public
    for private in ("100.64.0.1", "fd00::1", "fe80::1", "192.168.1.1", "::", "2001::1"):
        assert verdict(private) is not None, private
    # The on-premises PBX, allow-listed, directly or through its IPv4-mapped form.
    assert verdict("10.20.0.5", "10.20.0.5/32") is None
    assert verdict("::ffff:10.20.0.5", "10.20.0.5/32") is None
    assert verdict("10.20.0.6", "10.20.0.5/32") is not None


async def test_ports_schemes_and_credentials_are_pinned(loopback: Any) -> None:
    server = await loopback(_ok(wav_bytes()))
    cfg = _cfg(server.port, audio_url_ports=[443])
    assert (await _refused(f"http://127.0.0.1:{server.port}/vm.wav", cfg)).reason == "port"
    # A host listed with its port allows that port alone.
    pinned = cfg.model_copy(update={"audio_url_hosts": [f"127.0.0.1:{server.port}"]})
    assert await fetch_audio_url(f"http://127.0.0.1:{server.port}/vm.wav", pinned) == wav_bytes()
    assert (await _refused(f"http://127.0.0.1:{server.port + 1}/x", pinned)).reason == "host"
    https_only = _cfg(server.port, audio_url_schemes=["https"])
    assert (await _refused(f"http://127.0.0.1:{server.port}/x", https_only)).reason == "scheme"
    for url in ("file:///etc/passwd", f"ftp://127.0.0.1:{server.port}/x"):
        assert (await _refused(url, _cfg(server.port))).reason == "scheme"
    creds = f"http://u:p@127.0.0.1:{server.port}/x"
    assert (await _refused(creds, _cfg(server.port))).reason == "credentials"
    assert len(server.requests) == 1
    with pytest.raises(ValueError):
        IngressSettings(audio_url_schemes=["gopher"])
    with pytest.raises(ValueError):
        IngressSettings(audio_url_allow_networks=["10.0.0.0/33"])


async def test_an_oversize_body_is_cut_while_streaming(loopback: Any) -> None:
    cap = 64 * 1024

    async def endless(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Chunked, no length announced: only counting the bytes can stop it.
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(400):
            writer.write(b"4000\r\n" + b"\x00" * 0x4000 + b"\r\n")
            await writer.drain()

    server = await loopback(endless)
    err = await _refused(f"http://127.0.0.1:{server.port}/vm.wav", _cfg(server.port))
    assert (err.status, err.reason) == (422, "too_large")
    announced = await loopback(_ok(b"\x00" * (cap + 1)))
    err = await _refused(f"http://127.0.0.1:{announced.port}/vm.wav", _cfg(announced.port))
    assert err.reason == "too_large"


async def test_a_redirect_is_not_followed(loopback: Any) -> None:
    async def bounce(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data\r\n"
            b"Content-Length: 0\r\n\r\n"
        )

    server = await loopback(bounce)
    err = await _refused(f"http://127.0.0.1:{server.port}/vm.wav", _cfg(server.port))
    assert (err.status, err.reason) == (422, "redirect")
    assert len(server.requests) == 1


async def test_the_name_is_resolved_once_and_the_checked_address_is_used(
    loopback: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`audio.test` exists only in this test's resolver: the download succeeds only if it
    connects to the address checked, never resolving the name again; the Host header keeps
    the name."""
    server = await loopback(_ok(wav_bytes()))
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    lookups: list[str] = []

    async def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "audio.test":
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", resolver)
    url = f"http://audio.test:{server.port}/vm.wav?id=1"
    assert await fetch_audio_url(url, _cfg(server.port)) == wav_bytes()
    assert lookups == ["audio.test"]
    head = server.requests[0].decode().lower()
    assert head.startswith("get /vm.wav?id=1 http/1.1")
    assert f"host: audio.test:{server.port}\r\n" in head

    # The same name resolving to one public and one private address is refused.
    async def mixed(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.0.1", port)),
        ]

    monkeypatch.setattr(loop, "getaddrinfo", mixed)
    assert (await _refused(url, _cfg(server.port))).reason == "non_public_address"
    assert len(server.requests) == 1


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A certificate for `name` (its own CA) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_over_tls_the_name_is_checked_on_the_pinned_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connected to the checked IP, the TLS handshake still sends the name (SNI) and checks
    the certificate against it: a certificate for another name is refused."""
    served_names: list[str | None] = []

    async def start(name: str) -> tuple[asyncio.Server, int, Path]:
        cert, key = _self_signed(tmp_path, name)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)

        def note_sni(_sock: Any, sni: str | None, _ctx: Any) -> None:
            served_names.append(sni)

        context.sni_callback = note_sni
        box = Loopback(_ok(wav_bytes()))
        server = await asyncio.start_server(box._serve, "127.0.0.1", 0, ssl=context)
        return server, server.sockets[0].getsockname()[1], cert

    loop = asyncio.get_running_loop()

    async def resolver(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(loop, "getaddrinfo", resolver)
    good, port, cert = await start("audio.test")
    cfg = _cfg(port, audio_url_schemes=["https"], audio_url_ca_file=cert)
    try:
        assert await fetch_audio_url(f"https://audio.test:{port}/vm.wav", cfg) == wav_bytes()
        assert served_names == ["audio.test"]
    finally:
        good.close()
    other, port, cert = await start("other.test")
    cfg = _cfg(port, audio_url_schemes=["https"], audio_url_ca_file=cert)
    try:
        err = await _refused(f"https://audio.test:{port}/vm.wav", cfg)
        assert (err.status, err.reason) == (502, "unreachable")
    finally:
        other.close()
