"""A minimal SIP user agent server (UDP) with G.711 RTP: real SIP phones call the bot directly.

Enough SIP for a softphone or a SIP trunk to reach the dialogue without Asterisk, and for tests
to drive it with real peers (baresip, sipp): every call is answered (100 Trying, then 200 OK
with an SDP answer: PCMU/PCMA, payloads 0/8, and RFC 4733 telephone-event), the media starts on
the ACK, BYE/CANCEL/OPTIONS/re-INVITE/INFO are answered, and the bot's hangup sends a BYE. An
INVITE without SDP gets our offer in the 200 OK (PCMU, PCMA, telephone-event 101) and the answer
is read from the ACK. No registration, authentication, TCP/TLS, forking or route sets: behind a
trunk or a PBX those are the far end's business. Responses go back to where requests came from
(and rport is honoured), so NAT and a sloppy Via do not matter.

Reliability over UDP: the 200 OK is retransmitted (T1 doubling to T2) until the ACK, retransmitted
requests get the same response again, and our BYE is retransmitted until answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

from domain.media import AudioFrame, Dtmf
from workers.telephony import g711
from workers.telephony.playout import OnSession, PacedSession, SessionTasks
from workers.telephony.rtp import RtpStream

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
TRANSACTION_TIMEOUT = 64 * T1
DEFAULT_EVENT_PT = 101
MAX_MESSAGE = 65_535
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
USER_AGENT = "encombot"
COMPACT = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
}
CANONICAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
}


class SipParseError(ValueError):
    """Not a SIP message we can read."""


class SdpNotAcceptable(SipParseError):
    """A readable SDP whose media we will not send to (answered 488)."""


@dataclass
class SipMessage:
    start_line: str
    headers: list[tuple[str, str]]  # (lower-case name, value), in order
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return not self.start_line.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        return self.start_line.split(" ", 1)[0].upper() if self.is_request else self.cseq[1]

    @property
    def uri(self) -> str:
        return self.start_line.split(" ")[1]

    @property
    def status(self) -> int:
        return int(self.start_line.split(" ")[1])

    def get(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.get("cseq") or "").strip().partition(" ")
        try:
            return int(number), method.strip().upper()
        except ValueError as exc:
            raise SipParseError(f"bad CSeq {self.get('cseq')!r}") from exc


def parse_message(data: bytes) -> SipMessage:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        lines = head.decode("utf-8").replace("\r\n", "\n").split("\n")
    except UnicodeDecodeError as exc:
        raise SipParseError("headers are not UTF-8") from exc
    start = lines[0].strip()
    if start.startswith("SIP/2.0 "):
        # status and reason: SipMessage.status must never raise in datagram_received
        code = start.split(" ", 2)[1]
        if not (len(code) == 3 and code.isdigit() and 100 <= int(code) <= 699):
            raise SipParseError(f"bad status line {start[:60]!r}")
    elif not (start.endswith(" SIP/2.0") and len(start.split(" ")) == 3):
        raise SipParseError(f"not a SIP start line: {start[:60]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            if line.strip():
                raise SipParseError(f"bad header line {line[:60]!r}")
            continue
        key = name.strip().lower()
        headers.append((COMPACT.get(key, key), value.strip()))
    message = SipMessage(start, headers, body)
    length = message.get("content-length")
    if length is not None:
        try:
            message.body = body[: int(length)]
        except ValueError as exc:
            raise SipParseError(f"bad Content-Length {length!r}") from exc
    if not message.call_id or message.get("cseq") is None:
        raise SipParseError("missing Call-ID or CSeq")
    message.cseq  # noqa: B018 - validates it
    return message


def header_name(key: str) -> str:
    return CANONICAL.get(key, "-".join(part.capitalize() for part in key.split("-")))


def render(start_line: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [start_line, *(f"{header_name(k)}: {v}" for k, v in headers)]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def uri_of(name_addr: str) -> str:
    """The URI in a From/To/Contact value: `"Bob" <sip:bob@h>;tag=x` -> `sip:bob@h`."""
    match = re.search(r"<([^>]*)>", name_addr)
    if match:
        return match.group(1).strip()
    return name_addr.split(";", 1)[0].strip()


def tag_of(name_addr: str) -> str | None:
    rest = name_addr.split(">", 1)[1] if ">" in name_addr else name_addr
    match = re.search(r";\s*tag=([^;\s]+)", rest)
    return match.group(1) if match else None


def caller_number(from_header: str) -> str | None:
    """The user part of the From URI (the calling number), None when withheld."""
    uri = uri_of(from_header)
    match = re.match(r"(?:sips?|tel):([^@;>]+)", uri)
    if not match:
        return None
    user = match.group(1)
    if user.lower() in ("anonymous", "unknown", "restricted", "unavailable"):
        return None
    return user


# -- SDP -------------------------------------------------------------------------------------


@dataclass
class SdpMedia:
    address: str
    port: int
    payload_types: list[int]
    rtpmaps: dict[int, str] = field(default_factory=dict)
    direction: str = "sendrecv"

    @property
    def event_payload_type(self) -> int | None:
        return next(
            (pt for pt, name in self.rtpmaps.items() if name.lower().startswith("telephone-event")),
            None,
        )

    def g711_choices(self) -> list[int]:
        """The offered G.711 payload types (static 0 and 8), in the offerer's preference."""
        return [pt for pt in self.payload_types if pt in g711.CODEC_NAMES]


