"""Staff side: deciding correction requests (scoped, audited, applied through people.services), village settings."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from shanzhi.core.models import AuditEntry
from shanzhi.people.models import Resident
from shanzhi.portal.models import CorrectionRequest, GridContact, Notice, PortalSettings
from shanzhi.testing import factories

from . import helpers

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _request(tree: factories.Tree, field: str = "address", requested: str = "新地址9号") -> CorrectionRequest:
    resident, user = helpers.resident_user(tree.village_a1a1, address="旧地址1号", phone="13911112222")
    row = CorrectionRequest.objects.create(resident=resident, requested_by=user, field=field,
                                           current=str(getattr(resident, field)), requested=requested,
                                           reason="搬家", region_code=resident.region_code)
    return row


def test_staff_list_masks_values_and_pins_queries(tree: factories.Tree, django_assert_max_num_queries: Any) -> None:
    rows = [_request(tree) for _i in range(1)]
    for i in range(4):
        resident, user = helpers.resident_user(tree.village_a1a1, address=f"旧路{i}号")
        helpers.correction(resident, user)
    worker = factories.make_user("grid_worker", tree.village_a1a1)
    client = _client(worker)
    with django_assert_max_num_queries(10):
        page = client.get(reverse("portal:staff_corrections")).content.decode()
    assert page.count('data-testid="correction-row"') == 5
    assert "旧地址1号" not in page and "新地址9号" not in page  # masked in lists
    assert rows[0].resident.name not in page
    detail = client.get(reverse("portal:staff_correction", args=[rows[0].pk])).content.decode()
    assert "旧地址1号" not in detail and rows[0].resident.name not in detail


def test_accepting_applies_the_change_and_audits(tree: factories.Tree) -> None:
    row = _request(tree)
    worker = factories.make_user("grid_worker", tree.village_a1a1)
    answer = _client(worker).post(reverse("portal:staff_correction", args=[row.pk]),
                                  {"decision": "accept", "answer": "已核实"})
    assert answer.status_code == 302
    row.refresh_from_db()
    assert row.status == "accepted" and row.handled_by == worker and row.answer == "已核实"
    assert Resident.objects.get(pk=row.resident_id).address == "新地址9号"
    assert AuditEntry.objects.filter(action="people.resident.update", object_id=str(row.resident_id)).exists()
    assert AuditEntry.objects.filter(action="portal.correction.accept", object_id=str(row.pk)).exists()
    # deciding twice is refused and changes nothing
    answer = _client(worker).post(reverse("portal:staff_correction", args=[row.pk]), {"decision": "reject",
                                                                                     "answer": "x"})
    assert answer.status_code == 422
    assert CorrectionRequest.objects.get(pk=row.pk).status == "accepted"


def test_rejecting_needs_an_answer(tree: factories.Tree) -> None:
    row = _request(tree)
    worker = factories.make_user("grid_worker", tree.village_a1a1)
    client = _client(worker)
    for data in ({"decision": "reject"}, {"decision": "maybe"}, {}):
        assert client.post(reverse("portal:staff_correction", args=[row.pk]), data).status_code == 422
    assert CorrectionRequest.objects.get(pk=row.pk).status == "pending"
    assert client.post(reverse("portal:staff_correction", args=[row.pk]),
                       {"decision": "reject", "answer": "证件不符"}).status_code == 302
    assert CorrectionRequest.objects.get(pk=row.pk).status == "rejected"
    assert Resident.objects.get(pk=row.resident_id).address == "旧地址1号"


def test_an_accepted_request_that_became_invalid_changes_nothing(tree: factories.Tree) -> None:
    row = _request(tree, field="phone", requested="13900000000")
    CorrectionRequest.objects.filter(pk=row.pk).update(requested="not a phone")
    worker = factories.make_user("grid_worker", tree.village_a1a1)
    answer = _client(worker).post(reverse("portal:staff_correction", args=[row.pk]), {"decision": "accept"})
    assert answer.status_code == 422
    assert CorrectionRequest.objects.get(pk=row.pk).status == "pending"
    assert Resident.objects.get(pk=row.resident_id).phone == "13911112222"


def test_residents_and_readers_cannot_decide(tree: factories.Tree) -> None:
    row = _request(tree)
    for user in (row.requested_by, factories.make_user("auditor", tree.village_a1a1)):
        client = _client(user)
        assert client.get(reverse("portal:staff_corrections")).status_code == 403
        assert client.post(reverse("portal:staff_correction", args=[row.pk]),
                           {"decision": "accept"}).status_code == 404
    assert CorrectionRequest.objects.get(pk=row.pk).status == "pending"


def test_village_settings_and_notices(tree: factories.Tree) -> None:
    admin = factories.make_user("village_admin", tree.village_a1a1)
    grid = tree.grids[tree.village_a1a1]
    client = _client(admin)
    url = reverse("portal:staff_village", args=[tree.village_a1a1])
    assert client.get(url).status_code == 200
    answer = client.post(url, {"welcome": "欢迎", "duty_phone": "not a phone", f"grid_{grid.pk}": "0580-1234567"})
    assert answer.status_code == 422 and not PortalSettings.objects.exists() and not GridContact.objects.exists()
    answer = client.post(url, {"welcome": "欢迎来到测试一村", "duty_phone": "0580-8888888",
                               f"grid_{grid.pk}": "13800001111"})
    assert answer.status_code == 302
    assert PortalSettings.objects.get().duty_phone == "0580-8888888"
    assert GridContact.objects.get(grid=grid).duty_phone == "13800001111"
    assert AuditEntry.objects.filter(action="portal.settings.update").count() == 1
    new = reverse("portal:staff_notice_new", args=[tree.village_a1a1])
    assert client.post(new, {"title": ""}).status_code == 422 and not Notice.objects.exists()
    assert client.post(new, {"title": "停水通知", "body": "周三停水"}).status_code == 302
    notice = Notice.objects.get()
    public = Client().get(reverse("portal:village", args=[tree.village_a1a1])).content.decode()
    assert "欢迎来到测试一村" in public and "0580-8888888" in public and "13800001111" in public
    assert "停水通知" in public
    assert client.post(reverse("portal:staff_notice_withdraw", args=[notice.pk])).status_code == 302
    assert "停水通知" not in Client().get(reverse("portal:village", args=[tree.village_a1a1])).content.decode()
    # a grid worker may not edit the portal settings
    worker = _client(factories.make_user("grid_worker", tree.village_a1a1))
    assert worker.post(url, {"welcome": "x"}).status_code == 404
    assert PortalSettings.objects.get().welcome == "欢迎来到测试一村"
