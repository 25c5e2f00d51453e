"""Writes on accounts: creating users, granting roles, login bookkeeping, tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from shanzhi.core import audit
from shanzhi.core.codes import level_of
from shanzhi.core.errors import ValidationFailed
from shanzhi.core.scope import require_scope
from shanzhi.regions.models import Region

from .models import ApiToken, RoleAssignment, User
from .roles import ROLE_LEVEL, Role


def login_failed(*, username: str) -> None:
    """Count a failed login; lock the account after SHANZHI_LOCKOUT_FAILURES in a row."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None:
            return
        user.failed_logins += 1
        fields = ["failed_logins"]
        if user.failed_logins >= settings.SHANZHI_LOCKOUT_FAILURES:
            user.locked_until = timezone.now() + dt.timedelta(minutes=settings.SHANZHI_LOCKOUT_MINUTES)
            user.failed_logins = 0
            fields.append("locked_until")
            audit.record(actor=None, action="accounts.user.locked", obj=user,
                         after={"locked_until": user.locked_until})
        user.save(update_fields=fields)


def login_succeeded(*, user: User) -> None:
    if user.failed_logins or user.locked_until:
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)


def is_locked(user: User | None) -> bool:
    return bool(user and user.locked_until and user.locked_until > timezone.now())


def _validate_role_region(role: Role, region: Region) -> None:
    needed = ROLE_LEVEL.get(role)
    if needed is not None and level_of(region.code) != needed:
        raise ValidationFailed(
            detail={"region": f"role {role.value} is held at {needed.value} level, {region.code} is not"}
        )


def user_create(
    *,
    actor: Any,
    username: str,
    password: str | None,
    role: str,
    region_code: str,
    display_name: str = "",
    check_scope: bool = True,
) -> User:
    """Create a user with a first role assignment.  ``check_scope`` is off only for the bootstrap CLI."""
    try:
        role_enum = Role(role)
    except ValueError:
        raise ValidationFailed(detail={"role": f"unknown role {role!r}"}) from None
    region = Region.objects.filter(code=region_code).first()
    if region is None:
        raise ValidationFailed(detail={"region": f"no region with code {region_code}"})
    if check_scope:
        require_scope(actor, "accounts.change", region.code)
    _validate_role_region(role_enum, region)
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(detail={"username": "this username is taken"})
    candidate = User(username=username, display_name=display_name)
    candidate._policy_official = role_enum is not Role.RESIDENT  # type: ignore[attr-defined]
    if password is not None:
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as exc:
            raise ValidationFailed(detail={"password": list(exc.messages)}) from None
    with transaction.atomic():
        user = User(username=username, display_name=display_name)
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
            user.password_changed_at = timezone.now()
        user.save()
        grant = RoleAssignment.objects.create(
            user=user, role=role_enum.value, region=region, region_code=region.code,
            granted_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(actor=actor, action="accounts.user.create", obj=user, region_code=region.code,
                     after=audit.snapshot(user, ["id", "username", "display_name", "is_active"]))
        audit.record(actor=actor, action="accounts.role.grant", obj=grant, after=audit.snapshot(grant))
    return user


def token_create(*, actor: Any, user: User, name: str, expires_at: dt.datetime | None = None) -> str:
    """Create an API token for ``user``; returns the secret (shown once)."""
    if not name.strip():
        raise ValidationFailed(detail={"name": "a token needs a name"})
    prefix, secret = ApiToken.new_secret()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name.strip()[:80], prefix=prefix, key_hash=ApiToken.hash_secret(secret),
            expires_at=expires_at,
        )
        audit.record(actor=actor, action="accounts.token.create", obj=token,
                     after={"user": user.username, "name": token.name, "prefix": prefix})
    return secret
