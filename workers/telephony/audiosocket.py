"""Asterisk AudioSocket server: production media for live calls.

Asterisk's AudioSocket() dialplan application (res_audiosocket) connects to us over TCP and
exchanges frames of 1 byte type, 2 bytes big-endian payload length, payload. The first frame
carries the call UUID (16 raw bytes), our call_id. Audio is slin16 8 kHz mono, which is exactly
the MediaSession format, so this adapter only frames and paces. A hangup frame from us hands the
call back to the dialplan (transfer to a person, or the end of the call).

A malformed connection (unknown type, oversized or truncated frame, no UUID first) is logged and
closed; it never takes the server or another call down.

AudioSocket has no authentication: each connection that sends a UUID starts a live call (a
workflow, a dialogue, a share of the CPU). So (issue 18, point 2) only the allowed peers may
connect (`peers`: the PBX; compose keeps the port on its network), at most `max_calls` calls
run at once, and new calls start at `calls_per_s` (bursts of `burst`). A call refused past a
cap gets a hangup frame at once and is reported to `on_refused`, which records it for the
dialplan as one for the agents: the caller is put through to a person, not dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from domain.media import AudioFrame, Dtmf
from workers.telephony.limits import PeerFilter, SourceRateLimit
from workers.telephony.playout import FrameBuffer, OnSession, PacedSession, SessionTasks

log = logging.getLogger(__name__)

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
KNOWN_KINDS = frozenset({KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR})
# Asterisk sends 320-byte audio frames; allow a few batched, refuse anything absurd.
MAX_PAYLOAD = 4096
DTMF_DIGITS = frozenset("0123456789*#ABCD")
UUID_TIMEOUT_S = 5.0
# Asterisk's own error codes (payload of an 0xff frame).
ERROR_NAMES = {0x00: "none", 0x01: "hangup", 0x02: "frame forwarding", 0x04: "memory"}


# (call id, reason code): a call refused past a cap, for the dialplan's route.
OnRefused = Callable[[str, str], Awaitable[None]]


@dataclass
class AudioSocketLimits:
    """What the server admits (module docstring)."""

    max_calls: int = 40
    calls_per_s: float = 5.0
    burst: int = 20
    peers: Sequence[str] = ()
    # Connections not yet a call (no UUID yet) on top of max_calls: a slow-loris bound.
    max_pending: int = 16
    refused: dict[str, int] = field(default_factory=dict)  # by reason code

    def refuse(self, reason: str) -> str:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        return reason


class AudioSocketProtocolError(Exception):
    """The peer sent something that is not AudioSocket; the connection is closed."""


def encode_frame(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError(f"AudioSocket payload too long: {len(payload)} bytes")
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """Next frame, or None on a clean end of stream between frames."""
    try:
        header = await reader.readexactly(3)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise AudioSocketProtocolError("truncated frame header") from exc
        return None
    kind, length = header[0], int.from_bytes(header[1:3], "big")
    if kind not in KNOWN_KINDS:
        raise AudioSocketProtocolError(f"unknown frame type 0x{kind:02x}")
    if length > MAX_PAYLOAD:
        raise AudioSocketProtocolError(f"frame of {length} bytes (max {MAX_PAYLOAD})")
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise AudioSocketProtocolError(
            f"truncated frame: {len(exc.partial)} of {length} bytes"
        ) from exc
    return kind, payload


class AudioSocketSession(PacedSession):
    def __init__(self, call_id: str, writer: asyncio.StreamWriter) -> None:
        # AudioSocket carries no caller number; the dialplan knows it, the socket does not.
        super().__init__(call_id, caller=None)
        self._writer = writer
        self._write_lock = asyncio.Lock()

    async def _send_frame(self, pcm: bytes, talkspurt_start: bool) -> None:
        async with self._write_lock:
            self._writer.write(encode_frame(KIND_AUDIO, pcm))
            await self._writer.drain()

    async def _send_hangup(self) -> None:
        async with self._write_lock:
            try:
                self._writer.write(encode_frame(KIND_HANGUP))
                await asyncio.wait_for(self._writer.drain(), timeout=2.0)
            finally:
                self._writer.close()


class AudioSocketServer:
    """A listening AudioSocket server; close() hangs up the calls still up."""

    def __init__(
        self, server: asyncio.Server, tasks: SessionTasks, gate: _Gate | None = None
    ) -> None:
        self._server = server
        self._tasks = tasks
        self._port = int(server.sockets[0].getsockname()[1])
        self._connections: set[asyncio.Task[None]] = set()
        self.gate = gate or _Gate(AudioSocketLimits())

    @property
    def port(self) -> int:
        return self._port

    def _track(self, task: asyncio.Task[None]) -> None:
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def close(self, grace_s: float = 2.0) -> None:
        self._server.close()
        await self._tasks.close(grace_s)
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()


class _Gate:
    """The admission of connections and calls (AudioSocketLimits)."""

    def __init__(self, limits: AudioSocketLimits, on_refused: OnRefused | None = None) -> None:
        self.limits = limits
        self.on_refused = on_refused
        self._peers = PeerFilter(limits.peers)
        self._rate = SourceRateLimit(limits.calls_per_s, limits.burst)
        self.connections = 0
        self.calls: set[str] = set()

    async def connection(self, host: str) -> str | None:
        """Why a new connection is closed at once, or None."""
        if not await self._peers.allows(host):
            return self.limits.refuse("peer")
        if self.connections >= self.limits.max_calls + self.limits.max_pending:
            return self.limits.refuse("connections")
        return None

    def call(self, call_id: str) -> str | None:
        """Why a call is refused (hangup frame, to the agents), or None."""
        if len(self.calls) >= self.limits.max_calls:
            return self.limits.refuse("max_calls")
        if not self._rate.allow("calls"):
            return self.limits.refuse("call_rate")
        return None


async def _refuse_call(
    writer: asyncio.StreamWriter, gate: _Gate, call_id: str, reason: str
) -> None:
    log.warning("audiosocket call %s: refused (%s), handed to the agents", call_id, reason)
    if gate.on_refused is not None:
        await gate.on_refused(call_id, reason)
    with contextlib.suppress(ConnectionError, OSError, TimeoutError):
        writer.write(encode_frame(KIND_HANGUP))
        await asyncio.wait_for(writer.drain(), timeout=2.0)


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tasks: SessionTasks, gate: _Gate
) -> None:
    peer = writer.get_extra_info("peername")
    session: AudioSocketSession | None = None
    refused = await gate.connection(str(peer[0]) if peer else "")
    if refused is not None:
        log.warning("audiosocket %s: connection refused (%s)", peer, refused)
        writer.close()
        return
    gate.connections += 1
    try:
        first = await asyncio.wait_for(read_frame(reader), timeout=UUID_TIMEOUT_S)
        if first is None:
            return  # connected and closed: a health probe
        kind, payload = first
        if kind != KIND_UUID or len(payload) != 16:
            raise AudioSocketProtocolError(
                f"first frame must be the call UUID (type 0x01, 16 bytes), got type "
                f"0x{kind:02x} of {len(payload)} bytes"
            )
        call_id = str(uuid.UUID(bytes=payload))
        refused = gate.call(call_id)
        if refused is not None:
            await _refuse_call(writer, gate, call_id, refused)
            return
        session = AudioSocketSession(call_id, writer)
        gate.calls.add(call_id)
        log.info("audiosocket call %s from %s", session.call_id, peer)
        tasks.start(session)
        await _read_loop(reader, session)
    except TimeoutError:
        log.warning("audiosocket %s: no call UUID within %.0f s", peer, UUID_TIMEOUT_S)
    except AudioSocketProtocolError as exc:
        log.warning("audiosocket %s: %s; closing the connection", peer, exc)
    except (ConnectionError, OSError) as exc:
        log.info("audiosocket %s: connection lost: %s", peer, exc)
    finally:
        gate.connections -= 1
        if session is not None:
            gate.calls.discard(session.call_id)
            session.remote_hangup("connection closed")
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def _read_loop(reader: asyncio.StreamReader, session: AudioSocketSession) -> None:
    buffer = FrameBuffer()
    while session.ended is None:
        frame = await read_frame(reader)
        if frame is None:
            return
        kind, payload = frame
        if kind == KIND_AUDIO:
            if len(payload) % 2:
                raise AudioSocketProtocolError(f"odd-length slin16 audio ({len(payload)} bytes)")
            for pcm in buffer.push(payload):
                session.deliver(AudioFrame(pcm))
        elif kind == KIND_DTMF:
            digit = payload.decode("ascii", errors="replace").upper()
            if len(payload) != 1 or digit not in DTMF_DIGITS:
                log.warning("call %s: ignoring bad DTMF payload %r", session.call_id, payload)
                continue
            session.deliver(Dtmf(digit))
        elif kind == KIND_HANGUP:
            session.remote_hangup("hangup")
            return
        elif kind == KIND_ERROR:
            code = payload[0] if payload else 0
            name = ERROR_NAMES.get(code, "application")
            log.warning("call %s: Asterisk error 0x%02x (%s)", session.call_id, code, name)
            session.remote_hangup(f"error: {name}")
            return
        else:  # a second UUID frame: harmless, the call keeps its first id
            log.info("call %s: ignoring a repeated UUID frame", session.call_id)


async def serve_audiosocket(
    host: str,
    port: int,
    on_session: OnSession,
    *,
    limits: AudioSocketLimits | None = None,
    on_refused: OnRefused | None = None,
) -> AudioSocketServer:
    """Listen for Asterisk AudioSocket connections; on_session runs once per call (its own
    task), after the UUID frame; when it returns the call is hung up if still up. `limits`:
    who may connect and how many calls run (module docstring); `on_refused(call_id, reason)`
    for a call refused past a cap."""
    tasks = SessionTasks(on_session)
    gate = _Gate(limits or AudioSocketLimits(), on_refused)
    holder: list[AudioSocketServer] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        current = asyncio.current_task()
        if holder and current is not None:
            holder[0]._track(current)
        await _handle(reader, writer, tasks, gate)

    server = await asyncio.start_server(handle, host, port)
    result = AudioSocketServer(server, tasks, gate)
    holder.append(result)
    log.info("audiosocket listening on %s:%d", host, result.port)
    return result
