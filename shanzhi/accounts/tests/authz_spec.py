"""Authorization-matrix routes of accounts (pages and API), and of the audit log (core API)."""

from __future__ import annotations

import itertools
from typing import Any

from django.db import transaction

from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.core import audit
from shanzhi.testing.authz import Built, Route
from shanzhi.testing.factories import make_user

_n = itertools.count(1)
STRONG = "Strong-Passw0rd-2026"


def _user(code: str) -> Built:
    user = make_user("dispatcher", code, username=f"authz-user-{next(_n)}")
    return Built({"pk": user.pk}, user.username, user)


def _listed_user(code: str) -> Built:
    built = _user(code)
    return Built({}, built.marker, built.obj)


def _api_user(code: str) -> Built:
    built = _user(code)
    return Built({"user_id": built.obj.pk}, built.marker, built.obj)


def _assignment(code: str) -> Built:
    built = _user(code)
    row = built.obj.role_assignments.get()
    return Built({"pk": built.obj.pk, "assignment": row.pk}, built.marker, row)


def _api_assignment(code: str) -> Built:
    built = _assignment(code)
    return Built({"user_id": built.kwargs["pk"], "assignment_id": built.obj.pk}, built.marker, built.obj)


def _region(code: str) -> Built:
    return Built({}, f"authz-new-{next(_n)}", code)


def _entry(code: str) -> Built:
    marker = f"authz-entry-{next(_n)}"
    with transaction.atomic():
        entry = audit.record(actor=None, action="test.authz", object_type="test", object_id=marker,
                             region_code=code)
    return Built({}, marker, entry)


def _create_payload(b: Built) -> dict[str, Any]:
    return {"username": b.marker, "password": STRONG, "role": "dispatcher", "region": b.obj}


def _created(b: Built) -> bool:
    return User.objects.filter(username=b.marker).exists()


def _grant_payload(b: Built) -> dict[str, Any]:
    return {"role": "auditor", "region": b.obj.role_assignments.get().region_code}


def _granted(b: Built) -> bool:
    return RoleAssignment.objects.filter(user=b.obj).count() != 1


def _revoked(b: Built) -> bool:
    return not RoleAssignment.objects.filter(pk=b.obj.pk).exists()


def _deactivated(b: Built) -> bool:
    return not User.objects.get(pk=b.obj.pk).is_active


def _password_payload(b: Built) -> dict[str, Any]:
    return {"new_password": "Another-Passw0rd-9", "new_password2": "Another-Passw0rd-9"}


def _password_changed(b: Built) -> bool:
    return User.objects.get(pk=b.obj.pk).check_password("Another-Passw0rd-9")


def _with_device(code: str) -> Built:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    built = _user(code)
    TOTPDevice.objects.create(user=built.obj, name="default", confirmed=True)
    return built


def _device_removed(b: Built) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return not TOTPDevice.objects.filter(user=b.obj).exists()


def _no_body(b: Built) -> dict[str, Any]:
    return {}


ROUTES: list[Route] = [
    # pages
    Route("accounts:user_list", "list", _listed_user),
    Route("accounts:user_detail", "detail", _user),
    Route("accounts:user_create", "action", _region, method="POST", payload=_create_payload, changed=_created),
    Route("accounts:role_grant", "action", _user, method="POST", payload=_grant_payload, changed=_granted),
    Route("accounts:role_revoke", "action", _assignment, method="POST", payload=_no_body, changed=_revoked),
    Route("accounts:user_deactivate", "action", _user, method="POST", payload=_no_body, changed=_deactivated),
    Route("accounts:user_password", "action", _user, method="POST", payload=_password_payload,
          changed=_password_changed),
    Route("accounts:user_otp_reset", "action", _with_device, method="POST", payload=_no_body,
          changed=_device_removed),
    Route("accounts:audit_log", "list", _entry),
    # API
    Route("accounts_list_users", "list", _listed_user, api=True),
    Route("accounts_get_user", "detail", _api_user, api=True),
    Route("accounts_create_user", "action", _region, api=True, method="POST", payload=_create_payload,
          changed=_created),
    Route("accounts_grant_role", "action", _api_user, api=True, method="POST", payload=_grant_payload,
          changed=_granted),
    Route("accounts_revoke_role", "action", _api_assignment, api=True, method="DELETE", payload=_no_body,
          changed=_revoked),
    Route("accounts_deactivate_user", "action", _api_user, api=True, method="POST", payload=_no_body,
          changed=_deactivated),
    Route("core_list_audit", "list", _entry, api=True),
]

# Routes that act only on the caller's own account (no region scope); accepted by the matrix test.
UNSCOPED: dict[str, str] = {
    "accounts:me": "the caller's own account page",
    "accounts:password_change": "changes the caller's own password",
    "accounts:token_create": "creates a token for the caller",
    "accounts:token_revoke": "revokes one of the caller's own tokens (others' answer 404)",
    "accounts:otp_setup": "the caller's own second factor",
    "accounts_me": "the caller's own identity, roles and prefixes",
}