def parse_sdp(body: bytes) -> SdpMedia:
    """The first audio stream of an SDP body. Its address must be a literal IP address (a host
    name would make every RTP sendto resolve it, blocking the event loop) and its port a real
    one (sendto raises OverflowError otherwise, which closes the RTP socket): SdpNotAcceptable."""
    address = ""
    media: SdpMedia | None = None
    for raw in body.decode("utf-8", errors="replace").splitlines():
        kind, _, value = raw.strip().partition("=")
        if kind == "c":
            parts = value.split()
            if len(parts) >= 3:
                if media is None:
                    address = parts[2].split("/")[0]
                else:
                    media.address = parts[2].split("/")[0]
        elif kind == "m":
            if media is not None:
                break  # only the first audio stream
            parts = value.split()
            if len(parts) < 4 or parts[0] != "audio":
                continue
            try:
                media = SdpMedia(address, int(parts[1]), [int(p) for p in parts[3:] if p.isdigit()])
            except ValueError as exc:
                raise SipParseError(f"bad m= line {value!r}") from exc
        elif kind == "a" and media is not None:
            if value.startswith("rtpmap:"):
                pt, _, name = value[len("rtpmap:") :].partition(" ")
                if pt.isdigit():
                    media.rtpmaps[int(pt)] = name.strip()
            elif value in ("sendrecv", "sendonly", "recvonly", "inactive"):
                media.direction = value
    if media is None:
        raise SipParseError("no audio stream in the SDP")
    if not media.address:
        raise SipParseError("no connection address in the SDP")
    try:
        ipaddress.ip_address(media.address)
    except ValueError as exc:
        raise SdpNotAcceptable(f"connection address {media.address[:60]!r} is not an IP") from exc
    if not 1 <= media.port <= 65535:
        raise SdpNotAcceptable(f"media port {media.port} out of range")
    return media


ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


def render_sdp(
    host: str,
    port: int,
    session_id: int,
    version: int,
    payload_types: list[int],
    event_pt: int | None,
    direction: str = "sendrecv",
) -> bytes:
    family = "IP6" if ":" in host else "IP4"
    formats = [*payload_types, *([event_pt] if event_pt is not None else [])]
    lines = [
        "v=0",
        f"o={USER_AGENT} {session_id} {version} IN {family} {host}",
        f"s={USER_AGENT}",
        f"c=IN {family} {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(pt) for pt in formats)}",
        *(f"a=rtpmap:{pt} {g711.CODEC_NAMES[pt]}/8000" for pt in payload_types),
    ]
    if event_pt is not None:
        lines += [f"a=rtpmap:{event_pt} telephone-event/8000", f"a=fmtp:{event_pt} 0-16"]
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


