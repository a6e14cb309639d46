"""The SIP user agent server over UDP: requests and their transactions (INVITE, ACK, BYE,
CANCEL, OPTIONS, re-INVITE, INFO), the 200 OK retransmitted until the ACK, our BYE retransmitted
until answered, and the cap on calls up at once."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable, Coroutine
from typing import Any, cast

from domain.media import AudioFrame, Dtmf
from workers.telephony import g711
from workers.telephony.playout import OnSession, SessionTasks
from workers.telephony.rtp import RtpStream
from workers.telephony.sip.dialog import Dialog, SipSession
from workers.telephony.sip.message import (
    SipMessage,
    SipParseError,
    parse_message,
    render_response,
)
from workers.telephony.sip.sdp import (
    ANSWER_DIRECTION,
    DEFAULT_EVENT_PT,
    SdpNotAcceptable,
    parse_sdp,
    render_sdp,
)

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
TRANSACTION_TIMEOUT = 64 * T1
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"


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
        data = render_response(request, peer, status, reason, to_tag=to_tag, extra=extra, body=body)
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
        data = dialog.next_bye(self.media_host, self.port)
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
