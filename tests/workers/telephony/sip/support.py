"""What the SIP tests share: a recorder of the calls a server answers, a server on it, and a
headless baresip (a real SIP phone) driven over its control socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import wave
from collections.abc import AsyncIterator
from pathlib import Path

from domain.media import Hangup, MediaEvent, MediaSession
from tests.workers.telephony.support import HOST, free_sip_port, free_tcp_port
from workers.telephony.sip.listen import serve_sip
from workers.telephony.sip.policy import SipPolicy
from workers.telephony.sip.server import SipServer


class Calls:
    """on_session recorder: each call's events, and a handle on its session."""

    def __init__(self) -> None:
        self.sessions: asyncio.Queue[MediaSession] = asyncio.Queue()
        self.events: dict[str, list[MediaEvent]] = {}
        self.done: dict[str, asyncio.Event] = {}

    async def __call__(self, session: MediaSession) -> None:
        self.events[session.call_id] = events = list[MediaEvent]()
        self.done[session.call_id] = done = asyncio.Event()
        await self.sessions.put(session)
        try:
            while not isinstance(event := await session.receive(), Hangup):
                events.append(event)
            events.append(event)
        finally:
            done.set()

    async def next(self, timeout: float = 3.0) -> MediaSession:
        return await asyncio.wait_for(self.sessions.get(), timeout)


@contextlib.asynccontextmanager
async def sip_server(
    calls: Calls,
    answer_delay_s: float = 0.0,
    max_calls: int = 20,
    policy: SipPolicy | None = None,
) -> AsyncIterator[SipServer]:
    server = await serve_sip(
        HOST, 0, calls, answer_delay_s=answer_delay_s, max_calls=max_calls, policy=policy
    )
    try:
        yield server
    finally:
        await server.close()


class Baresip:
    """baresip run headless from a temporary config: the caller's audio from a WAV (aufile),
    what it hears dumped to WAV (sndfile), driven over its ctrl_tcp socket."""

    def __init__(self, workdir: Path, source: Path) -> None:
        self.dir = workdir
        self.source = source
        self._write_config()
        (workdir / "accounts").write_text(f"<sip:0612345678@{HOST}>;regint=0;audio_codecs=PCMA\n")
        self.events: list[dict[str, object]] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def _write_config(self) -> None:
        workdir, source = self.dir, self.source
        self.ctrl_port = free_tcp_port()
        (workdir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    # Its SDP announces this interface's address: loopback, like its SIP.
                    "net_interface 127.0.0.1",
                    f"sip_listen {HOST}:{free_sip_port()}",
                    "audio_player aubridge,nil",  # no sound card: sndfile records instead
                    f"audio_source aufile,{source}",
                    "ausrc_srate 8000",
                    "auplay_srate 8000",
                    "ausrc_channels 1",
                    "auplay_channels 1",
                    "rtp_timeout 0",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module aufile.so",
                    "module aubridge.so",
                    "module sndfile.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen {HOST}:{self.ctrl_port}",
                    f"snd_path {workdir}",
                    "",
                ]
            )
        )

    async def start(self) -> None:
        # Ports are picked free, then bound by baresip a moment later: another process can take
        # one in between. Such a start is retried on new ports; any other failure is raised.
        for _ in range(3):
            if await self._start_once():
                return
            self._write_config()
        raise RuntimeError(f"baresip did not open ctrl_tcp: {self.log()}")

    async def _start_once(self) -> bool:
        self.proc = await asyncio.create_subprocess_exec(
            "baresip", "-f", str(self.dir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=open(self.dir / "baresip.log", "wb"),  # noqa: SIM115 - the child owns it
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        for _ in range(100):
            try:
                self._reader, self._writer = await asyncio.open_connection(HOST, self.ctrl_port)
                return True
            except OSError:
                if "Address already in use" in self.log():
                    with contextlib.suppress(ProcessLookupError):
                        self.proc.kill()
                    await self.proc.wait()
                    return False
                await asyncio.sleep(0.05)
        raise RuntimeError(f"baresip did not open ctrl_tcp: {self.log()}")

    def log(self) -> str:
        return (self.dir / "baresip.log").read_text(errors="replace")[-3000:]

    async def command(self, command: str, params: str = "") -> None:
        assert self._writer is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._writer.write(f"{len(body)}:".encode() + body + b",")
        await self._writer.drain()

    async def wait_event(self, kind: str, timeout: float) -> dict[str, object]:
        assert self._reader is not None

        async def read() -> dict[str, object]:
            assert self._reader is not None
            while True:
                length = int((await self._reader.readuntil(b":"))[:-1])
                message = json.loads((await self._reader.readexactly(length + 1))[:-1])
                if message.get("event"):
                    self.events.append(message)
                    if message.get("type") == kind:
                        return message

        return await asyncio.wait_for(read(), timeout)

    async def stop(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(OSError):
                await self.command("quit")
            self._writer.close()
        if self.proc is not None and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 3)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def heard(self) -> bytes:
        """What baresip received from the bot (sndfile's decode dump), slin16 8 kHz."""
        dumps = sorted(self.dir.glob("dump-*-dec.wav"))
        assert dumps, f"no sndfile dump: {self.log()}"
        with wave.open(str(dumps[-1])) as wav:
            assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
            return wav.readframes(wav.getnframes())


def write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(pcm)
