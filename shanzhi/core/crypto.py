"""Encryption at rest for personal data, with a keyed blind index for exact lookup.

The key lives outside the database (``SHANZHI_PII_KEY``: 32 random bytes, urlsafe base64).  Values are
encrypted with AES-256-GCM under a fresh nonce; the stored form is ``v1:<key id>:<base64(nonce|ciphertext)>``
so that keys can be rotated (old keys in ``SHANZHI_PII_OLD_KEYS``).  The blind index is an HMAC-SHA256 of the
normalised value under a key derived from the same secret for that purpose only; it allows ``WHERE
id_number_bidx = ?`` without ever storing the plaintext or a plain hash that could be brute-forced offline.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

PREFIX = "v1"


class CryptoError(Exception):
    pass


def _decode_key(raw: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except (ValueError, TypeError) as exc:
        raise CryptoError("SHANZHI_PII_KEY is not urlsafe base64") from exc
    if len(key) != 32:
        raise CryptoError("SHANZHI_PII_KEY must decode to 32 bytes")
    return key


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"shanzhi-key-id" + key).hexdigest()[:8]


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=b"shanzhi-pii", info=purpose).derive(key)


@functools.cache
def _keys(current_raw: str, old_raw: str) -> tuple[str, dict[str, bytes], bytes]:
    current = _decode_key(current_raw)
    keys = {_key_id(current): _derive(current, b"encrypt")}
    for item in filter(None, (s.strip() for s in old_raw.split(","))):
        old = _decode_key(item.split(":", 1)[-1])
        keys.setdefault(_key_id(old), _derive(old, b"encrypt"))
    return _key_id(current), keys, _derive(current, b"blind-index")


def _material() -> tuple[str, dict[str, bytes], bytes]:
    return _keys(settings.SHANZHI_PII_KEY, getattr(settings, "SHANZHI_PII_OLD_KEYS", ""))


def encrypt(plaintext: str) -> str:
    key_id, keys, _ = _material()
    nonce = os.urandom(12)
    sealed = AESGCM(keys[key_id]).encrypt(nonce, plaintext.encode("utf-8"), key_id.encode())
    return f"{PREFIX}:{key_id}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(stored: str) -> str:
    try:
        version, key_id, payload = stored.split(":", 2)
    except ValueError:
        raise CryptoError("not an encrypted value") from None
    if version != PREFIX:
        raise CryptoError(f"unknown format {version}")
    _, keys, _ = _material()
    if key_id not in keys:
        raise CryptoError(f"no key with id {key_id}")
    raw = base64.b64decode(payload)
    try:
        return AESGCM(keys[key_id]).decrypt(raw[:12], raw[12:], key_id.encode()).decode("utf-8")
    except Exception as exc:  # cryptography raises InvalidTag
        raise CryptoError("ciphertext does not verify") from exc


_SPACES = re.compile(r"[\s\-]")


def normalise(kind: str, value: str) -> str:
    value = value.strip()
    if kind in {"id_number", "plate"}:
        return _SPACES.sub("", value).upper()
    if kind == "phone":
        return _SPACES.sub("", value)
    return " ".join(value.split())


def blind_index(kind: str, value: str | None) -> str:
    """Keyed HMAC of the normalised value; '' for an empty value."""
    if not value:
        return ""
    _, _, index_key = _material()
    digest = hmac.new(index_key, f"{kind}:{normalise(kind, value)}".encode(), hashlib.sha256)
    return digest.hexdigest()


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text column holding AES-GCM ciphertext; Python sees the plaintext.

    Lookups other than ``isnull`` make no sense on ciphertext; use the companion blind-index column.
    """

    description = "Encrypted text"

    def __init__(self, *args: Any, mask_kind: str = "address", **kwargs: Any) -> None:
        self.mask_kind = mask_kind
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["mask_kind"] = self.mask_kind
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value  # type: ignore[no-any-return]
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
