"""The SIP user agent server over UDP: requests and their transactions (INVITE, ACK, BYE,
CANCEL, OPTIONS, re-INVITE, INFO), the 200 OK retransmitted until the ACK, our BYE retransmitted
until answered, the cap on calls up at once, and what the network may not do (policy.py):
in-dialog requests from anyone but the dialog's peer or out of CSeq order, media sent where
the SDP may not point, calls never ACKed, one source opening calls or sending datagrams too
fast."""

from __future__ import annotations

import asyncio
import contextlib
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
from workers.telephony.sip.guard import SipGuard
from workers.telephony.sip.message import (
    SipMessage,
    SipParseError,
    parse_message,
    render_response,
)
from workers.telephony.sip.policy import SipPolicy
from workers.telephony.sip.sdp import (
    ANSWER_DIRECTION,
    DEFAULT_EVENT_PT,
    SdpNotAcceptable,
    parse_sdp,
    render_sdp,
)
from workers.telephony.sip.transactions import (
    T1,
    TRANSACTION_TIMEOUT,
    bye_answered,
    retransmit_bye,
    retransmit_ok,
    start_bye,
)

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"


class SipServer(asyncio.DatagramProtocol):
    """A listening SIP UAS; close() hangs up the calls still up."""

    def __init__(
        self,
        on_session: OnSession,
        media_host: str,
        answer_delay_s: float,
        max_calls: int = 20,
        policy: SipPolicy | None = None,
    ) -> None:
        self._tasks = SessionTasks(on_session)
        self.media_host = media_host
        self.answer_delay_s = answer_delay_s
        self.max_calls = max_calls
        self.guard = SipGuard(policy or SipPolicy())
        self.dialogs: dict[str, Dialog] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._port = 0
        self._background: set[asyncio.Task[None]] = set()
        # INVITEs whose RTP socket is being opened, with the address they came from.
        self._opening: dict[str, str] = {}
        self.closing = False

    @property
    def port(self) -> int:
        return self._port

    @property
    def calls_up(self) -> int:
        """Calls being set up or up; ended ones kept to absorb retransmissions do not count."""
        live = sum(1 for dialog in self.dialogs.values() if dialog.state != "ended")
        return live + len(self._opening)

    async def close(self, grace_s: float = 2.0) -> None:
        self.closing = True  # BYEs go out once, unanswered ones are not waited for
        await self._tasks.close(grace_s)
        if self._background:  # the last BYEs: one try each, not the full retransmission
            await asyncio.wait(list(self._background), timeout=T1 * 2)
        for dialog in list(self.dialogs.values()):
            self.end_dialog(dialog, "server closed")
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
        if not self.guard.datagram(addr[0]):
            return  # a flood: not even parsed
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

    def send(self, data: bytes, peer: tuple[str, int]) -> None:
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
        self.send(data, peer)
        return data

    def _unconfirmed_from(self, host: str) -> int:
        """Calls from `host` being set up, ringing, or answered and not ACKed yet."""
        live = sum(
            1
            for d in self.dialogs.values()
            if d.peer[0] == host and d.state in ("proceeding", "answered")
        )
        return live + sum(1 for source in self._opening.values() if source == host)

    def _in_order(self, dialog: Dialog, request: SipMessage, peer: tuple[str, int]) -> bool:
        """True for a new in-dialog request; a retransmission is answered again, a stale one
        refused (guard.py)."""
        order = self.guard.order(dialog, request)
        if order == "retransmission":
            self._respond(request, peer, 200, "OK")
        elif order == "stale":
            self._respond(request, peer, 500, "CSeq Out Of Order")
        return order == "new"

    def _contact(self) -> str:
        host = f"[{self.media_host}]" if ":" in self.media_host else self.media_host
        return f"<sip:bot@{host}:{self.port}>"

    # -- requests -----------------------------------------------------------------------------

    async def _on_request(self, request: SipMessage, peer: tuple[str, int]) -> None:
        method = request.method
        dialog = self.dialogs.get(request.call_id)
        if dialog is not None and method != "OPTIONS":
            why = dialog.mismatch(request, peer)
            if why is not None:
                # A third party that knows the Call-ID: it may not end the call, move its
                # media, press keys or confirm it.
                self.guard.refuse("not_the_peer")
                log.warning(
                    "sip call %s: %s refused, not the peer (%s)", dialog.call_id, method, why
                )
                if method != "ACK":
                    self._respond(request, peer, 481, "Call/Transaction Does Not Exist")
                return
        if method == "INVITE":
            await self._on_invite_request(dialog, request, peer)
        elif method == "ACK":
            if dialog is not None:
                self._on_ack(dialog, request)
        elif method == "BYE":
            if dialog is None:
                self._respond(request, peer, 481, "Call/Transaction Does Not Exist")
                return
            if self._in_order(dialog, request, peer):
                self._respond(request, peer, 200, "OK")
                self.end_dialog(dialog, "bye")
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
            if not self._in_order(dialog, request, peer):
                return
            self._respond(request, peer, 200, "OK")
            match = re.search(rb"Signal\s*=\s*([0-9*#A-Da-d])", request.body)
            if match and dialog.session is not None:
                dialog.session.deliver(Dtmf(match.group(1).decode().upper()))
        else:
            self._respond(request, peer, 501, "Not Implemented", extra=[("allow", ALLOW)])

    async def _on_invite_request(
        self, dialog: Dialog | None, request: SipMessage, peer: tuple[str, int]
    ) -> None:
        """A new call (admitted or refused: guard.py), a retransmission, or a re-INVITE."""
        if dialog is None:
            if request.call_id in self._opening:
                return  # a retransmission while we set the call up
            refused = self.guard.admission(
                peer[0], self._unconfirmed_from(peer[0]), self.calls_up, self.max_calls
            )
            if refused is not None:
                log.warning("sip call %s: refused (%s)", request.call_id, refused)
                self._respond(
                    request,
                    peer,
                    503,
                    "Service Unavailable",
                    to_tag=secrets.token_hex(6),
                    extra=[("retry-after", "30" if refused == "max_calls" else "5")],
                )
                return
            self._opening[request.call_id] = peer[0]
            try:
                await self._on_invite(request, peer)
            finally:
                self._opening.pop(request.call_id, None)
        elif request.cseq == dialog.invite_cseq:  # a retransmission
            if dialog.last_response:
                self.send(dialog.last_response, peer)
        elif self._in_order(dialog, request, peer):
            await self._on_reinvite(dialog, request, peer)

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
            if not self.guard.media(offer.address):
                log.warning("sip call %s: SDP address outside the media networks", invite.call_id)
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
            remote_cseq=invite.cseq[0],
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
            dialog.rtp.configure(
                (offer.address, offer.port),
                choices[0],
                event_pt,
                symmetric_hosts=self.guard.symmetric_hosts(offer.address, dialog.peer[0]),
            )
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
        dialog.retransmit = asyncio.create_task(retransmit_ok(self, dialog, peer))

    def abandon(self, dialog: Dialog) -> None:
        """An answered call never confirmed: one BYE (the peer never showed it was there, no
        retransmissions owed) and the slot is free at once; the dialogue never started."""
        self.guard.refuse("no_ack")
        if self._transport is not None:
            self.send(dialog.next_bye(self.media_host, self.port), dialog.peer)
        self.end_dialog(dialog, "no ack")

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
                if not self.guard.media(answer.address):
                    raise SipParseError("SDP address outside the media networks")
            except SipParseError as exc:
                log.warning("sip call %s: unusable answer in the ACK: %s", dialog.call_id, exc)
                dialog.state = "confirmed"
                assert dialog.session is not None
                self._spawn(dialog.session.hangup())
                return
            dialog.rtp.configure(
                (answer.address, answer.port),
                choices[0],
                answer.event_payload_type,
                symmetric_hosts=self.guard.symmetric_hosts(answer.address, dialog.peer[0]),
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
            if not self.guard.media(offer.address, hold=True):
                log.warning("sip call %s: re-INVITE to a media address refused", dialog.call_id)
                self._respond(invite, peer, 488, "Not Acceptable Here")
                return
            pts = offer.g711_choices()
            dialog.rtp.configure(
                (offer.address, offer.port),
                pts[0],
                offer.event_payload_type,
                symmetric_hosts=self.guard.symmetric_hosts(offer.address, dialog.peer[0]),
            )
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

    def end_dialog(self, dialog: Dialog, reason: str) -> None:
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
        data, answered = start_bye(self, dialog)
        self._spawn(retransmit_bye(self, dialog, data, answered))

    def _on_response(self, response: SipMessage) -> None:
        bye_answered(self.dialogs.get(response.call_id), response)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("sip: request handling failed", exc_info=task.exception())