# -- calls -----------------------------------------------------------------------------------


class SipSession(PacedSession):
    def __init__(self, dialog: Dialog) -> None:
        super().__init__(dialog.call_id, caller=caller_number(dialog.remote_from))
        self._dialog = dialog

    async def _send_frame(self, pcm: bytes, talkspurt_start: bool) -> None:
        self._dialog.rtp.send_audio(pcm, talkspurt_start)

    async def _send_hangup(self) -> None:
        self._dialog.server.send_bye(self._dialog)


@dataclass
class Dialog:
    server: SipServer
    call_id: str
    peer: tuple[str, int]
    invite: SipMessage
    local_tag: str
    rtp: RtpStream
    # proceeding -> answered (200 sent) -> confirmed (ACK) -> [closing (our BYE sent)] -> ended
    state: str = "proceeding"
    local_cseq: int = 0
    invite_cseq: tuple[int, str] = (0, "")  # of the last (re-)INVITE, to spot retransmissions
    sdp_session: int = 0
    sdp_version: int = 0
    session: SipSession | None = None
    offer_in_ok: bool = False  # INVITE without SDP: our offer, their answer in the ACK
    last_response: bytes = b""
    retransmit: asyncio.Task[None] | None = None
    pending_bye: dict[int, asyncio.Future[int]] = field(default_factory=dict)

    @property
    def remote_from(self) -> str:
        return self.invite.get("from") or ""

    @property
    def remote_target(self) -> str:
        return uri_of(self.invite.get("contact") or self.remote_from)

    @property
    def local_to(self) -> str:
        to = self.invite.get("to") or ""
        return to if tag_of(to) else f"{to};tag={self.local_tag}"


