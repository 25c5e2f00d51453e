"""MD5 digest authentication for REGISTER (RFC 2617, as RFC 3261 §22 uses it; GB/T 28181 §9.1).

Nonces are stateless and time-limited: ``<12 hex digits of the issue time><16 random hex digits><HMAC-SHA256
of both, 32 hex>`` under a key derived from Django's ``SECRET_KEY``, so every gateway of a deployment accepts
the nonces of the others, and a nonce older than ``SHANZHI_SIP_NONCE_SECONDS`` is refused as stale.  The
gateway also refuses a nonce that already served a registration (a replayed REGISTER is challenged again).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from django.conf import settings

NONCE_LENGTH = 12 + 16 + 32
_PARAM = re.compile(r'\s*([A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]+)\s*(?:,|$)')


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def expected_response(*, username: str, realm: str, password: str, method: str, uri: str, nonce: str,
                      qop: str = "", nc: str = "", cnonce: str = "") -> str:
    """``MD5(HA1:nonce:HA2)`` (or with ``qop=auth``: ``MD5(HA1:nonce:nc:cnonce:qop:HA2)``)."""
    ha1 = md5(f"{username}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    if qop:
        return md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return md5(f"{ha1}:{nonce}:{ha2}")


@dataclass(frozen=True)
class Credentials:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str = ""
    nc: str = ""
    cnonce: str = ""


def parse_authorization(value: str) -> Credentials | None:
    """Parse ``Digest k=v, k="v", …``; None when it is not a complete MD5 digest header."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if match is None:
            return None
        raw = match.group(2)
        params[match.group(1).lower()] = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
        pos = match.end()
    try:
        creds = Credentials(username=params["username"], realm=params["realm"], nonce=params["nonce"],
                            uri=params["uri"], response=params["response"].lower(),
                            algorithm=params.get("algorithm", "MD5"), qop=params.get("qop", ""),
                            nc=params.get("nc", ""), cnonce=params.get("cnonce", ""))
    except KeyError:
        return None
    if creds.algorithm.upper() != "MD5" or creds.qop not in ("", "auth") or (creds.qop and not (creds.nc
                                                                                                and creds.cnonce)):
        return None
    return creds


def _key() -> bytes:
    return hashlib.sha256(b"shanzhi-sip-nonce:" + settings.SECRET_KEY.encode()).digest()


def make_nonce(now: float | None = None) -> str:
    stamp = f"{int(now if now is not None else time.time()):012x}" + secrets.token_hex(8)
    return stamp + hmac.new(_key(), stamp.encode(), hashlib.sha256).hexdigest()[:32]


def nonce_state(nonce: str, *, max_age: float, now: float | None = None) -> str:
    """``ok``, ``stale`` (genuine but too old) or ``bad`` (not one of ours)."""
    if len(nonce) != NONCE_LENGTH:
        return "bad"
    stamp, mac = nonce[:28], nonce[28:]
    good = hmac.new(_key(), stamp.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(mac, good):
        return "bad"
    try:
        issued = int(stamp[:12], 16)
    except ValueError:
        return "bad"
    age = (now if now is not None else time.time()) - issued
    if age < -5:
        return "bad"
    return "ok" if age <= max_age else "stale"


def challenge(realm: str, *, stale: bool = False, now: float | None = None) -> str:
    value = f'Digest realm="{realm}", nonce="{make_nonce(now)}", algorithm=MD5'
    return value + (", stale=TRUE" if stale else "")


def verify(creds: Credentials, *, method: str, password: str) -> bool:
    good = expected_response(username=creds.username, realm=creds.realm, password=password, method=method,
                             uri=creds.uri, nonce=creds.nonce, qop=creds.qop, nc=creds.nc, cnonce=creds.cnonce)
    return hmac.compare_digest(good, creds.response)
