"""A small, strict SIP (RFC 3261) message parser and builder for UDP datagrams.

Strict means: a datagram larger than :data:`MAX_DATAGRAM` is refused before parsing; the start line must be
``METHOD SP sip-URI SP SIP/2.0`` or ``SIP/2.0 SP 3DIGIT SP reason``; header lines are ``name: value`` with
CRLF line ends (folded continuation lines are joined); compact header names are expanded; a request needs
Via, From, To, Call-ID and CSeq, and the CSeq method must equal the request method; when Content-Length is
present it must equal the body length exactly.  Anything else raises :class:`ParseError` with a short reason
that the gateway counts (``sip_rejected_<reason>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_DATAGRAM = 64 * 1024
MAX_HEADERS = 100
MAX_LINE = 4096

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "e": "content-encoding", "k": "supported", "s": "subject"}
REQUIRED = ("via", "from", "to", "call-id", "cseq")
CANONICAL = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq",
             "contact": "Contact", "content-length": "Content-Length", "content-type": "Content-Type",
             "max-forwards": "Max-Forwards", "expires": "Expires", "www-authenticate": "WWW-Authenticate",
             "authorization": "Authorization", "user-agent": "User-Agent", "date": "Date", "allow": "Allow"}

_METHOD = re.compile(r"^[A-Z]{2,20}$")
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_URI_USER = re.compile(r"sips?:([^@;>\s:]+)@")

REASONS = {100: "Trying", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large",
           415: "Unsupported Media Type", 423: "Interval Too Brief", 481: "Call/Transaction Does Not Exist",
           500: "Server Internal Error", 503: "Service Unavailable"}


class ParseError(ValueError):
    def __init__(self, reason: str, message: SipMessage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message  # what could be parsed (enough to answer 400), if anything


@dataclass
class SipMessage:
    method: str = ""  # requests
    uri: str = ""
    status: int = 0  # responses
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lower-case name, value), in order
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def get(self, name: str, default: str = "") -> str:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def call_id(self) -> str:
        return self.get("call-id")

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = self.get("cseq").partition(" ")
        return int(number), method.strip()

    @property
    def branch(self) -> str:
        return param(self.get("via"), "branch")

    @property
    def from_user(self) -> str:
        return uri_user(self.get("from"))

    @property
    def from_tag(self) -> str:
        return param(self.get("from"), "tag")


def uri_user(value: str) -> str:
    """The user part of the first SIP URI in a header value ("" when there is none)."""
    match = _URI_USER.search(value)
    return match.group(1) if match else ""


def param(value: str, name: str) -> str:
    """A ``;name=value`` parameter of a header value (outside its <URI>), "" when absent."""
    if ">" in value:
        value = value.rsplit(">", 1)[1]
    for part in value.split(";")[1:]:
        key, _, val = part.strip().partition("=")
        if key.strip().lower() == name:
            return val.strip().strip('"')
    return ""


def _split_lines(head: bytes) -> list[str]:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("bad_encoding") from None
    lines: list[str] = []
    for line in text.split("\r\n"):
        if "\n" in line or "\r" in line:
            raise ParseError("bad_line_end")
        if len(line) > MAX_LINE:
            raise ParseError("line_too_long")
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return lines


def parse(data: bytes) -> SipMessage:
    """Parse one datagram; raise :class:`ParseError` (with what could be read) when it is not acceptable."""
    if len(data) > MAX_DATAGRAM:
        raise ParseError("too_large")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ParseError("no_header_end")
    lines = _split_lines(head)
    start = lines[0]
    msg = SipMessage()
    parts = start.split(" ", 2)
    if len(parts) != 3:
        raise ParseError("bad_start_line")
    if parts[0] == "SIP/2.0":
        if len(parts[1]) != 3 or not parts[1].isdigit() or not 100 <= int(parts[1]) <= 699:
            raise ParseError("bad_start_line")
        msg.status, msg.reason = int(parts[1]), parts[2]
    else:
        if not _METHOD.match(parts[0]) or parts[2] != "SIP/2.0" or not parts[1].startswith(("sip:", "sips:")) \
                or " " in parts[1]:
            raise ParseError("bad_start_line")
        msg.method, msg.uri = parts[0], parts[1]
    if len(lines) - 1 > MAX_HEADERS:
        raise ParseError("too_many_headers")
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or not _TOKEN.match(name):
            raise ParseError("bad_header", msg)
        msg.headers.append((COMPACT.get(name, name), value.strip()))
    msg.body = body
    for name in REQUIRED:
        if not msg.get(name):
            raise ParseError("missing_" + name.replace("-", "_"), msg if msg.get("via") else None)
    number, _, method = msg.get("cseq").partition(" ")
    if not number.isdigit() or len(number) > 10 or not method.strip() \
            or (msg.is_request and method.strip() != msg.method):
        raise ParseError("bad_cseq", msg)
    length = msg.get("content-length")
    if length and (not length.isdigit() or int(length) != len(body)):
        raise ParseError("bad_content_length", msg)
    return msg


def response(request: SipMessage, status: int, *, source: tuple[str, int] | None = None, to_tag: str = "",
             extra: list[tuple[str, str]] | None = None, reason: str = "") -> bytes:
    """A response to ``request``: its Via (received/rport filled per RFC 3581), From, To (+tag), Call-ID, CSeq."""
    lines = [f"SIP/2.0 {status} {reason or REASONS.get(status, 'Unknown')}"]
    vias = request.get_all("via")
    for index, via in enumerate(vias):
        if index == 0 and source is not None:
            host = source[0]
            if re.search(r";\s*rport(?=;|$)", via):
                via = re.sub(r";\s*rport(?=;|$)", f";rport={source[1]}", via, count=1)
            if ";received=" not in via:
                via += f";received={host}"
        lines.append(f"Via: {via}")
    lines.append(f"From: {request.get('from')}")
    to = request.get("to")
    if to_tag and not param(to, "tag"):
        to += f";tag={to_tag}"
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {request.call_id}")
    lines.append(f"CSeq: {request.get('cseq')}")
    for name, value in extra or []:
        lines.append(f"{name}: {value}")
    lines.append("User-Agent: Shanzhi")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def request(method: str, uri: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"{method} {uri} SIP/2.0"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
