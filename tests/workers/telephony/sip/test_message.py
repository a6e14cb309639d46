"""SIP messages (workers/telephony/sip/message.py): parsing, name-addr values."""

from __future__ import annotations

import pytest

from workers.telephony.sip.message import SipParseError, caller_number, parse_message


def test_sip_parsing_helpers() -> None:
    message = parse_message(
        b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        b"f: <sip:+33612345678@example.org>;tag=abc\r\n"
        b"t: <sip:bot@127.0.0.1>\r\n"
        b"i: call-1\r\n"
        b"CSeq: 4\r\n INVITE\r\n"
        b"l: 4\r\n\r\nbodyEXTRA"
    )
    assert (message.method, message.call_id, message.cseq) == ("INVITE", "call-1", (4, "INVITE"))
    assert message.body == b"body"
    assert caller_number(message.get("from") or "") == "+33612345678"
    assert caller_number('"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1') is None
    assert caller_number("<tel:0491000000>") == "0491000000"
    for garbage in (b"hello", b"GET / HTTP/1.1\r\n\r\n", b"OPTIONS sip:x SIP/2.0\r\n\r\n"):
        with pytest.raises(ValueError):
            parse_message(garbage)
    # a status that is not a number is an unreadable message, not a crash in the protocol
    for start in ("SIP/2.0 abc Bad", "SIP/2.0 99 Low", "SIP/2.0 ", "INVITE SIP/2.0"):
        with pytest.raises(SipParseError):
            parse_message(f"{start}\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n".encode())
    assert parse_message(b"SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: 1 BYE\r\n\r\n").status == 200
