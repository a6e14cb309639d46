"""SIP messages: parsing a datagram into a SipMessage (start line, headers in order, body),
rendering one, and reading the name-addr values (URI, tag, the caller's number) and the Via
(RFC 3581 rport/received) of a request."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def _with_received(via: str, peer: tuple[str, int]) -> str:
    """RFC 3581: tell the client which address and port its request came from."""
    if re.search(r";\s*rport(?=;|$|\s)", via):
        via = re.sub(r";\s*rport(?=;|$|\s)", f";rport={peer[1]}", via, count=1)
    if ";received=" not in via:
        via += f";received={peer[0]}"
    return via


def render_response(
    request: SipMessage,
    peer: tuple[str, int],
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> bytes:
    """The response to `request`, which came from `peer`: its Vias (the first one told where
    the request came from), From, To (with our tag), Call-ID and CSeq; `body` is an SDP."""
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
    return render(f"SIP/2.0 {status} {reason}", headers, body)
