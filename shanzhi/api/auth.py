"""API authentication: bearer tokens for machines and scripts, the session cookie for the pages' own calls."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from shanzhi.accounts.models import ApiToken, RoleAssignment, User
from shanzhi.core.memo import Memo

# a checked token -> its user with the role assignments loaded (scope checks then need no query); see core.memo
# for how long a revocation or a role change made by another process may take to be seen here
_TOKENS: Memo[Any] = Memo("api-tokens", [ApiToken, User, RoleAssignment], limit=1000)


def user_for_token(token: str) -> Any | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "sz":
        return None
    row = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
    if row is None or not row.is_usable():
        return None
    if not hmac.compare_digest(row.key_hash, ApiToken.hash_secret(token)):
        return None
    if not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


def cached_user_for_token(token: str) -> Any | None:
    """:func:`user_for_token`, remembered per process for a few seconds (only tokens that were valid)."""
    key = hashlib.sha256(token.encode()).hexdigest()
    user = _TOKENS.get(key, lambda: _checked(token))
    if user is None:
        _TOKENS.forget_key(key)
    return user


def _checked(token: str) -> Any | None:
    user = user_for_token(token)
    if user is not None:
        user.scope_prefixes("events.report")  # loads the role assignments once, with the user
    return user


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = cached_user_for_token(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The logged-in page session (CSRF-checked for unsafe methods by django-ninja)."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if settings.SHANZHI_REQUIRE_2FA and getattr(user, "is_official", False) and not (
            hasattr(user, "is_verified") and user.is_verified()
        ):
            return None  # an official's session counts only after the second factor
        return user


AUTH = [BearerToken(), SessionAuth()]