class SipServer(asyncio.DatagramProtocol):
    """A listening SIP UAS; close() hangs up the calls still up."""

    def __init__(
        self,
        on_session: OnSession,
        media_host: str,
        answer_delay_s: float,
        max_calls: int = 20,
    ) -> None:
        self._tasks = SessionTasks(on_session)
        self.media_host = media_host
        self.answer_delay_s = answer_delay_s
        self.max_calls = max_calls
        self.dialogs: dict[str, Dialog] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._port = 0
        self._background: set[asyncio.Task[None]] = set()
        self._opening: set[str] = set()  # INVITEs whose RTP socket is being opened
        self._closing = False

    @property
    def port(self) -> int:
        return self._port

    @property
    def calls_up(self) -> int:
        """Calls being set up or up; ended ones kept to absorb retransmissions do not count."""
        live = sum(1 for dialog in self.dialogs.values() if dialog.state != "ended")
        return live + len(self._opening)

    async def close(self, grace_s: float = 2.0) -> None:
        self._closing = True  # BYEs go out once, unanswered ones are not waited for
        await self._tasks.close(grace_s)
        if self._background:  # the last BYEs: one try each, not the full retransmission
            await asyncio.wait(list(self._background), timeout=T1 * 2)
        for dialog in list(self.dialogs.values()):
            self._end_dialog(dialog, "server closed")
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.DatagramProtocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)
        self._port = int(transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # CRLF keep-alive
        try:
            message = parse_message(data)
        except SipParseError as exc:
            log.warning("sip %s: unreadable message: %s", addr, exc)
            return
        peer = (addr[0], addr[1])
        if message.is_request:
            self._spawn(self._on_request(message, peer))
        else:
            self._on_response(message)

    def error_received(self, exc: Exception) -> None:
        log.debug("sip: %s", exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    # -- sending ------------------------------------------------------------------------------

    def _send(self, data: bytes, peer: tuple[str, int]) -> None:
        if self._transport is not None:
            self._transport.sendto(data, peer)

    def _respond(
        self,
        request: SipMessage,
        peer: tuple[str, int],
        status: int,
        reason: str,
        *,
        to_tag: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> bytes:
        headers: list[tuple[str, str]] = []
        for index, via in enumerate(request.get_all("via")):
            if index == 0:
                via = _with_received(via, peer)
            headers.append(("via", via))
        to = request.get("to") or ""
        if to_tag and not tag_of(to):
            to = f"{to};tag={to_tag}"
        headers += [
            ("from", request.get("from") or ""),
            ("to", to),
            ("call-id", request.call_id),
            ("cseq", request.get("cseq") or ""),
            ("server", USER_AGENT),
        ]
        headers += extra or []
        if body:
            headers.append(("content-type", "application/sdp"))
        data = render(f"SIP/2.0 {status} {reason}", headers, body)
        self._send(data, peer)
        return data

    def _contact(self) -> str:
        host = f"[{self.media_host}]" if ":" in self.media_host else self.media_host
        return f"<sip:bot@{host}:{self.port}>"

    # -- requests -----------------------------------------------------------------------------

    async def _on_request(self, request: SipMessage, peer: tuple[str, int]) -> None:
        method = request.method
        dialog = self.dialogs.get(request.call_id)
        if method == "INVITE":
            if dialog is None:
                if request.call_id in self._opening:
                    return  # a retransmission while we set the call up
                if self.calls_up >= self.max_calls:
                    # Each call holds a socket, a dialogue and a share of the CPU: past the cap
                    # the caller gets a busy signal rather than everyone getting a slow bot.
                    log.warning("sip call %s: refused, %d calls up", request.call_id, self.calls_up)
                    self._respond(
                        request,
                        peer,
                        503,
                        "Service Unavailable",
                        to_tag=secrets.token_hex(6),
                        extra=[("retry-after", "30")],
                    )
                    return
                self._opening.add(request.call_id)
                try:
                    await self._on_invite(request, peer)
                finally:
                    self._opening.discard(request.call_id)
            elif request.cseq == dialog.invite_cseq:  # a retransmission
                if dialog.last_response:
                    self._send(dialog.last_response, peer)
            else:
                await self._on_reinvite(dialog, request, peer)
        elif method == "ACK":
            if dialog is not None:
                self._on_ack(dialog, request)
        elif method == "BYE":
            if dialog is None:
                self._respond(request, peer, 481, "Call/Transaction Does Not Exist")
                return
            self._respond(request, peer, 200, "OK")
            self._end_dialog(dialog, "bye")
        elif method == "CANCEL":
            self._on_cancel(dialog, request, peer)
        elif method == "OPTIONS":
            self._respond(
                request,
                peer,
                200,
                "OK",
                to_tag=secrets.token_hex(6),
                extra=[("allow", ALLOW), ("accept", "application/sdp")],
            )
        elif method == "INFO":
            if dialog is None:
                self._respond(request, peer, 481, "Call/Transaction Does Not Exist")
                return
            self._respond(request, peer, 200, "OK")
            match = re.search(rb"Signal\s*=\s*([0-9*#A-Da-d])", request.body)
            if match and dialog.session is not None:
                dialog.session.deliver(Dtmf(match.group(1).decode().upper()))
        else:
            self._respond(request, peer, 501, "Not Implemented", extra=[("allow", ALLOW)])

    async def _on_invite(self, invite: SipMessage, peer: tuple[str, int]) -> None:
        offer = None
        if invite.body.strip():
            try:
                offer = parse_sdp(invite.body)
            except SdpNotAcceptable as exc:
                log.warning("sip call %s: unusable SDP: %s", invite.call_id, exc)
                self._respond(invite, peer, 488, "Not Acceptable Here", to_tag=secrets.token_hex(6))
                return
            except SipParseError as exc:
                log.warning("sip call %s: bad SDP: %s", invite.call_id, exc)
                self._respond(invite, peer, 400, "Bad SDP", to_tag=secrets.token_hex(6))
                return
            if not offer.g711_choices():
                log.info("sip call %s: no G.711 in the offer", invite.call_id)
                self._respond(invite, peer, 488, "Not Acceptable Here", to_tag=secrets.token_hex(6))
                return
        self._respond(invite, peer, 100, "Trying")
        dialog = Dialog(
            server=self,
            call_id=invite.call_id,
            peer=peer,
            invite=invite,
            local_tag=secrets.token_hex(6),
            rtp=await RtpStream.open(
                self.media_host, self._on_audio(invite.call_id), self._on_dtmf(invite.call_id)
            ),
            sdp_session=secrets.randbits(31),
            invite_cseq=invite.cseq,
        )
        self.dialogs[invite.call_id] = dialog
        # Not the From header: it carries the caller's number, personal data kept out of logs.
        log.info("sip call %s", dialog.call_id)
        if self.answer_delay_s > 0:
            dialog.last_response = self._respond(
                invite, peer, 180, "Ringing", to_tag=dialog.local_tag
            )
            await asyncio.sleep(self.answer_delay_s)
            if dialog.state != "proceeding":  # cancelled meanwhile
                return
        if offer is None:
            dialog.offer_in_ok = True
            body = self._sdp(dialog, [g711.PCMU, g711.PCMA], DEFAULT_EVENT_PT)
            dialog.rtp.configure(None, g711.PCMU, DEFAULT_EVENT_PT)
        else:
            choices = offer.g711_choices()
            event_pt = offer.event_payload_type
            dialog.rtp.configure((offer.address, offer.port), choices[0], event_pt)
            body = self._sdp(dialog, choices, event_pt, ANSWER_DIRECTION[offer.direction])
        self._answer(dialog, invite, peer, body)

    def _sdp(
        self, dialog: Dialog, pts: list[int], event_pt: int | None, direction: str = "sendrecv"
    ) -> bytes:
        dialog.sdp_version += 1
        return render_sdp(
            self.media_host,
            dialog.rtp.port,
            dialog.sdp_session,
            dialog.sdp_version,
            pts,
            event_pt,
            direction,
        )

    def _answer(
        self, dialog: Dialog, invite: SipMessage, peer: tuple[str, int], body: bytes
    ) -> None:
        dialog.state = "answered" if dialog.state == "proceeding" else dialog.state
        if dialog.session is None:
            dialog.session = SipSession(dialog)
        dialog.last_response = self._respond(
            invite,
            peer,
            200,
            "OK",
            to_tag=dialog.local_tag,
            extra=[("contact", self._contact()), ("allow", ALLOW)],
            body=body,
        )
        if dialog.retransmit is not None:
            dialog.retransmit.cancel()
        dialog.retransmit = asyncio.create_task(self._retransmit_ok(dialog, peer))

    async def _retransmit_ok(self, dialog: Dialog, peer: tuple[str, int]) -> None:
        interval, waited = T1, 0.0
        while waited < TRANSACTION_TIMEOUT:
            await asyncio.sleep(interval)
            waited += interval
            self._send(dialog.last_response, peer)
            interval = min(interval * 2, T2)
        log.warning("sip call %s: no ACK for the 200 OK; ending the call", dialog.call_id)
        dialog.retransmit = None
        if dialog.session is not None and dialog.session.ended is None:
            await dialog.session.hangup()
        else:
            self.send_bye(dialog)

    def _on_ack(self, dialog: Dialog, ack: SipMessage) -> None:
        if dialog.retransmit is not None:
            dialog.retransmit.cancel()
            dialog.retransmit = None
        if dialog.state != "answered":
            if dialog.state == "ended" and dialog.session is None:
                self.dialogs.pop(dialog.call_id, None)  # the ACK of our 487
            return  # the ACK of a re-INVITE, or a retransmitted one
        if dialog.offer_in_ok:
            try:
                answer = parse_sdp(ack.body)
                choices = answer.g711_choices()
                if not choices:
                    raise SipParseError("no G.711 in the answer")
            except SipParseError as exc:
                log.warning("sip call %s: unusable answer in the ACK: %s", dialog.call_id, exc)
                dialog.state = "confirmed"
                assert dialog.session is not None
                self._spawn(dialog.session.hangup())
                return
            dialog.rtp.configure(
                (answer.address, answer.port), choices[0], answer.event_payload_type
            )
        dialog.state = "confirmed"
        assert dialog.session is not None
        self._tasks.start(dialog.session)

    async def _on_reinvite(self, dialog: Dialog, invite: SipMessage, peer: tuple[str, int]) -> None:
        dialog.invite_cseq = invite.cseq
        self._respond(invite, peer, 100, "Trying")
        direction = "sendrecv"
        pts = [dialog.rtp.payload_type]
        if invite.body.strip():
            try:
                offer = parse_sdp(invite.body)
            except SipParseError as exc:
                self._respond(invite, peer, 488, "Not Acceptable Here")
                log.info("sip call %s: bad re-INVITE SDP: %s", dialog.call_id, exc)
                return
            if not offer.g711_choices():
                self._respond(invite, peer, 488, "Not Acceptable Here")
                return
            pts = offer.g711_choices()
            dialog.rtp.configure((offer.address, offer.port), pts[0], offer.event_payload_type)
            direction = ANSWER_DIRECTION[offer.direction]
        body = self._sdp(dialog, pts, dialog.rtp.event_payload_type, direction)
        self._answer(dialog, invite, peer, body)

    def _on_cancel(self, dialog: Dialog | None, cancel: SipMessage, peer: tuple[str, int]) -> None:
        if dialog is None or dialog.invite.cseq[0] != cancel.cseq[0]:
            self._respond(cancel, peer, 481, "Call/Transaction Does Not Exist")
            return
        self._respond(cancel, peer, 200, "OK")
        if dialog.state != "proceeding":
            return  # already answered: the CANCEL has no effect (RFC 3261 9.2)
        dialog.last_response = self._respond(
            dialog.invite, peer, 487, "Request Terminated", to_tag=dialog.local_tag
        )
        dialog.state = "ended"
        dialog.rtp.close()
        # kept a moment to absorb the ACK of the 487 and any retransmission
        asyncio.get_running_loop().call_later(
            TRANSACTION_TIMEOUT, self.dialogs.pop, dialog.call_id, None
        )

    def _on_audio(self, call_id: str) -> Callable[[bytes], None]:
        def deliver(pcm: bytes) -> None:
            dialog = self.dialogs.get(call_id)
            if dialog is not None and dialog.session is not None:
                dialog.session.deliver(AudioFrame(pcm))

        return deliver

    def _on_dtmf(self, call_id: str) -> Callable[[str], None]:
        def deliver(digit: str) -> None:
            dialog = self.dialogs.get(call_id)
            if dialog is not None and dialog.session is not None:
                dialog.session.deliver(Dtmf(digit))

        return deliver

    def _end_dialog(self, dialog: Dialog, reason: str) -> None:
        if dialog.retransmit is not None:
            dialog.retransmit.cancel()
            dialog.retransmit = None
        if dialog.session is not None:
            dialog.session.remote_hangup(reason)
        dialog.state = "ended"
        dialog.rtp.close()
        self.dialogs.pop(dialog.call_id, None)

    # -- the bot hangs up ---------------------------------------------------------------------

    def send_bye(self, dialog: Dialog) -> None:
        """End the call from our side: the BYE goes out now and the media stops; it is
        retransmitted in the background until answered, so a hangup never waits on the far end."""
        if dialog.state in ("ended", "closing") or self._transport is None:
            return
        if dialog.retransmit is not None:
            dialog.retransmit.cancel()
            dialog.retransmit = None
        dialog.state = "closing"
        dialog.rtp.close()
        dialog.local_cseq = max(dialog.local_cseq, 1) + 1
        host = f"[{self.media_host}]" if ":" in self.media_host else self.media_host
        headers = [
            ("via", f"SIP/2.0/UDP {host}:{self.port};branch=z9hG4bK{secrets.token_hex(8)};rport"),
            ("max-forwards", "70"),
            ("from", dialog.local_to),
            ("to", dialog.remote_from),
            ("call-id", dialog.call_id),
            ("cseq", f"{dialog.local_cseq} BYE"),
            ("user-agent", USER_AGENT),
        ]
        data = render(f"BYE {dialog.remote_target} SIP/2.0", headers)
        answered: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        dialog.pending_bye[dialog.local_cseq] = answered
        self._send(data, dialog.peer)
        self._spawn(self._retransmit_bye(dialog, data, answered))

    async def _retransmit_bye(
        self, dialog: Dialog, data: bytes, answered: asyncio.Future[int]
    ) -> None:
        interval = T1
        try:
            for _ in range(1 if self._closing else 7):  # T1 doubling to T2: ~32 s in all
                try:
                    status = await asyncio.wait_for(asyncio.shield(answered), interval)
                    log.info("sip call %s: BYE answered %d", dialog.call_id, status)
                    return
                except TimeoutError:
                    if self.dialogs.get(dialog.call_id) is not dialog:
                        return  # ended meanwhile (their BYE crossed ours)
                    self._send(data, dialog.peer)
                    interval = min(interval * 2, T2)
            log.warning("sip call %s: BYE never answered", dialog.call_id)
        finally:
            dialog.pending_bye.clear()
            self._end_dialog(dialog, "bot hangup")

    def _on_response(self, response: SipMessage) -> None:
        dialog = self.dialogs.get(response.call_id)
        number, method = response.cseq
        if dialog is None or method != "BYE" or response.status < 200:
            return
        future = dialog.pending_bye.get(number)
        if future is not None and not future.done():
            future.set_result(response.status)


def _with_received(via: str, peer: tuple[str, int]) -> str:
    """RFC 3581: tell the client which address and port its request came from."""
    if re.search(r";\s*rport(?=;|$|\s)", via):
        via = re.sub(r";\s*rport(?=;|$|\s)", f";rport={peer[1]}", via, count=1)
    if ";received=" not in via:
        via += f";received={peer[0]}"
    return via


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("sip: request handling failed", exc_info=task.exception())


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host == ""


async def serve_sip(
    host: str,
    port: int,
    on_session: OnSession,
    *,
    rtp_host: str | None = None,
    answer_delay_s: float = 0.0,
    max_calls: int = 20,
) -> SipServer:
    """Listen for SIP over UDP on host:port; on_session runs once per call (its own task) when the
    200 OK has been ACKed; when it returns the call is hung up (BYE) if still up.

    rtp_host: the address RTP binds to and that the SDP and Contact announce; defaults to host,
    and must be given when host is a wildcard (0.0.0.0). answer_delay_s: ring (180) that long
    before answering, so that a caller can still CANCEL. max_calls: calls up at once; an
    INVITE beyond it is answered 503 Service Unavailable.
    """
    if max_calls < 1:
        raise ValueError(f"serve_sip: max_calls must be at least 1, not {max_calls}")
    media_host = rtp_host or host
    if _is_wildcard(media_host):
        raise ValueError(
            "serve_sip: give rtp_host, the address SIP peers reach this host at (it goes into "
            "the SDP and the Contact header); a wildcard address cannot be announced"
        )
    loop = asyncio.get_running_loop()
    _, server = await loop.create_datagram_endpoint(
        lambda: SipServer(on_session, media_host, answer_delay_s, max_calls),
        local_addr=(host, port),
    )
    log.info("sip listening on %s:%d (media on %s)", host, server.port, media_host)
    return server
