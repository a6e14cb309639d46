"""SDP (workers/telephony/sip/sdp.py): the first audio stream of an offer, and the addresses
and ports refused."""

from __future__ import annotations

import pytest

from workers.telephony.sip.sdp import SdpNotAcceptable, parse_sdp


def test_sdp_parsing() -> None:
    sdp = parse_sdp(
        b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 18 8 0 96\r\n"
        b"a=rtpmap:96 telephone-event/8000\r\na=sendonly\r\nm=video 5000 RTP/AVP 99\r\n"
    )
    assert (sdp.address, sdp.port, sdp.g711_choices(), sdp.event_payload_type) == (
        "10.0.0.1",
        4000,
        [8, 0],
        96,
    )
    assert sdp.direction == "sendonly"
    assert parse_sdp(b"c=IN IP6 ::1\r\nm=audio 4000 RTP/AVP 0\r\n").address == "::1"
    # a host name would be resolved by every sendto; a bad port would close the RTP socket
    for c, port in (("pbx.example.org", "4000"), ("10.0.0.1", "0"), ("10.0.0.1", "70000")):
        with pytest.raises(SdpNotAcceptable):
            parse_sdp(f"c=IN IP4 {c}\r\nm=audio {port} RTP/AVP 0\r\n".encode())
