"""`encombot codec-server`: the HTTP endpoint the Temporal Web UI and CLI call to decode (and
encode) payloads, so that agents read the cases in clear while the server stores them
encrypted.

Protocol (what the UI and `temporal --codec-endpoint` send):

    POST /decode   POST /encode
    Content-Type: application/json     X-Namespace: <namespace>     [Authorization: Bearer …]
    {"payloads": [{"metadata": {"encoding": "<base64>", …}, "data": "<base64>"}, …]}

answered with the same shape. The namespace is a header, never part of the path. Browsers call
it from the UI's origin: CORS is answered for the configured origins only. With a token set,
/encode and /decode require `Authorization: Bearer <token>` (preflight requests do not).

Two small additions for the agents (README "Agents"), behind the same proxy and single
sign-on as /decode:

    GET  /audio/<file>?exp=…&sig=…   a voicemail's audio, by the signed, expiring link that a
                                     claimed case's details carry (domain/audio_links.py): a
                                     file of the voicemails' directory, or with the object
                                     store an object fetched, opened with the codec keys and
                                     sent in clear
    POST /lookup-keys                {"reference": …} or {"number": …} -> {"keys": [...]}: the
                                     keyed hashes `encombot agent booking find` searches by
                                     (bearer token like /decode)

Start a dev server whose UI uses it:

    encombot codec-server &                      # http://127.0.0.1:8234
    temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8234
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import mimetypes
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from domain.audio_links import link_problem
from workers.codec.payload import ENCODING

if TYPE_CHECKING:
    from activities.audio_store.s3 import S3AudioStore
    from workers.settings import Settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024  # well above Temporal's 2 MiB payload limit
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"
CORS_MAX_AGE_S = "600"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class CodecServerConfig:
    """`token` is required unless `dev_mode` (the demo and tests on loopback). `allowed_hosts`:
    the Host names the server answers to (a DNS-rebinding page in an agent's browser sends
    its own); the port is not compared. `/encode` exists only with `enable_encode` (nobody
    needs to forge ciphertext: the UI's destructive actions are off). `/decode` refuses a
    payload that is not encrypted unless `allow_unencrypted` (migration from a clear-text
    deployment), so the server cannot be used as an oracle on planted clear payloads."""

    token: str = ""
    cors_origins: Sequence[str] = field(default_factory=list)
    dev_mode: bool = False
    allowed_hosts: Sequence[str] = ("127.0.0.1", "localhost", "::1")
    enable_encode: bool = False
    allow_unencrypted: bool = False
    # The voicemails' directory and the audio links' secret: no /audio without both.
    audio_dir: Path | None = None
    audio_secret: bytes = b""
    # With the object store (ENCOMBOT_AUDIO_STORE__BACKEND=s3), links name its objects.
    audio_store: S3AudioStore | None = None
    # (reference or number) -> keyed hashes, for /lookup-keys; None: no such route.
    lookup_keys: Callable[[str, str], list[str]] | None = None


def sdk_patch_marker(payload: Payload) -> bool:
    """The details of a `workflow.patched` marker, which the SDK's core writes itself, past
    the payload codec: `{"id": "<patch id>", "deprecated": false}` in plain JSON, nothing of a
    case. Every voicemail's history holds one (patch `stt-worker-queue`): refusing it would
    leave the UI and the CLI unable to show any case. Exactly that shape passes, nothing else."""
    if payload.metadata.get("encoding") != b"json/plain" or len(payload.data) > 512:
        return False
    try:
        data = json.loads(payload.data)
    except ValueError:
        return False
    return (
        isinstance(data, dict)
        and set(data) == {"id", "deprecated"}
        and isinstance(data["id"], str)
        and isinstance(data["deprecated"], bool)
    )


def _cors_headers(request: web.Request, config: CodecServerConfig) -> dict[str, str]:
    origin = request.headers.get("Origin", "")
    if not origin:
        return {}
    allowed = "*" in config.cors_origins or origin in config.cors_origins
    if not allowed:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        # The UI's preflight names the headers it sends (X-Namespace, Content-Type, and
        # Authorization when it passes an access token): allow what the allowed origin asks.
        "Access-Control-Allow-Headers": request.headers.get(
            "Access-Control-Request-Headers", ALLOWED_HEADERS
        ),
        "Access-Control-Max-Age": CORS_MAX_AGE_S,
        "Vary": "Origin",
    }


def _authorised(request: web.Request, config: CodecServerConfig) -> bool:
    if not config.token:
        return config.dev_mode
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), config.token.encode()
    )


class CodecServerConfigError(ValueError):
    """The codec server would answer unauthenticated outside development mode."""


def _host_name(host: str) -> str:
    """`example.org:443` -> `example.org`, `[::1]:8234` -> `::1`."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _refusal(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"message": message}), content_type="application/json")


def make_app(codec: PayloadCodec, config: CodecServerConfig | None = None) -> web.Application:
    cfg = config or CodecServerConfig()
    if not cfg.token and not cfg.dev_mode:
        raise CodecServerConfigError(
            "the codec server decrypts personal data: set ENCOMBOT_CODEC__SERVER__TOKEN "
            "(or ENCOMBOT_CODEC__SERVER__DEV_MODE=true for a loopback demo)"
        )
    hosts = {h.lower() for h in cfg.allowed_hosts}

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Host and Origin before anything else: a foreign page gets no answer at all."""
        if request.path == "/healthz":  # the container's probe, by address; no data
            return await handler(request)
        if "*" not in hosts and _host_name(request.host or "").lower() not in hosts:
            raise _refusal(web.HTTPMisdirectedRequest, "unknown host")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in cfg.cors_origins and "*" not in cfg.cors_origins:
            raise _refusal(web.HTTPForbidden, "origin not allowed")
        return await handler(request)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = _cors_headers(request, cfg)
        if request.method == "OPTIONS":
            return web.Response(status=204 if headers else 403, headers=headers)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(headers)
            raise
        response.headers.update(headers)
        return response

    async def transform(request: web.Request, encode: bool) -> web.Response:
        if not _authorised(request, cfg):
            raise web.HTTPUnauthorized(
                text='{"message": "bearer token required"}',
                content_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="encombot-codec"'},
            )
        # Only JSON: a text/plain POST is a "simple" cross-site request, sent without a
        # preflight; application/json always gets one, which CORS then refuses.
        if request.content_type != "application/json":
            raise _refusal(web.HTTPUnsupportedMediaType, "Content-Type must be application/json")
        try:
            payloads = json_format.Parse(await request.text(), Payloads())
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            raise web.HTTPBadRequest(
                text=json.dumps({"message": f"invalid payloads JSON: {type(exc).__name__}"}),
                content_type="application/json",
            ) from None
        if not encode and not cfg.allow_unencrypted:
            for payload in payloads.payloads:
                if payload.metadata.get("encoding") != ENCODING and not sdk_patch_marker(payload):
                    raise _refusal(web.HTTPBadRequest, "unencrypted payload refused")
        try:
            if encode:
                await codec.encode_wrapper(payloads)
            else:
                await codec.decode_wrapper(payloads)
        except ValueError as exc:
            # Key problems (unknown key id, wrong key): say which, never what the data is.
            log.warning("codec %s failed: %s", "encode" if encode else "decode", exc)
            raise web.HTTPUnprocessableEntity(
                text=json.dumps({"message": str(exc)}), content_type="application/json"
            ) from None
        log.debug(
            "%s %d payload(s) for namespace %s",
            "encoded" if encode else "decoded",
            len(payloads.payloads),
            request.headers.get("X-Namespace", "-"),
        )
        return web.Response(
            text=json_format.MessageToJson(payloads), content_type="application/json"
        )

    async def encode(request: web.Request) -> web.Response:
        return await transform(request, encode=True)

    async def decode(request: web.Request) -> web.Response:
        return await transform(request, encode=False)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def audio(request: web.Request) -> web.StreamResponse:
        return await serve_audio(request, cfg)

    async def lookup(request: web.Request) -> web.Response:
        if not _authorised(request, cfg):
            raise web.HTTPUnauthorized(
                text='{"message": "bearer token required"}',
                content_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="encombot-codec"'},
            )
        if request.content_type != "application/json":
            raise _refusal(web.HTTPUnsupportedMediaType, "Content-Type must be application/json")
        if cfg.lookup_keys is None:
            raise web.HTTPNotFound(text='{"message": "no lookup secret"}')
        try:
            body = json.loads(await request.text())
            reference, number = str(body.get("reference", "")), str(body.get("number", ""))
        except (ValueError, AttributeError, UnicodeDecodeError):
            raise web.HTTPBadRequest(
                text=json.dumps({"message": 'expected {"reference": …} or {"number": …}'}),
                content_type="application/json",
            ) from None
        keys = cfg.lookup_keys(reference, number)
        if not keys:
            raise web.HTTPBadRequest(
                text='{"message": "no valid reference or number"}', content_type="application/json"
            )
        return web.json_response({"keys": keys})

    app = web.Application(middlewares=[guard, cors], client_max_size=MAX_BODY_BYTES)
    if cfg.enable_encode:
        app.router.add_post("/encode", encode)
        app.router.add_route("OPTIONS", "/encode", encode)
    app.router.add_post("/decode", decode)
    app.router.add_route("OPTIONS", "/decode", decode)
    app.router.add_get("/healthz", health)
    app.router.add_get("/audio/{name:.+}", audio)
    app.router.add_post("/lookup-keys", lookup)
    return app


_AUDIO_HEADERS = {
    "Cache-Control": "no-store, private",
    "Content-Disposition": "inline",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def serve_audio(request: web.Request, cfg: CodecServerConfig) -> web.StreamResponse:
    """The audio a signed, unexpired link names: from the object store when there is one,
    else from the voicemails' directory only."""
    if (cfg.audio_dir is None and cfg.audio_store is None) or not cfg.audio_secret:
        raise web.HTTPNotFound(text="audio links are not configured")
    name = request.match_info["name"]
    problem = link_problem(
        name,
        request.query.get("exp", ""),
        request.query.get("sig", ""),
        cfg.audio_secret,
        time.time(),
    )
    if problem is not None:
        # No detail on which part failed beyond the reason; never the file name in the log.
        log.info("audio link refused: %s", problem)
        status = web.HTTPUnauthorized if problem == "signed link required" else web.HTTPForbidden
        raise status(text=problem)
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {"Content-Type": media_type, **_AUDIO_HEADERS}
    if cfg.audio_store is not None:
        data = await _fetch_object(cfg.audio_store, name)
        # Sent whole: AES-GCM authenticates the object only once all of it is read, and no
        # byte of an unauthenticated object may reach the agent. The store bounds the size.
        return web.Response(body=data, headers=headers)
    assert cfg.audio_dir is not None
    root = cfg.audio_dir.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        # Purged since the link was made (retention), or never there.
        raise web.HTTPGone(text="audio no longer kept")
    return web.FileResponse(path, headers=headers)


async def _fetch_object(store: S3AudioStore, name: str) -> bytes:
    from activities.audio_store.s3 import AudioMissing, AudioStoreError, AudioTooLarge
    from activities.audio_store.sealed import SealError

    try:
        return await asyncio.to_thread(store.fetch, name)
    except AudioMissing:
        # Same answer as a purged file of the directory: the retention removed it.
        raise web.HTTPGone(text="audio no longer kept") from None
    except (AudioTooLarge, SealError) as err:
        # Reason codes only: neither the object name nor anything of its content.
        log.warning("audio object refused: %s", type(err).__name__)
        raise web.HTTPBadGateway(text="audio object unusable") from None
    except AudioStoreError as err:
        log.warning("object store unavailable for an audio link: %s", err)
        raise web.HTTPServiceUnavailable(
            text="audio store unavailable", headers={"Retry-After": "10"}
        ) from None


class RunningCodecServer:
    """A codec server on its own thread and event loop (tests, the demo): the UI keeps being
    answered whatever the caller's loop is doing. `with RunningCodecServer(app) as srv:`."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> RunningCodecServer:
        self._thread = threading.Thread(target=self._run, name="codec-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("codec server did not start")
        if self._error is not None:
            raise RuntimeError(f"codec server failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(self.app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            loop.run_until_complete(site.start())
            if self.port == 0:  # the port the OS picked
                self.port = int(self._runner.addresses[0][1])
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> RunningCodecServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_codec_server(codec: PayloadCodec, host: str, port: int, config: CodecServerConfig) -> None:
    """Serve until interrupted (the `encombot codec-server` command)."""
    web.run_app(make_app(codec, config), host=host, port=port, access_log=None, print=None)


def agent_routes(settings: Settings, *, create: bool = False) -> dict[str, Any]:
    """The `CodecServerConfig` fields of the agents' routes, from the settings: the audio
    directory or the object store (workers/audio_store.py) and the links' secret, and the
    lookup keys under the phone-key secret. Each secret is the configured one, else the
    workers' file in the data directory (never in production); without either the route is
    off (404) rather than answering under a secret the workers do not share (`create`: make
    the files, for the demo and tests that start the codec server first)."""
    from activities.audio_links import audio_link_secret
    from activities.booking_changes import number_key, reference_key
    from activities.messaging.phone_keys import PHONE_KEY_FILE_NAME, phone_key_secret

    sms = settings.sms
    phone_file = sms.phone_key_file or settings.data_dir / PHONE_KEY_FILE_NAME
    lookup: Callable[[str, str], list[str]] | None = None
    if create or sms.phone_key_secret.get_secret_value() or phone_file.is_file():
        secret = phone_key_secret(sms, settings.data_dir)

        def lookup(reference: str, number: str) -> list[str]:
            keys = [reference_key(reference, secret)] if reference.strip() else []
            key = number_key(number, secret) if number.strip() else None
            return keys + ([key] if key else [])

    audio = audio_link_secret(
        settings.agents.audio_link_secret.get_secret_value(),
        settings.data_dir,
        create=create,
        allow_file=not settings.production,
    )
    return {
        "audio_dir": settings.audio_dir,
        "audio_secret": audio,
        "audio_store": remote_audio_store(settings),
        "lookup_keys": lookup,
    }


def remote_audio_store(settings: Settings) -> S3AudioStore | None:
    """The object store of ENCOMBOT_AUDIO_STORE__BACKEND=s3 (None: the local directory)."""
    if settings.audio_store.backend != "s3":
        return None
    from activities.audio_store.s3 import S3AudioStore
    from workers.audio_store import build_audio_store

    store = build_audio_store(settings)
    assert isinstance(store, S3AudioStore)
    return store
