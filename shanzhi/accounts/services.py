"""Writes on accounts: creating users, granting roles, login bookkeeping, tokens."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from shanzhi.core import audit
from shanzhi.core.codes import LEVEL_ORDER, level_of, prefix_of
from shanzhi.core.errors import NotFound, PermissionDenied, ValidationFailed
from shanzhi.core.scope import require_scope
from shanzhi.regions.models import Region

from .models import ApiToken, RoleAssignment, User
from .roles import MATRIX, ROLE_LEVEL, Role


def home_region(user: User) -> str:
    """The region an audit row about ``user`` is filed under (their first assignment), so the administrators
    of that region see it in their scoped audit log; "" for a user without roles."""
    code = user.role_assignments.order_by("region_code").values_list("region_code", flat=True).first()
    return code or ""


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
            audit.record(actor=None, action="accounts.user.locked", obj=user, region_code=home_region(user),
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


_USERNAME_RE = re.compile(r"^[\w.@+-]+$")


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
    role_enum = _role_or_error(role)
    region = _region_or_error(region_code)
    if check_scope:
        check_may_grant(actor, role_enum, region.code)
    _validate_role_region(role_enum, region)
    if not username or len(username) > 150 or not _USERNAME_RE.match(username):
        raise ValidationFailed(detail={"username": "use 1-150 letters, digits and @.+-_"})
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
        audit.record(actor=actor, action="accounts.token.create", obj=token, region_code=home_region(user),
                     after={"user": user.username, "name": token.name, "prefix": prefix})
    return secret


# --- administration of users and roles ---------------------------------------------------------------------

def _role_or_error(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationFailed(
            detail={"role": f"unknown role {role!r}; known roles: {', '.join(r.value for r in Role)}"}
        ) from None


def _region_or_error(region_code: str) -> Region:
    region = Region.objects.filter(code=str(region_code)).first()
    if region is None:
        raise ValidationFailed(detail={"region": f"no region with code {region_code}"})
    return region


def _level_rank(role: Role, region_code: str) -> int:
    """How high a role sits: 0 = province ... 4 = village (smaller is higher)."""
    return LEVEL_ORDER.index(ROLE_LEVEL.get(role) or level_of(region_code))


def check_may_grant(actor: Any, role: Role, region_code: str) -> None:
    """An administrator grants only inside their ``accounts.change`` scope and never above their own level.

    Operational roles (grid worker, handler, supervisory member …) carry permissions an administrator does not
    hold (an administrator does not sign as the 村监会); granting them is the administrator's job, and the
    separation is kept by refusing grants to oneself (see :func:`role_grant`), not by a permission subset.
    """
    require_scope(actor, "accounts.change", region_code)
    managing = [
        (Role(r), code) for r, code in actor._assignment_rows()
        if r in Role.__members__.values() and region_code.startswith(prefix_of(code))
        and "accounts.change" in MATRIX[Role(r)]
    ]
    actor_rank = min(_level_rank(r, code) for r, code in managing)
    if _level_rank(role, region_code) < actor_rank:
        raise PermissionDenied(
            "accounts.change",
            detail={"role": f"you cannot grant {role.value}: it ranks above the roles you hold there"},
        )


def _check_may_manage(actor: Any, user: User) -> None:
    """Changing a user needs the right to grant every role the user holds (so nobody reaches upward)."""
    if not user_is_visible(actor, user):
        raise NotFound("user")
    for assignment in user.role_assignments.all():
        check_may_grant(actor, Role(assignment.role), assignment.region_code)


def user_is_visible(actor: Any, user: User) -> bool:
    return RoleAssignment.objects.restrict(actor, "accounts.view").filter(user_id=user.pk).exists()


def role_grant(*, actor: Any, user: User, role: str, region_code: str, check_scope: bool = True) -> RoleAssignment:
    """Give ``user`` the ``role`` in ``region_code``.  ``check_scope`` is off only for the bootstrap CLI."""
    role_enum = _role_or_error(role)
    region = _region_or_error(region_code)
    if check_scope:
        if not user_is_visible(actor, user):
            raise NotFound("user")
        if getattr(actor, "pk", None) == user.pk:
            raise PermissionDenied("accounts.change", detail={"user": "nobody grants roles to themselves"})
        check_may_grant(actor, role_enum, region.code)
    _validate_role_region(role_enum, region)
    if RoleAssignment.objects.filter(user=user, role=role_enum.value, region=region).exists():
        raise ValidationFailed(detail={"role": "the user already holds this role in this region"})
    with transaction.atomic():
        grant = RoleAssignment.objects.create(
            user=user, role=role_enum.value, region=region, region_code=region.code,
            granted_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(actor=actor, action="accounts.role.grant", obj=grant, after=audit.snapshot(grant))
    user.forget_scope()
    return grant


def role_revoke(*, actor: Any, assignment: RoleAssignment) -> None:
    """Take a role assignment away (the caller loaded it through ``access(..., "accounts.change")``)."""
    check_may_grant(actor, Role(assignment.role), assignment.region_code)
    with transaction.atomic():
        before = audit.snapshot(assignment)
        audit.record(actor=actor, action="accounts.role.revoke", obj=assignment, before=before)
        assignment.delete()
    assignment.user.forget_scope()


def user_deactivate(*, actor: Any, user: User) -> User:
    """Switch an account off: it can no longer log in, its tokens stop working, its scope is empty."""
    _check_may_manage(actor, user)
    if getattr(actor, "pk", None) == user.pk:
        raise ValidationFailed(detail={"user": "you cannot deactivate your own account"})
    with transaction.atomic():
        before = audit.snapshot(user, ["is_active"])
        user.is_active = False
        user.save(update_fields=["is_active"])
        audit.record(actor=actor, action="accounts.user.deactivate", obj=user,
                     region_code=home_region(user), before=before,
                     after=audit.snapshot(user, ["is_active"]))
    return user


def password_change(
    *, actor: Any, user: User, new_password: str, old_password: str | None = None, check_scope: bool = True
) -> None:
    """Change a password: one's own (the old one is required) or, for an administrator, another user's.
    ``check_scope`` is off only for the bootstrap CLI."""
    if getattr(actor, "pk", None) == user.pk:
        if old_password is None or not user.check_password(old_password):
            raise ValidationFailed(detail={"old_password": "the current password is wrong"})
    elif check_scope:
        _check_may_manage(actor, user)
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationFailed(detail={"new_password": list(exc.messages)}) from None
    with transaction.atomic():
        user.set_password(new_password)
        user.password_changed_at = timezone.now()
        user.save(update_fields=["password", "password_changed_at"])
        audit.record(actor=actor, action="accounts.user.password_change", obj=user, region_code=home_region(user),
                     after={"password_changed_at": user.password_changed_at})


def token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    """Revoke an API token (the caller loaded it through ``selectors.my_token``)."""
    if token.revoked_at is not None:
        raise ValidationFailed(detail={"token": "this token is already revoked"})
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor=actor, action="accounts.token.revoke", obj=token, region_code=home_region(token.user),
                     after={"user": token.user.username, "name": token.name, "prefix": token.prefix})
    return token


# --- second factor -------------------------------------------------------------------------------------------

def otp_pending_device(*, user: User) -> TOTPDevice:
    """The unconfirmed TOTP device a user is enrolling (created on first use, secret shown once)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        with transaction.atomic():
            device = TOTPDevice.objects.create(user=user, name="default", confirmed=False)
            audit.record(actor=user, action="accounts.otp.enrol_start", obj=device, region_code=home_region(user),
                         after={"user": user.username})
    return device


def otp_confirm(*, user: User, device: TOTPDevice, code: str) -> None:
    """Confirm an enrolment with a first code: the device then guards every login."""
    if device.user_id != user.pk or device.confirmed:
        raise NotFound("device")
    if not (code or "").strip().isdigit() or not device.verify_token(code.strip()):
        raise ValidationFailed(detail={"code": "the code is wrong or expired"})
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit.record(actor=user, action="accounts.otp.confirm", obj=device, region_code=home_region(user),
                     after={"user": user.username})


def has_confirmed_device(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def otp_reset(*, actor: Any, user: User) -> int:
    """An administrator removes a user's second factor (lost phone); the user enrols again at next login."""
    _check_may_manage(actor, user)
    with transaction.atomic():
        count, _detail = TOTPDevice.objects.filter(user=user).delete()
        audit.record(actor=actor, action="accounts.otp.reset", obj=user,
                     region_code=home_region(user), after={"devices_removed": count})
    return int(count)
