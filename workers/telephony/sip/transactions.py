"""Reliability over UDP (RFC 3261 17.2.1 and 17.1.2): our 200 OK retransmitted until the ACK,
and our BYE sent, then retransmitted until it is answered."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from workers.telephony.sip.dialog import Dialog
from workers.telephony.sip.message import SipMessage

if TYPE_CHECKING:
    from workers.telephony.sip.server import SipServer

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
TRANSACTION_TIMEOUT = 64 * T1


async def retransmit_ok(server: SipServer, dialog: Dialog, peer: tuple[str, int]) -> None:
    """Until the ACK (this task is cancelled then); without one, the call ends. RFC 3261 waits
    64*T1; a caller that is there ACKs within a round trip (the retransmissions cover a lost
    one), and waiting longer lets INVITEs never ACKed hold the call slots: the policy's
    `ack_timeout_s` bounds it."""
    limit = min(TRANSACTION_TIMEOUT, server.guard.policy.ack_timeout_s)
    interval, waited = T1, 0.0
    while waited < limit:
        step = min(interval, limit - waited)
        await asyncio.sleep(step)
        waited += step
        if waited < limit:
            server.send(dialog.last_response, peer)
        interval = min(interval * 2, T2)
    log.warning("sip call %s: no ACK for the 200 OK; ending the call", dialog.call_id)
    dialog.retransmit = None
    if dialog.state == "answered":
        server.abandon(dialog)
    elif dialog.session is not None and dialog.session.ended is None:
        await dialog.session.hangup()
    else:
        server.send_bye(dialog)


async def retransmit_bye(
    server: SipServer, dialog: Dialog, data: bytes, answered: asyncio.Future[int]
) -> None:
    """Until answered (T1 doubling to T2: ~32 s in all; once when the server closes), then
    the dialog ends either way."""
    interval = T1
    try:
        for _ in range(1 if server.closing else 7):
            try:
                status = await asyncio.wait_for(asyncio.shield(answered), interval)
                log.info("sip call %s: BYE answered %d", dialog.call_id, status)
                return
            except TimeoutError:
                if server.dialogs.get(dialog.call_id) is not dialog:
                    return  # ended meanwhile (their BYE crossed ours)
                server.send(data, dialog.peer)
                interval = min(interval * 2, T2)
        log.warning("sip call %s: BYE never answered", dialog.call_id)
    finally:
        dialog.pending_bye.clear()
        server.end_dialog(dialog, "bot hangup")


def start_bye(server: SipServer, dialog: Dialog) -> tuple[bytes, asyncio.Future[int]]:
    """Send our BYE now (the media stops with it): the datagram, and the future its final
    answer resolves (`bye_answered`)."""
    if dialog.retransmit is not None:
        dialog.retransmit.cancel()
        dialog.retransmit = None
    dialog.state = "closing"
    dialog.rtp.close()
    data = dialog.next_bye(server.media_host, server.port)
    answered: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    dialog.pending_bye[dialog.local_cseq] = answered
    server.send(data, dialog.peer)
    return data, answered


def bye_answered(dialog: Dialog | None, response: SipMessage) -> None:
    """A final response to one of our BYEs ends its retransmissions."""
    number, method = response.cseq
    if dialog is None or method != "BYE" or response.status < 200:
        return
    future = dialog.pending_bye.get(number)
    if future is not None and not future.done():
        future.set_result(response.status)
