"""`serve_sip`: a SIP UAS (server.py) listening on a UDP address."""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from workers.telephony.playout import OnSession
from workers.telephony.sip.policy import SipPolicy
from workers.telephony.sip.server import SipServer

log = logging.getLogger(__name__)


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
    policy: SipPolicy | None = None,
) -> SipServer:
    """Listen for SIP over UDP on host:port; on_session runs once per call (its own task) when the
    200 OK has been ACKed; when it returns the call is hung up (BYE) if still up.

    rtp_host: the address RTP binds to and that the SDP and Contact announce; defaults to host,
    and must be given when host is a wildcard (0.0.0.0). answer_delay_s: ring (180) that long
    before answering, so that a caller can still CANCEL. max_calls: calls up at once; an
    INVITE beyond it is answered 503 Service Unavailable. policy: what the network may do
    (sip/policy.py; its defaults when None).
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
        lambda: SipServer(on_session, media_host, answer_delay_s, max_calls, policy),
        local_addr=(host, port),
    )
    log.info("sip listening on %s:%d (media on %s)", host, server.port, media_host)
    return server
