import datetime as dt
import time

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from shanzhi.accounts import services
from shanzhi.accounts.models import User
from shanzhi.accounts.passwords import PolicyValidator
from shanzhi.core.models import AuditEntry
from shanzhi.testing.factories import PASSWORD

LOGIN = "/accounts/login/"


def _code(device, offset=0):
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, offset):06d}"


def _login(client, username, password=PASSWORD, next_url="/"):
    return client.post(LOGIN, {"username": username, "password": password, "next": next_url})


def test_passwords_are_hashed_with_argon2(tree, make_user):
    """The production setting: Argon2 first (the test suite swaps in a fast hasher elsewhere)."""
    from shanzhi import settings as production

    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        user = make_user("grid_worker", tree.village_a1a1)
        assert identify_hasher(user.password).algorithm == "argon2"


def test_login_and_wrong_password(client, tree, make_user):
    user = make_user("grid_worker", tree.village_a1a1)
    response = _login(client, user.username, "wrong-Password-1")
    assert response.status_code == 401 and "_auth_user_id" not in client.session
    response = _login(client, user.username)
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)


def test_lockout_refuses_even_the_right_password_until_it_expires(client, tree, make_user, settings):
    settings.SHANZHI_LOCKOUT_FAILURES = 3
    user = make_user("grid_worker", tree.village_a1a1)
    for _ in range(3):
        assert _login(client, user.username, "nope-Nope-123").status_code == 401
    user.refresh_from_db()
    assert user.locked_until and user.locked_until > timezone.now()
    assert AuditEntry.objects.filter(action="accounts.user.locked", object_id=str(user.pk)).count() == 1
    response = _login(client, user.username)
    assert response.status_code == 403 and "_auth_user_id" not in client.session
    # the lock expires
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert _login(client, user.username).status_code == 302
    user.refresh_from_db()
    assert user.failed_logins == 0 and user.locked_until is None


def test_unknown_username_counts_nothing(client, db):
    assert _login(client, "ghost").status_code == 401
    assert not AuditEntry.objects.exists()


def test_empty_login_form_is_422(client, db):
    assert client.post(LOGIN, {}).status_code == 422


def test_next_must_stay_on_this_site(client, tree, make_user):
    user = make_user("grid_worker", tree.village_a1a1)
    response = _login(client, user.username, next_url="https://evil.example/")
    assert response["Location"] == "/"


def test_idle_session_is_logged_out(client, tree, make_user, settings):
    user = make_user("grid_worker", tree.village_a1a1)
    client.force_login(user)
    assert client.get("/").status_code == 200
    session = client.session
    session["shanzhi_last_seen"] = int(time.time()) - settings.SHANZHI_IDLE_TIMEOUT_MINUTES * 60 - 5
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and "idle=1" in response["Location"]
    assert "_auth_user_id" not in client.session


def test_recent_session_stays(client, tree, make_user):
    user = make_user("grid_worker", tree.village_a1a1)
    client.force_login(user)
    session = client.session
    session["shanzhi_last_seen"] = int(time.time()) - 120
    session.save()
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("official", "password", "ok"),
    [
        (False, "abcdefg1", True),  # resident: 8 characters, two kinds
        (False, "abcdefgh", False),
        (False, "abc12", False),
        (True, "abcdefg1", False),  # official: too short
        (True, "abcdefghijk1", False),  # official: only two kinds
        (True, "Abcdefghijk1", True),
    ],
)
def test_password_policy_profiles(tree, make_user, official, password, ok):
    user = make_user("town_admin" if official else "resident", tree.town_a1a if official else tree.village_a1a1)
    validator = PolicyValidator()
    if ok:
        validator.validate(password, user)
    else:
        with pytest.raises(ValidationError):
            validator.validate(password, user)


# --- second factor ---------------------------------------------------------------------------------------------

@pytest.fixture
def official_with_device(tree, make_user):
    user = make_user("town_admin", tree.town_a1a)
    device = TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    return user, device


