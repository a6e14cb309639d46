"""A call's SIP dialog and the media session the dialogue sees (domain.media.MediaSession
through PacedSession): the bot's audio goes out as RTP, its hangup as our BYE. A request is
taken as the dialog's only from its peer (`Dialog.mismatch`)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workers.telephony.playout import PacedSession
from workers.telephony.rtp import RtpStream
from workers.telephony.sip.message import (
    USER_AGENT,
    SipMessage,
    caller_number,
    render,
    tag_of,
    uri_of,
)

if TYPE_CHECKING:
    from workers.telephony.sip.server import SipServer


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
    remote_cseq: int = 0  # the highest CSeq of the peer's requests: older ones are stale
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
    def remote_tag(self) -> str | None:
        return tag_of(self.remote_from)

    def mismatch(self, request: SipMessage, peer: tuple[str, int]) -> str | None:
        """Why `request`, which carries this dialog's Call-ID, is not from its peer (None when
        it is): it must come from the address the INVITE came from, with the caller's From
        tag and, once we answered, our To tag. The Call-ID alone proves nothing: it travels
        in clear and is often guessable, and a BYE or re-INVITE trusted on it alone lets
        anyone end the call or take its media."""
        if peer != self.peer:
            return "source address"
        if tag_of(request.get("from") or "") != self.remote_tag:
            return "From tag"
        to_tag = tag_of(request.get("to") or "")
        initial = request.cseq[0] == self.invite.cseq[0]
        if request.method == "CANCEL" or (request.method == "INVITE" and initial):
            ok = to_tag in (None, self.local_tag)  # the INVITE (or its CANCEL) as first sent
        else:
            ok = to_tag == self.local_tag
        return None if ok else "To tag"

    @property
    def remote_target(self) -> str:
        return uri_of(self.invite.get("contact") or self.remote_from)

    @property
    def local_to(self) -> str:
        to = self.invite.get("to") or ""
        return to if tag_of(to) else f"{to};tag={self.local_tag}"

    def next_bye(self, host: str, port: int) -> bytes:
        """Our BYE, with the next CSeq of the dialog; `host`:`port` is where we listen."""
        self.local_cseq = max(self.local_cseq, 1) + 1
        host = f"[{host}]" if ":" in host else host
        headers = [
            ("via", f"SIP/2.0/UDP {host}:{port};branch=z9hG4bK{secrets.token_hex(8)};rport"),
            ("max-forwards", "70"),
            ("from", self.local_to),
            ("to", self.remote_from),
            ("call-id", self.call_id),
            ("cseq", f"{self.local_cseq} BYE"),
            ("user-agent", USER_AGENT),
        ]
        return render(f"BYE {self.remote_target} SIP/2.0", headers)
