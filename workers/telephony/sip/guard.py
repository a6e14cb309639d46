"""The SIP server's network checks (issue 18, point 1), applying the policy (policy.py): which
datagrams are read at all, which new calls are admitted, where media may go and come from, and
whether an in-dialog request is new, a retransmission or stale. Refusals are counted by reason
code (ids only, never a number), for the logs and the tests."""

from __future__ import annotations

from typing import Literal

from workers.telephony.sip.dialog import Dialog
from workers.telephony.sip.message import SipMessage
from workers.telephony.sip.policy import SipPolicy

Order = Literal["new", "retransmission", "stale"]
HOLD_ADDRESSES = ("0.0.0.0", "::")


class SipGuard:
    def __init__(self, policy: SipPolicy) -> None:
        self.policy = policy
        self._invites = policy.invite_limit()
        self._packets = policy.packet_limit()
        self.refused: dict[str, int] = {}

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def datagram(self, host: str) -> bool:
        """Whether a datagram from `host` is read (a flood beyond the packet rate is not)."""
        if self._packets.allow(host):
            return True
        self.refuse("packet_rate")
        return False

    def admission(self, host: str, unconfirmed: int, calls_up: int, max_calls: int) -> str | None:
        """Why a new call from `host` is refused (503), or None: the source opens calls too
        fast, has `unconfirmed` calls too many ringing or not ACKed, or the cap on calls up is
        reached."""
        if not self._invites.allow(host):
            reason = "invite_rate"
        elif unconfirmed >= self.policy.max_unconfirmed_per_source:
            reason = "unconfirmed_per_source"
        elif calls_up >= max_calls:
            # Each call holds a socket, a dialogue and a share of the CPU: past the cap the
            # caller gets a busy signal rather than everyone getting a slow bot.
            reason = "max_calls"
        else:
            return None
        self.refuse(reason)
        return reason

    def media(self, address: str, *, hold: bool = False) -> bool:
        """Whether the bot may send RTP to an SDP's `address` (`hold`: 0.0.0.0 is fine, as in
        a re-INVITE putting the call on hold)."""
        if hold and address in HOLD_ADDRESSES:
            return True
        if self.policy.media_allowed(address):
            return True
        self.refuse("media_address")
        return False

    def symmetric_hosts(self, sdp_address: str, peer_host: str) -> frozenset[str]:
        """Where else than the SDP's address and port media may come from (policy.py)."""
        if not self.policy.rtp_symmetric:
            return frozenset()
        return frozenset({sdp_address, peer_host})

    def order(self, dialog: Dialog, request: SipMessage) -> Order:
        """A new in-dialog request (BYE, INFO, re-INVITE) carries a higher CSeq than the
        peer's last one (RFC 3261 12.2.2); the same one is a retransmission (answered again,
        not acted on twice); a lower one is stale (500)."""
        number = request.cseq[0]
        if number > dialog.remote_cseq:
            dialog.remote_cseq = number
            return "new"
        if number == dialog.remote_cseq and request.method in ("BYE", "INFO"):
            return "retransmission"
        self.refuse("cseq")
        return "stale"
