"""Phone + one-time code login: codes, expiry, attempts, rate limits, and never revealing who is registered."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.core.models import AuditEntry
from shanzhi.people.tests.helpers import make_resident
from shanzhi.portal import services
from shanzhi.portal.models import LoginCode, PortalAccount
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


def _code(outbox: list[tuple[str, str]]) -> str:
    _phone, text = outbox[-1]
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def _ask(client: Client, phone: str, ip: str = "10.0.0.1") -> Any:
    return client.post(reverse("portal:login"), {"phone": phone}, REMOTE_ADDR=ip)


def test_first_login_creates_and_links_a_resident_account(tree: factories.Tree, outbox: Any) -> None:
    resident = make_resident(tree.village_a1a1, phone=PHONE, name="张测试")
    client = Client()
    answer = _ask(client, PHONE)
    assert answer.status_code == 302 and answer["Location"] == reverse("portal:login_code")
    assert outbox[-1][0] == PHONE
    row = LoginCode.objects.get()
    assert row.code_hash and _code(outbox) not in row.code_hash  # hashed at rest
    answer = client.post(reverse("portal:login_code"), {"code": _code(outbox)})
    assert answer.status_code == 302 and answer["Location"] == reverse("portal:me")
    link = PortalAccount.objects.select_related("user").get(resident=resident)
    assert link.region_code == tree.village_a1a1
    assert list(RoleAssignment.objects.filter(user=link.user).values_list("role", "region_code")) == [
        ("resident", tree.village_a1a1)]
    assert link.user.display_name == "张**"
    assert AuditEntry.objects.filter(action="portal.account.link").count() == 1
    assert client.get(reverse("portal:me")).status_code == 200
    # a second login finds the same account
    LoginCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=2))
    other = Client()
    _ask(other, PHONE)
    other.post(reverse("portal:login_code"), {"code": _code(outbox)})
    assert User.objects.filter(portal_account__resident=resident).count() == 1
    assert other.get(reverse("portal:me")).status_code == 200


def test_an_unknown_phone_gets_the_same_answer_and_no_sms(tree: factories.Tree, outbox: Any) -> None:
    make_resident(tree.village_a1a1, phone=PHONE)
    known = _ask(Client(), PHONE, ip="10.0.0.1")
    unknown_client = Client()
    unknown = _ask(unknown_client, "13800000000", ip="10.0.0.2")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert len(outbox) == 1
    page = unknown_client.get(reverse("portal:login_code")).content.decode()
    assert "138****0000" in page
    # no code can log in as nobody
    for guess in ("000000", "123456"):
        answer = unknown_client.post(reverse("portal:login_code"), {"code": guess})
        assert answer.status_code == 200 and "_auth_user_id" not in unknown_client.session
    assert User.objects.count() == 0


def test_wrong_code_then_too_many_attempts(tree: factories.Tree, outbox: Any) -> None:
    make_resident(tree.village_a1a1, phone=PHONE)
    client = Client()
    _ask(client, PHONE)
    good = _code(outbox)
    bad = "000000" if good != "000000" else "111111"
    for _i in range(services.MAX_ATTEMPTS):
        answer = client.post(reverse("portal:login_code"), {"code": bad})
        assert answer.status_code == 200 and "_auth_user_id" not in client.session
    assert LoginCode.objects.get().attempts == services.MAX_ATTEMPTS
    answer = client.post(reverse("portal:login_code"), {"code": good})  # even the right code is refused now
    assert "_auth_user_id" not in client.session
    assert User.objects.count() == 0
    with pytest.raises(services.CodeRejected):
        services.code_verify(phone=PHONE, code=good)


def test_an_expired_code_is_refused(tree: factories.Tree, outbox: Any) -> None:
    make_resident(tree.village_a1a1, phone=PHONE)
    services.code_request(phone=PHONE, ip="10.0.0.1")
    code = _code(outbox)
    later = timezone.now() + services.CODE_TTL + dt.timedelta(seconds=1)
    with pytest.raises(services.CodeRejected):
        services.code_verify(phone=PHONE, code=code, now=later)
    assert User.objects.count() == 0
    user = services.code_verify(phone=PHONE, code=code)  # within five minutes it works, once
    assert user.pk
    with pytest.raises(services.CodeRejected):
        services.code_verify(phone=PHONE, code=code)


def test_rate_limits_per_phone_and_per_ip(tree: factories.Tree, outbox: Any) -> None:
    make_resident(tree.village_a1a1, phone=PHONE)
    now = timezone.now()
    services.code_request(phone=PHONE, ip="10.0.0.1", now=now)
    with pytest.raises(services.TooManyRequests):
        services.code_request(phone=PHONE, ip="10.0.0.9", now=now + dt.timedelta(seconds=30))
    with pytest.raises(services.TooManyRequests):  # another phone from the same connection at once
        services.code_request(phone="13700000001", ip="10.0.0.1", now=now + dt.timedelta(seconds=5))
    assert LoginCode.objects.count() == 1 and len(outbox) == 1
    for i in range(1, services.PHONE_PER_DAY):
        services.code_request(phone=PHONE, ip=f"10.1.0.{i}", now=now + dt.timedelta(minutes=2 * i))
    with pytest.raises(services.TooManyRequests):
        services.code_request(phone=PHONE, ip="10.2.0.1", now=now + dt.timedelta(hours=3))
    assert LoginCode.objects.count() == services.PHONE_PER_DAY
    # the page says so, and stores nothing
    answer = _ask(Client(), PHONE, ip="10.3.0.1")
    assert answer.status_code == 200 and LoginCode.objects.count() == services.PHONE_PER_DAY
    # per IP: many phones from one address
    for i in range(services.IP_PER_DAY - 0):
        try:
            services.code_request(phone=f"1360000{i:04d}", ip="10.9.9.9", now=now + dt.timedelta(minutes=i))
        except services.TooManyRequests:
            raise AssertionError(f"request {i} refused too early") from None
    with pytest.raises(services.TooManyRequests):
        services.code_request(phone="13500000000", ip="10.9.9.9", now=now + dt.timedelta(hours=2))


def test_bad_phone_input(tree: factories.Tree, outbox: Any) -> None:
    for phone in ("", "12345", "0571-12345678", "1391234567x"):
        answer = _ask(Client(), phone)
        assert answer.status_code == 200
        assert b'data-testid="error"' in answer.content
    assert LoginCode.objects.count() == 0 and not outbox


def test_a_phone_shared_by_two_residents_gets_no_code(tree: factories.Tree, outbox: Any) -> None:
    make_resident(tree.village_a1a1, phone=PHONE)
    make_resident(tree.village_a1a1, phone=PHONE)
    assert _ask(Client(), PHONE).status_code == 302
    assert not outbox


def test_code_page_without_a_pending_phone_goes_back(db: Any) -> None:
    answer = Client().get(reverse("portal:login_code"))
    assert answer.status_code == 302 and answer["Location"] == reverse("portal:login")


def test_password_login_for_residents(tree: factories.Tree) -> None:
    factories.make_user("resident", tree.village_a1a1, username="wang")
    client = Client()
    answer = client.post(reverse("portal:login_password"), {"username": "wang", "password": "wrong"})
    assert answer.status_code == 200 and "_auth_user_id" not in client.session
    answer = client.post(reverse("portal:login_password"), {"username": "wang", "password": factories.PASSWORD})
    assert answer.status_code == 302 and answer["Location"] == reverse("portal:me")
    # not linked to a record: the data page explains how to register
    page = client.get(reverse("portal:my_data"))
    assert page.status_code == 200 and b"data-testid=\"not-linked\"" in page.content


def test_a_taken_username_does_not_block_the_first_login(tree: factories.Tree) -> None:
    resident = make_resident(tree.village_a1a1, phone=PHONE)
    factories.make_user("resident", tree.village_a1a1, username=f"resident-{resident.pk}")
    user = services.account_for(resident=resident)
    assert user.username.startswith(f"resident-{resident.pk}-")
    assert services.account_for(resident=resident) == user
