"""A resident's own pages: reports, ratings (logged in and by link), personal data and corrections."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from shanzhi.core.models import AuditEntry
from shanzhi.events.models import Event, Status
from shanzhi.people.models import Resident
from shanzhi.portal.models import CorrectionRequest
from shanzhi.testing import factories

from . import helpers

pytestmark = pytest.mark.django_db

PNG = (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_report_a_problem_with_a_photo(tree: factories.Tree) -> None:
    _resident, user = helpers.resident_user(tree.village_a1a1)
    client = _client(user)
    assert client.get(reverse("portal:report_new")).status_code == 200
    answer = client.post(reverse("portal:report_new"), {
        "title": "路灯不亮", "category": "exposed_garbage", "description": "村口路灯坏了", "address": "村口",
        "photo": SimpleUploadedFile("p.png", PNG, content_type="image/png"),
    })
    event = Event.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse("portal:my_report", args=[event.pk])
    assert event.source == "resident" and event.reporter_id == user.pk and event.region_code == tree.village_a1a1
    assert event.attachments.count() == 1
    page = client.get(reverse("portal:my_report", args=[event.pk])).content.decode()
    assert "路灯不亮" in page and event.number in page


@pytest.mark.parametrize(("data", "field"), [
    ({"title": "", "category": "exposed_garbage"}, "title"),
    ({"title": "x", "category": "no_such"}, "category"),
])
def test_report_bad_input_changes_nothing(tree: factories.Tree, data: dict[str, str], field: str) -> None:
    _resident, user = helpers.resident_user(tree.village_a1a1)
    answer = _client(user).post(reverse("portal:report_new"), data)
    assert answer.status_code == 422
    assert Event.objects.count() == 0


def test_a_bad_photo_creates_no_event(tree: factories.Tree) -> None:
    _resident, user = helpers.resident_user(tree.village_a1a1)
    answer = _client(user).post(reverse("portal:report_new"), {
        "title": "x", "category": "exposed_garbage",
        "photo": SimpleUploadedFile("p.exe", b"MZ" + b"\x00" * 20)})
    assert answer.status_code == 422 and Event.objects.count() == 0


def test_my_reports_lists_only_mine_with_few_queries(tree: factories.Tree,
                                                     django_assert_max_num_queries: Any) -> None:
    _r, me = helpers.resident_user(tree.village_a1a1)
    _r2, neighbour = helpers.resident_user(tree.village_a1a1)  # same village, still not mine
    mine = [helpers.report(me, title=f"我的-{i}") for i in range(5)]
    theirs = helpers.report(neighbour, title="邻居的报告")
    client = _client(me)
    with django_assert_max_num_queries(10):
        page = client.get(reverse("portal:my_reports")).content.decode()
    assert all(e.title in page for e in mine) and theirs.title not in page
    assert client.get(reverse("portal:my_report", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("portal:my_report_rate", args=[theirs.pk]), {"rating": "5"}).status_code == 404


def test_rate_a_closed_report_once(tree: factories.Tree) -> None:
    _r, me = helpers.resident_user(tree.village_a1a1)
    event = helpers.report(me)
    client = _client(me)
    # not closed yet
    answer = client.post(reverse("portal:my_report_rate", args=[event.pk]), {"rating": "5"})
    assert answer.status_code == 409 and Event.objects.get(pk=event.pk).rating is None
    helpers.close(event)
    for bad in ("0", "6", "x", ""):
        answer = client.post(reverse("portal:my_report_rate", args=[event.pk]), {"rating": bad})
        assert answer.status_code == 422 and Event.objects.get(pk=event.pk).rating is None
    answer = client.post(reverse("portal:my_report_rate", args=[event.pk]), {"rating": "4", "comment": "好"})
    assert answer.status_code == 302
    event.refresh_from_db()
    assert event.rating == 4 and event.status == Status.RATED
    answer = client.post(reverse("portal:my_report_rate", args=[event.pk]), {"rating": "1"})
    assert answer.status_code == 409
    event.refresh_from_db()
    assert event.rating == 4 and event.status == Status.RATED


def test_rating_link_without_login_is_one_time(tree: factories.Tree) -> None:
    _r, me = helpers.resident_user(tree.village_a1a1)
    event = helpers.close(helpers.report(me))
    url = reverse("portal:rate_token", args=[event.rate_token])
    anon = Client()
    assert 'name="rating"' in anon.get(url).content.decode()
    answer = anon.post(url, {"rating": "9"})
    assert answer.status_code == 200 and Event.objects.get(pk=event.pk).rating is None
    answer = anon.post(url, {"rating": "5", "comment": "满意"})
    assert b'data-testid="thanks"' in answer.content
    event.refresh_from_db()
    assert event.rating == 5 and event.status == Status.RATED
    # replay: the link now only shows the rating
    answer = anon.post(url, {"rating": "1"})
    assert answer.status_code == 200 and 'name="rating"' not in answer.content.decode()
    event.refresh_from_db()
    assert event.rating == 5
    assert b'data-testid="rating"' in anon.get(url).content
    assert AuditEntry.objects.filter(action="events.event.rate").count() == 1


def test_rating_link_with_a_wrong_token_or_open_event(tree: factories.Tree) -> None:
    _r, me = helpers.resident_user(tree.village_a1a1)
    event = helpers.report(me)
    anon = Client()
    assert anon.get(reverse("portal:rate_token", args=["x" * 43])).status_code == 404
    assert anon.get(reverse("portal:rate_token", args=["short"])).status_code == 404
    url = reverse("portal:rate_token", args=[event.rate_token])
    answer = anon.post(url, {"rating": "5"})
    assert answer.status_code == 200 and Event.objects.get(pk=event.pk).rating is None
    assert 'name="rating"' not in anon.get(url).content.decode()


def test_my_data_is_unmasked_to_me_and_audited(tree: factories.Tree) -> None:
    resident, me = helpers.resident_user(tree.village_a1a1, name="李小明", address="测试路8号")
    other, _u = helpers.resident_user(tree.village_a1a1, name="王大力")
    page = _client(me).get(reverse("portal:my_data")).content.decode()
    assert "李小明" in page and resident.id_number in page and resident.phone in page and "测试路8号" in page
    assert "王大力" not in page and other.id_number not in page and other.phone not in page
    entry = AuditEntry.objects.get(action="people.resident.self_view")
    assert entry.object_id == str(resident.pk) and entry.actor_id == me.pk


def test_correction_request_and_its_bad_inputs(tree: factories.Tree) -> None:
    resident, me = helpers.resident_user(tree.village_a1a1, address="旧地址1号")
    client = _client(me)
    url = reverse("portal:my_corrections")
    bad = [
        {"field": "password", "requested": "x", "reason": "r"},  # a field that does not exist
        {"field": "is_party_member", "requested": "1", "reason": "r"},  # exists, but not correctable here
        {"field": "address", "requested": "", "reason": "r"},
        {"field": "address", "requested": "新地址", "reason": ""},
        {"field": "address", "requested": "旧地址1号", "reason": "r"},  # unchanged
        {"field": "phone", "requested": "12345", "reason": "r"},  # invalid phone
        {"field": "id_number", "requested": "110101199001011234", "reason": "r"},  # bad check digit
    ]
    for data in bad:
        answer = client.post(url, data)
        assert answer.status_code == 422, data
    assert CorrectionRequest.objects.count() == 0
    answer = client.post(url, {"field": "address", "requested": "新地址2号", "reason": "搬家了"})
    row = CorrectionRequest.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse("portal:my_correction", args=[row.pk])
    assert row.current == "旧地址1号" and row.status == "pending" and row.region_code == resident.region_code
    # a second pending request for the same field is refused
    answer = client.post(url, {"field": "address", "requested": "新地址3号", "reason": "再改"})
    assert answer.status_code == 422 and CorrectionRequest.objects.count() == 1
    assert "新地址2号" in client.get(reverse("portal:my_correction", args=[row.pk])).content.decode()
    # another resident cannot see it
    _o, other = helpers.resident_user(tree.village_a1a1)
    assert _client(other).get(reverse("portal:my_correction", args=[row.pk])).status_code == 404
    assert "新地址2号" not in _client(other).get(url).content.decode()


def test_pages_need_a_login(db: Any) -> None:
    for name in ("portal:me", "portal:report_new", "portal:my_reports", "portal:my_data", "portal:my_corrections"):
        answer = Client().get(reverse(name))
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("portal:login"))


def test_resident_record_is_unchanged_until_staff_accept(tree: factories.Tree) -> None:
    resident, me = helpers.resident_user(tree.village_a1a1, address="旧地址")
    _client(me).post(reverse("portal:my_corrections"), {"field": "address", "requested": "新地址",
                                                        "reason": "r"})
    assert Resident.objects.get(pk=resident.pk).address == "旧地址"
