"""Asterisk AudioSocket server: production media for live calls.

Asterisk's AudioSocket() dialplan application (res_audiosocket) connects to us over TCP and
exchanges frames of 1 byte type, 2 bytes big-endian payload length, payload. The first frame
carries the call UUID (16 raw bytes), our call_id. Audio is slin16 8 kHz mono, which is exactly
the MediaSession format, so this adapter only frames and paces. A hangup frame from us hands the
call back to the dialplan (transfer to a person, or the end of the call).

A malformed connection (unknown type, oversized or truncated frame, no UUID first) is logged and
closed; it never takes the server or another call down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from domain.media import AudioFrame, Dtmf
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

    def __init__(self, server: asyncio.Server, tasks: SessionTasks) -> None:
        self._server = server
        self._tasks = tasks
        self._port = int(server.sockets[0].getsockname()[1])
        self._connections: set[asyncio.Task[None]] = set()

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


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tasks: SessionTasks
) -> None:
    peer = writer.get_extra_info("peername")
    session: AudioSocketSession | None = None
    try:
        first = await asyncio.wait_for(read_frame(reader), timeout=UUID_TIMEOUT_S)
        if first is None:
            return
        kind, payload = first
        if kind != KIND_UUID or len(payload) != 16:
            raise AudioSocketProtocolError(
                f"first frame must be the call UUID (type 0x01, 16 bytes), got type "
                f"0x{kind:02x} of {len(payload)} bytes"
            )
        session = AudioSocketSession(str(uuid.UUID(bytes=payload)), writer)
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
        if session is not None:
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


async def serve_audiosocket(host: str, port: int, on_session: OnSession) -> AudioSocketServer:
    """Listen for Asterisk AudioSocket connections; on_session runs once per call (its own
    task), after the UUID frame; when it returns the call is hung up if still up."""
    tasks = SessionTasks(on_session)
    holder: list[AudioSocketServer] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        current = asyncio.current_task()
        if holder and current is not None:
            holder[0]._track(current)
        await _handle(reader, writer, tasks)

    server = await asyncio.start_server(handle, host, port)
    result = AudioSocketServer(server, tasks)
    holder.append(result)
    log.info("audiosocket listening on %s:%d", host, result.port)
    return result
