"""Fetching a voicemail's `audio_url` without letting the message aim the server elsewhere
(SSRF): an allowed scheme, host and port, no credentials; the host resolved once and every
address it resolves to checked (domain/net_policy.py); the connection made to that checked
address (the name kept for the Host header, SNI and certificate), so a second DNS answer
cannot swap it; no redirect followed; one deadline for the whole download and the size cap
counted as bytes arrive.

A refused URL is the message's fault: IngressError(422) with a reason code, which the
voicemail route turns into a case for a person (never retried). Logs carry the reason code
only, never the URL (it may name a caller)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import urllib.parse
from dataclasses import dataclass

import httpx

from domain.net_policy import IPAddress, parse_networks, refusal
from workers.ingress.errors import IngressError
from workers.settings import IngressSettings

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class AudioTarget:
    scheme: str
    host: str  # lower case, no brackets
    port: int
    url: httpx.URL


def _refused(reason: str, detail: str, status: int = 422) -> IngressError:
    log.warning("audio_url refused: %s", reason)
    return IngressError(status, f"audio_url refusée ({reason}) : {detail}", reason=reason)


def check_audio_url(url: str, cfg: IngressSettings) -> AudioTarget:
    """The URL's parts once its scheme, host, port and the absence of credentials pass the
    settings' allow-lists; IngressError(422) otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        explicit_port = parts.port
        parsed = httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise _refused("invalid_url", "URL invalide") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or scheme not in {s.lower() for s in cfg.audio_url_schemes}:
        raise _refused("scheme", "schéma non autorisé")
    if parts.username or parts.password:
        raise _refused("credentials", "identifiants interdits dans l'URL")
    host = (parts.hostname or "").lower().rstrip(".")
    port = explicit_port if explicit_port is not None else _DEFAULT_PORTS[scheme]
    allowed = {h.strip().lower() for h in cfg.audio_url_hosts if h.strip()}
    pinned = f"{host}:{port}" in allowed or f"[{host}]:{port}" in allowed
    if not host or not (host in allowed or pinned):
        raise _refused("host", "hôte non autorisé")
    if not pinned and port not in cfg.audio_url_ports:
        raise _refused("port", "port non autorisé")
    return AudioTarget(scheme, host, port, parsed)


async def _resolve_once(target: AudioTarget, cfg: IngressSettings) -> IPAddress:
    """The one address the download connects to; every address the name resolves to must
    pass, since a resolver may hand out any of them (and a rebinding attacker mixes them)."""
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(target.host)]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (socket.gaierror, UnicodeError):
            raise _refused("dns", "nom d'hôte introuvable", 502) from None
        # sockaddr[0] is the address; an IPv6 one may carry a zone ("fe80::1%eth0").
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise _refused("dns", "nom d'hôte introuvable", 502)
    networks = parse_networks(cfg.audio_url_allow_networks)
    for address in addresses:
        reason = refusal(address, networks)
        if reason is not None:
            raise _refused(reason, "adresse non publique")
    return addresses[0]


def _pinned_request(
    http: httpx.AsyncClient, target: AudioTarget, address: IPAddress
) -> httpx.Request:
    """A GET to `address` itself, with the name in the Host header and, over TLS, as SNI and
    the name the certificate must carry."""
    default = target.port == _DEFAULT_PORTS[target.scheme]
    name = f"[{target.host}]" if ":" in target.host else target.host
    host_header = name if default else f"{name}:{target.port}"
    extensions = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    return http.build_request(
        "GET",
        target.url.copy_with(host=str(address), port=target.port),
        headers={"Host": host_header, "Accept": "audio/*", "Accept-Encoding": "identity"},
        extensions=extensions,
    )


async def _download(target: AudioTarget, address: IPAddress, cfg: IngressSettings) -> bytes:
    data = bytearray()
    verify: ssl.SSLContext | bool = True
    if cfg.audio_url_ca_file is not None:
        verify = ssl.create_default_context(cafile=str(cfg.audio_url_ca_file))
    async with httpx.AsyncClient(
        follow_redirects=False, timeout=cfg.audio_fetch_timeout_s, trust_env=False, verify=verify
    ) as http:
        response = await http.send(_pinned_request(http, target, address), stream=True)
        try:
            if response.is_redirect:
                raise _refused("redirect", "redirection non suivie")
            if response.status_code != 200:
                raise _refused("http_status", f"réponse HTTP {response.status_code} de l'hôte")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cfg.max_body_bytes:
                raise _refused("too_large", "enregistrement trop volumineux")
            async for chunk in response.aiter_raw():
                data += chunk
                if len(data) > cfg.max_body_bytes:
                    raise _refused("too_large", "enregistrement trop volumineux")
        finally:
            await response.aclose()
    return bytes(data)


async def fetch_audio_url(url: str, cfg: IngressSettings) -> bytes:
    """The recording at `url`, within `audio_fetch_timeout_s` all told (resolution,
    connection, every byte); 422 when refused, 502 when unreachable, 504 past the deadline."""
    target = check_audio_url(url, cfg)
    try:
        async with asyncio.timeout(cfg.audio_fetch_timeout_s):
            address = await _resolve_once(target, cfg)
            return await _download(target, address, cfg)
    except TimeoutError:
        raise _refused("deadline", "téléchargement trop lent", 504) from None
    except httpx.HTTPError as err:
        log.warning("audio_url fetch failed: %s", type(err).__name__)
        raise IngressError(502, "audio_url : hôte injoignable", reason="unreachable") from None
