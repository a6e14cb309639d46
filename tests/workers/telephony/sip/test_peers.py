"""The SIP server against real SIP peers from Debian (sipp, baresip) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from activities.speech.tts import Tts
from domain.media import AudioFrame, Dtmf, Hangup, MediaEvent, MediaSession
from tests.workers.telephony.sip.support import Baresip, Calls, sip_server, write_wav
from tests.workers.telephony.support import (
    HOST,
    free_udp_port,
    peak_hz,
    rms,
    samples,
    tone,
)
from workers.telephony import g711
from workers.telephony.sip.listen import serve_sip

SIPP_SCENARIO = Path(__file__).resolve().parents[3] / "fakes" / "sipp" / "caller.xml"


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) not installed")
async def test_sipp_builtin_uac_call() -> None:
    calls = Calls()
    async with sip_server(calls) as server:
        proc = await asyncio.create_subprocess_exec(
            "sipp", f"{HOST}:{server.port}", "-sn", "uac", "-m", "1", "-s", "bot",
            "-i", HOST, "-p", str(free_udp_port()), "-nostdin", "-timeout", "15", "-timeout_error",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
        session = await calls.next()
        await asyncio.wait_for(calls.done[session.call_id].wait(), 2)
        assert calls.events[session.call_id][-1] == Hangup("bye")


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) not installed")
async def test_sipp_scenario_streams_caller_audio_and_dtmf(tmp_path: Path) -> None:
    (tmp_path / "caller.pcmu").write_bytes(g711.encode(tone(1.0, 1000), g711.PCMU))
    calls = Calls()
    async with sip_server(calls) as server:
        proc = await asyncio.create_subprocess_exec(
            "sipp", f"{HOST}:{server.port}", "-sf", str(SIPP_SCENARIO), "-m", "1", "-s", "bot",
            "-i", HOST, "-p", str(free_udp_port()), "-mp", str(free_udp_port() & ~1),
            "-nostdin", "-timeout", "15", "-timeout_error",
            cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
        session = await calls.next()
        await asyncio.wait_for(calls.done[session.call_id].wait(), 2)
    assert session.caller == "0612345678"
    events = calls.events[session.call_id]
    loud = [e.pcm for e in events if isinstance(e, AudioFrame) and rms(e.pcm) > 1000]
    assert 48 <= len(loud) <= 50
    assert peak_hz(b"".join(loud)) == pytest.approx(1000, abs=10)
    assert [e for e in events if not isinstance(e, AudioFrame)] == [Dtmf("5"), Hangup("bye")]


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip (baresip-core) not installed")
async def test_baresip_call_audio_both_ways_dtmf_and_bot_hangup(tmp_path: Path) -> None:
    greeting = Tts().synthesize("Bonjour, vous êtes bien au service des encombrants.")
    # the caller: silence while the bot greets, a 700 Hz tone, then silence until the bot hangs
    # up (aufile ends the call when the file ends: it must outlast the dialogue)
    caller_pcm = b"\x00" * 16000 * 3 + tone(1.0, 700) + b"\x00" * 16000 * 4
    write_wav(tmp_path / "caller.wav", caller_pcm)
    got_digit = asyncio.Event()

    async def bot(session: MediaSession) -> None:
        heard: list[MediaEvent] = []
        await session.play(greeting)
        while not isinstance(event := await session.receive(), Hangup):
            heard.append(event)
            if isinstance(event, Dtmf):
                got_digit.set()
                await session.play(tone(0.3, 440))
                await session.wait_played()
                await session.hangup()
        bot_heard.extend(heard)

    bot_heard: list[MediaEvent] = []
    calls: list[MediaSession] = []

    async def on_session(session: MediaSession) -> None:
        calls.append(session)
        await bot(session)

    server = await serve_sip(HOST, 0, on_session)
    phone = Baresip(tmp_path, tmp_path / "caller.wav")
    try:
        await phone.start()
        await phone.command("dial", f"sip:bot@{HOST}:{server.port}")
        await phone.wait_event("CALL_ESTABLISHED", 5)
        await asyncio.sleep(len(greeting) / 16000 + 1.6)  # greeting played, tone under way
        await phone.command("sndcode", "1")
        await asyncio.wait_for(got_digit.wait(), 3)
        await phone.wait_event("CALL_CLOSED", 5)
    finally:
        await phone.stop()
        await server.close()
    assert calls[0].caller == "0612345678"
    # baresip -> bot: the tone, once, about a second long, at 700 Hz (through PCMA)
    loud = [e.pcm for e in bot_heard if isinstance(e, AudioFrame) and rms(e.pcm) > 1000]
    assert 35 <= len(loud) <= 51, phone.log()
    assert peak_hz(b"".join(loud)) == pytest.approx(700, abs=15)
    assert [e for e in bot_heard if isinstance(e, Dtmf)] == [Dtmf("1")]
    # bot -> baresip: the TTS greeting, sample for sample up to G.711 and jitter buffering
    heard = samples(phone.heard())
    reference = samples(g711.decode(g711.encode(greeting, g711.PCMA), g711.PCMA))
    probe = reference[4000:12000]  # one second from inside the greeting
    corr = np.correlate(heard, probe, mode="valid")
    best = int(np.argmax(corr))
    window = heard[best : best + probe.size]
    similarity = float(np.dot(window, probe) / (np.linalg.norm(window) * np.linalg.norm(probe)))
    assert similarity > 0.9, phone.log()
    assert peak_hz(phone.heard()[-4000:]) == pytest.approx(440, abs=15)  # the goodbye tone
    assert any(e.get("type") == "CALL_CLOSED" for e in phone.events)