def test_official_with_device_must_enter_a_code(client, official_with_device, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp slows retries down after a failure; not under test here
    user, device = official_with_device
    response = _login(client, user.username, next_url="/accounts/me/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:otp"))
    assert "_auth_user_id" not in client.session  # not logged in yet
    assert client.get("/").status_code == 302
    response = client.post(reverse("accounts:otp"), {"code": "000000" if _code(device) != "000000" else "111111",
                                                     "next": "/accounts/me/"})
    assert response.status_code == 401 and "_auth_user_id" not in client.session
    response = client.post(reverse("accounts:otp"), {"code": _code(device), "next": "/accounts/me/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/me/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/accounts/me/").status_code == 200


def test_code_cannot_be_replayed(client, official_with_device):
    user, device = official_with_device
    code = _code(device)
    _login(client, user.username)
    assert client.post(reverse("accounts:otp"), {"code": code}).status_code == 302
    client.logout()
    _login(client, user.username)
    assert client.post(reverse("accounts:otp"), {"code": code}).status_code == 401


def test_bad_code_input_is_refused(client, official_with_device):
    user, _device = official_with_device
    _login(client, user.username)
    for bad in ["", "abcdef", "1234567", "12 34"]:
        assert client.post(reverse("accounts:otp"), {"code": bad}).status_code == 401
    assert "_auth_user_id" not in client.session


def test_retry_right_after_a_wrong_code_is_throttled(client, official_with_device):
    user, device = official_with_device
    _login(client, user.username)
    client.post(reverse("accounts:otp"), {"code": "000000" if _code(device) != "000000" else "111111"})
    assert client.post(reverse("accounts:otp"), {"code": _code(device)}).status_code == 401


def test_otp_failures_lock_the_account(client, official_with_device, settings):
    settings.SHANZHI_LOCKOUT_FAILURES = 2
    user, device = official_with_device
    _login(client, user.username)
    wrong = "000000" if _code(device) != "000000" else "111111"
    client.post(reverse("accounts:otp"), {"code": wrong})
    client.post(reverse("accounts:otp"), {"code": wrong})
    assert client.post(reverse("accounts:otp"), {"code": _code(device)}).status_code == 403
    assert "_auth_user_id" not in client.session


def test_otp_page_without_pending_login_goes_to_login(client, db):
    assert client.get(reverse("accounts:otp"))["Location"] == reverse("accounts:login")


def test_enrol_then_login_with_the_device(client, tree, make_user):
    user = make_user("village_admin", tree.village_a1a1)
    client.force_login(user)
    page = client.get(reverse("accounts:otp_setup"))
    assert page.status_code == 200 and b"<svg" in page.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert services.has_confirmed_device(user) is False
    assert client.post(reverse("accounts:otp_setup"), {"code": "12"}).status_code == 422
    response = client.post(reverse("accounts:otp_setup"), {"code": _code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed and AuditEntry.objects.filter(action="accounts.otp.confirm").exists()
    client.logout()
    _login(client, user.username)
    assert "_auth_user_id" not in client.session
    assert client.post(reverse("accounts:otp"), {"code": _code(device, offset=1)}).status_code == 302


def test_require_2fa_gates_officials_but_not_residents(client, tree, make_user, settings):
    settings.SHANZHI_REQUIRE_2FA = True
    official = make_user("town_admin", tree.town_a1a)
    client.force_login(official)
    # pages, and the JSON routes outside /api/v1/ that accept a session (Alertmanager API reads)
    for path in ["/", "/accounts/me/", "/accounts/users/", "/accounts/audit/", "/api/v2/alerts",
                 "/api/v2/silences"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:otp")), path
    page = client.get(reverse("accounts:otp"))
    assert page.status_code == 200 and reverse("accounts:otp_setup").encode() in page.content
    assert client.get(reverse("accounts:otp_setup")).status_code == 200
    # the session does not open the API either
    assert client.get("/api/v1/me").status_code == 401
    device = TOTPDevice.objects.get(user=official)
    client.post(reverse("accounts:otp_setup"), {"code": _code(device)})
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    resident = make_user("resident", tree.village_a1a1)
    client.force_login(resident)
    assert client.get("/").status_code == 200


def test_logout_needs_post(client, tree, make_user):
    client.force_login(make_user("resident", tree.village_a1a1))
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_an_unverified_session_cannot_replace_the_device(client, official_with_device):
    user, device = official_with_device
    client.force_login(user)  # authenticated, but no code entered in this session
    response = client.get(reverse("accounts:otp_setup"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:otp"))
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    assert client.post(reverse("accounts:otp"), {"code": _code(device)}).status_code == 302
    assert client.get(reverse("accounts:otp_setup")).status_code == 200  # verified now
