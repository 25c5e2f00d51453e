"""The event pages: queues, the event page and its actions, the report form, statistics, notifications,
configuration and the home card — rendered for the right roles, 404 outside scope, bad input changes nothing."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shanzhi.core.models import AuditEntry
from shanzhi.events import services
from shanzhi.events.models import Attachment, CalendarDay, CalendarYear, Category, Event, Notification, Status
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def report(ev, title="路灯坏了", category="exposed_garbage", **extra):
    data = services.Intake(title=title, category=category, grid_id=ev.grid.pk, **extra)
    event, _ = services.event_create(actor=ev.grid_worker, data=data)
    return event


def login(client, user):
    client.force_login(user)
    return client


def _upload(name, data):
    f = io.BytesIO(data)
    f.name = name
    return f


# --- queues -------------------------------------------------------------------------------------------
def test_queue_renders_per_role_with_counts(client, ev):
    event = report(ev)
    login(client, ev.village_desk)
    page = client.get(reverse("events:queue"))
    assert page.status_code == 200
    body = page.content.decode()
    assert event.number in body and 'data-testid="tab-centre"' in body
    assert page.context["tabs"][1] == ("centre", "我所在中心的", 1)
    # the grid worker sees it under "reported by me"; the handler's own queue is empty
    login(client, ev.grid_worker)
    mine = client.get(reverse("events:queue"), {"queue": "reported_by_me"})
    assert event.number in mine.content.decode()
    login(client, ev.handler)
    handler = client.get(reverse("events:queue"), {"queue": "mine"})
    assert handler.status_code == 200 and event.number not in handler.content.decode()
    # the sibling village's desk sees nothing of it
    login(client, ev.other_desk)
    other = client.get(reverse("events:queue"))
    assert event.number not in other.content.decode()
    assert dict((k, n) for k, _label, n in other.context["tabs"])["all"] == 0


def test_queue_filters_and_bad_filter(client, ev):
    a = report(ev, title="垃圾堆放")
    b = report(ev, title="井盖缺失")
    login(client, ev.village_desk)
    body = client.get(reverse("events:queue"), {"queue": "all", "q": "井盖"}).content.decode()
    assert b.number in body and a.number not in body
    bad = client.get(reverse("events:queue"), {"queue": "all", "region": "12x", "date_from": "2026-02-01",
                                                "date_to": "2026-01-01"})
    assert bad.status_code == 200
    assert bad.context["form"].errors and a.number not in bad.content.decode()


def test_overdue_is_highlighted(client, ev):
    event = report(ev)
    Event.objects.filter(pk=event.pk).update(overdue=True, deadline_at=timezone.now() - dt.timedelta(hours=2))
    login(client, ev.village_desk)
    body = client.get(reverse("events:queue"), {"queue": "overdue"}).content.decode()
    assert event.number in body and "ev-row-overdue" in body and 'data-testid="overdue"' in body


def _queue_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("events:queue"), {"queue": "all"}).status_code == 200
    return len(ctx.captured_queries)


def test_queue_query_count_is_pinned(client, ev):
    report(ev)
    login(client, ev.village_desk)
    _queue_queries(client)  # warm the per-process caches (sessions, content types)
    few = _queue_queries(client)
    for i in range(12):
        report(ev, title=f"事件{i}")
    assert _queue_queries(client) == few
    assert few <= 12


# --- the event page -----------------------------------------------------------------------------------
def test_detail_renders_and_is_404_outside_scope(client, ev):
    event = report(ev, reporter_name="张三丰", reporter_phone="13812345678", lat=30.01, lng=122.1)
    login(client, ev.village_desk)
    page = client.get(reverse("events:detail", args=[event.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert event.title in body and 'id="event-map"' in body
    assert "13812345678" not in body and "138****5678" in body and "张三丰" not in body
    assert {f.action for f in page.context["forms"]} == {"accept", "reject", "hand_down", "escalate", "void"}
    login(client, ev.other_desk)
    assert client.get(reverse("events:detail", args=[event.pk])).status_code == 404
    assert client.get(reverse("events:detail", args=[999999])).status_code == 404
    # the grid worker who reported may read it but has no action on it now
    login(client, ev.grid_worker)
    own = client.get(reverse("events:detail", args=[event.pk]))
    assert own.status_code == 200 and own.context["forms"] == []


def test_detail_query_count_does_not_grow_with_timeline(client, ev):
    event = report(ev)
    login(client, ev.village_desk)
    with CaptureQueriesContext(connection) as first:
        client.get(reverse("events:detail", args=[event.pk]))
    services.event_transition(event_id=event.pk, actor=ev.village_desk, action="accept")
    services.event_transition(event_id=event.pk, actor=ev.village_desk, action="suspend", opinion="等待")
    services.event_transition(event_id=event.pk, actor=ev.village_desk, action="resume")
    with CaptureQueriesContext(connection) as second:
        client.get(reverse("events:detail", args=[event.pk]))
    assert len(second.captured_queries) <= len(first.captured_queries) + 4  # dispatch/reroute choices appear
    assert len(second.captured_queries) <= 30


def test_accept_dispatch_handle_verify_close_rate(client, ev):
    event = report(ev)
    login(client, ev.village_desk)
    r = client.post(reverse("events:act", args=[event.pk, "accept"]), {"accept-opinion": "收到"})
    assert r.status_code == 302
    event.refresh_from_db()
    assert event.status == Status.ACCEPTED
    page = client.get(reverse("events:detail", args=[event.pk]))
    dispatch = next(f for f in page.context["forms"] if f.action == "dispatch")
    assert ev.handler.pk in [k for k, _v in dispatch.fields["assignee_id"].choices if k]
    r = client.post(reverse("events:act", args=[event.pk, "dispatch"]), {"dispatch-assignee_id": ev.handler.pk})
    assert r.status_code == 302
    event.refresh_from_db()
    assert event.status == Status.DISPATCHED and event.assignee_id == ev.handler.pk
    login(client, ev.handler)
    client.post(reverse("events:act", args=[event.pk, "start"]), {})
    # handle needs an opinion: error, nothing changes
    r = client.post(reverse("events:act", args=[event.pk, "handle"]), {"handle-opinion": ""})
    assert r.status_code == 422 and "此项必填" in r.content.decode()
    event.refresh_from_db()
    assert event.status == Status.IN_PROGRESS
    client.post(reverse("events:act", args=[event.pk, "handle"]), {"handle-opinion": "已清理"})
    login(client, ev.grid_worker)
    client.post(reverse("events:act", args=[event.pk, "verify_pass"]), {})
    login(client, ev.village_desk)
    client.post(reverse("events:act", args=[event.pk, "close"]), {})
    event.refresh_from_db()
    assert event.status == Status.CLOSED
    # only the reporter may rate
    page = client.get(reverse("events:detail", args=[event.pk]))
    assert "rate" not in [f.action for f in page.context["forms"]]
    assert client.post(reverse("events:act", args=[event.pk, "rate"]), {"rate-rating": 5}).status_code == 422
    login(client, ev.grid_worker)
    bad = client.post(reverse("events:act", args=[event.pk, "rate"]), {"rate-rating": 9})
    assert bad.status_code == 422
    client.post(reverse("events:act", args=[event.pk, "rate"]), {"rate-rating": 5, "rate-comment": "好"})
    event.refresh_from_db()
    assert event.status == Status.RATED and event.rating == 5
    timeline = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert timeline.count('data-testid="timeline-entry"') == 8 and "已清理" in timeline


def test_service_errors_show_in_chinese_and_change_nothing(client, ev):
    event = report(ev)
    login(client, ev.village_desk)
    client.post(reverse("events:act", args=[event.pk, "accept"]), {})
    # dispatch with neither a handler nor a department: the service refuses
    r = client.post(reverse("events:act", args=[event.pk, "dispatch"]), {})
    assert r.status_code == 422 and "请选择处置人或部门" in r.content.decode()
    # an action not allowed in this state
    r = client.post(reverse("events:act", args=[event.pk, "close"]), {})
    assert r.status_code == 422 and "当前状态" in r.content.decode()
    # a handler who is not competent
    outsider = factories.make_user("handler", ev.tree.village_a1a2)
    r = client.post(reverse("events:act", args=[event.pk, "dispatch"]), {"dispatch-assignee_id": outsider.pk})
    assert r.status_code == 422
    event.refresh_from_db()
    assert event.status == Status.ACCEPTED and event.assignee_id is None
    # a bad extension date on a dispatched event
    client.post(reverse("events:act", args=[event.pk, "dispatch"]), {"dispatch-assignee_id": ev.handler.pk})
    login(client, ev.handler)
    r = client.post(reverse("events:act", args=[event.pk, "request_extension"]),
                    {"request_extension-opinion": "要等材料", "request_extension-until": "2000-01-01T08:00"})
    assert r.status_code == 422
    event.refresh_from_db()
    assert event.extension_requested_until is None


def test_actions_outside_scope_are_404(client, ev):
    event = report(ev)
    login(client, ev.other_desk)
    r = client.post(reverse("events:act", args=[event.pk, "accept"]), {})
    assert r.status_code == 404
    event.refresh_from_db()
    assert event.status == Status.REPORTED


def test_attachments_download_and_scope(client, ev):
    event = report(ev)
    login(client, ev.grid_worker)
    r = client.post(reverse("events:attachment_add", args=[event.pk]), {"file": _upload("a.png", PNG)})
    assert r.status_code == 302
    bad = client.post(reverse("events:attachment_add", args=[event.pk]), {"file": _upload("a.exe", b"MZ\x90")})
    assert bad.status_code == 422 and Attachment.objects.count() == 1
    row = Attachment.objects.get()
    login(client, ev.village_desk)
    page = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert 'class="ev-thumb"' in page
    got = client.get(reverse("events:attachment", args=[event.pk, row.pk]))
    assert got.status_code == 200 and b"".join(got.streaming_content) == PNG
    login(client, ev.other_desk)
    assert client.get(reverse("events:attachment", args=[event.pk, row.pk])).status_code == 404


def test_duplicates_and_merge(client, ev):
    first = report(ev, title="垃圾一")
    second = report(ev, title="垃圾二")
    login(client, ev.village_desk)
    page = client.get(reverse("events:detail", args=[second.pk]))
    assert first in page.context["duplicates"] and page.context["can_merge"]
    bad = client.post(reverse("events:merge", args=[second.pk]), {"into": second.pk})
    assert bad.status_code == 422
    second.refresh_from_db()
    assert second.status == Status.REPORTED
    r = client.post(reverse("events:merge", args=[second.pk]), {"into": first.pk})
    assert r.status_code == 302
    second.refresh_from_db()
    assert second.status == Status.VOIDED and second.duplicate_of_id == first.pk


# --- the report form ----------------------------------------------------------------------------------
def test_report_form_is_small_and_preselects_the_grid(client, ev):
    login(client, ev.grid_worker)
    page = client.get(reverse("events:report"))
    assert page.status_code == 200
    body = page.content.decode()
    # the page with every stylesheet and script it loads stays under 100 KB (a phone on a weak connection)
    import re

    from django.contrib.staticfiles import finders

    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', body)
    assert "events/report.js" in assets and not any("leaflet" in a or "echarts" in a for a in assets)
    total = len(page.content)
    for asset in assets:
        found = finders.find(asset)
        assert isinstance(found, str)
        total += Path(found).stat().st_size
    assert total < 100_000
    assert 'capture="environment"' in body and 'accept="image/*"' in body
    assert page.context["form"].initial["grid"] == ev.grid.pk
    login(client, ev.handler)
    assert client.get(reverse("events:report")).status_code == 404


def _form(ev, **extra):
    data = {"category": "exposed_garbage", "title": "河道垃圾", "description": "桥下", "grid": ev.grid.pk,
            "lat": "30.01", "lng": "122.10", "idempotency_key": "k-123"}
    data.update(extra)
    return data


def test_report_creates_once_and_redirects(client, ev):
    login(client, ev.grid_worker)
    r = client.post(reverse("events:report"), _form(ev, photo=_upload("p.png", PNG)))
    assert r.status_code == 302, r.content.decode()[:2000]
    event = Event.objects.get()
    assert r["Location"] == reverse("events:detail", args=[event.pk]) + "?new=1"
    assert event.lat == 30.01 and event.grid_id == ev.grid.pk and event.attachments.count() == 1
    again = client.post(reverse("events:report"), _form(ev, photo=_upload("p.png", PNG)))
    assert again.status_code == 302 and Event.objects.count() == 1 and Attachment.objects.count() == 1


@pytest.mark.parametrize(("extra", "field"), [
    ({"title": ""}, "title"),
    ({"category": "nope"}, "category"),
    ({"grid": ""}, "grid"),
    ({"lat": "95", "lng": "122"}, "lat"),
    ({"lng": ""}, "lat"),
])
def test_report_bad_input_changes_nothing(client, ev, extra, field):
    login(client, ev.grid_worker)
    r = client.post(reverse("events:report"), _form(ev, **extra))
    assert r.status_code == 422
    assert field in r.context["form"].errors
    assert Event.objects.count() == 0


def test_report_bad_photo_changes_nothing(client, ev):
    login(client, ev.grid_worker)
    r = client.post(reverse("events:report"), _form(ev, photo=_upload("p.png", b"not an image")))
    assert r.status_code == 422 and "photo" in r.context["form"].errors and Event.objects.count() == 0


def test_report_custom_fields_of_the_category(client, ev):
    login(client, ev.grid_worker)
    fields = client.get(reverse("events:report_fields"), {"category": "neighbour_dispute"}).content.decode()
    assert 'name="custom_parties"' in fields
    r = client.post(reverse("events:report"), _form(ev, category="neighbour_dispute", title="邻里吵架"))
    assert r.status_code == 422 and "custom_parties" in r.context["form"].errors and Event.objects.count() == 0
    r = client.post(reverse("events:report"), _form(ev, category="neighbour_dispute", title="邻里吵架",
                                                    custom_parties="2"))
    assert r.status_code == 302
    assert Event.objects.get().custom == {"parties": 2}


def test_report_out_of_scope_grid_changes_nothing(client, ev):
    login(client, ev.grid_worker)
    other_grid = ev.tree.grids[ev.tree.village_a1a2]
    r = client.post(reverse("events:report"), _form(ev, grid=other_grid.pk))
    assert r.status_code == 422 and Event.objects.count() == 0


# --- statistics -----------------------------------------------------------------------------------------
def test_stats_page_drill_and_scope(client, ev):
    e = report(ev, lat=30.0, lng=122.0)
    login(client, ev.town_desk)
    page = client.get(reverse("events:stats"))
    assert page.status_code == 200
    figures = page.context["figures"]
    assert figures["created"] == 1
    body = page.content.decode()
    assert 'id="stats-data"' in body and "小事不出村" in body
    assert f"?region={ev.tree.village_a1a1}" in body  # the child table links down
    assert page.context["charts"]["map"]["points"][0]["number"] == e.number
    village = client.get(reverse("events:stats"), {"region": ev.tree.village_a1a1})
    assert village.status_code == 200 and village.context["figures"]["created"] == 1
    assert client.get(reverse("events:stats"), {"region": ev.tree.town_a1b}).status_code == 404
    assert client.get(reverse("events:stats"), {"region": ev.tree.village_b1}).status_code == 404
    bad = client.get(reverse("events:stats"), {"date_from": "2026-05-01", "date_to": "2026-01-01"})
    assert bad.status_code == 200 and bad.context["figures"] is None and bad.context["form"].errors
    login(client, ev.handler)
    assert client.get(reverse("events:stats")).status_code == 404


def test_stats_export(client, ev):
    report(ev)
    login(client, ev.town_desk)
    r = client.get(reverse("events:stats_export"))
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    cells = [c for row in book.worksheets[0].iter_rows(values_only=True) for c in row if c is not None]
    assert ev.tree.village_a1a1 in cells and "测试一村" in cells


def test_stats_query_count_is_pinned(client, ev):
    login(client, ev.town_desk)
    report(ev, lat=30.0, lng=122.0)
    client.get(reverse("events:stats"))  # warm the per-process caches
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("events:stats"))
    for i in range(10):
        report(ev, title=f"x{i}", lat=30.0 + i / 100, lng=122.0)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("events:stats"))
    assert len(many.captured_queries) == len(few.captured_queries)


# --- notifications and the home card ------------------------------------------------------------------
def test_notifications_and_home_card(client, ev):
    event = report(ev)
    login(client, ev.village_desk)
    page = client.get(reverse("events:notifications"))
    assert page.status_code == 200 and event.number in page.content.decode()
    home = client.get("/").content.decode()
    assert 'data-testid="card-events"' in home and 'data-testid="card-events-unread">1<' in home
    assert 'data-testid="card-events-centre">1<' in home
    note = Notification.objects.get(user=ev.village_desk)
    # someone else's notification id is ignored
    theirs = Notification.objects.create(user=ev.other_desk, kind="x", text="别人的")
    client.post(reverse("events:notifications_read"), {"id": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.read_at is None
    client.post(reverse("events:notifications_read"), {"id": [note.pk]})
    note.refresh_from_db()
    assert note.read_at is not None
    assert client.post(reverse("events:notifications_read"), {"id": ["x"]}).status_code == 404


def test_home_card_is_one_query(ev):
    from shanzhi.events.selectors import home_counts

    report(ev)
    ev.village_desk._assignment_rows()  # the user's roles are loaded once per request by the shell already
    with CaptureQueriesContext(connection) as ctx:
        counts = home_counts(ev.village_desk)
    assert counts == {"mine": 0, "centre": 1, "overdue": 0, "unread": 1}
    assert len(ctx.captured_queries) == 1


# --- configuration ------------------------------------------------------------------------------------
def test_category_pages(client, ev):
    admin = factories.make_user("village_admin", ev.village)
    login(client, ev.village_desk)
    assert client.get(reverse("events:categories")).status_code == 404
    login(client, admin)
    assert client.get(reverse("events:categories")).status_code == 200
    cat = Category.objects.get(code="exposed_garbage")
    url = reverse("events:category_edit", args=[cat.pk])
    assert client.get(url).status_code == 200
    base = {"name": cat.name, "min_level": "village", "sort": 1, "active": "on", "deadline_handle": 600}
    bad = client.post(url, {**base, "fields_json": "[{\"name\": \"1x\"}]"})
    assert bad.status_code == 422 and "fields_json" in bad.context["form"].errors
    bad = client.post(url, {**base, "fields_json": "not json"})
    assert bad.status_code == 422
    cat.refresh_from_db()
    assert cat.fields == [] and cat.deadlines.get("handle") != 600
    ok = client.post(url, {**base, "fields_json": '[{"name": "size", "label": "面积", "type": "int"}]'})
    assert ok.status_code == 302
    cat.refresh_from_db()
    assert cat.deadlines["handle"] == 600 and cat.fields[0]["name"] == "size"
    assert AuditEntry.objects.filter(action="events.category.change").exists()
    new = client.post(reverse("events:category_new"), {**base, "code": "new_leaf", "name": "新类",
                                                       "parent": cat.parent_id})
    assert new.status_code == 302 and Category.objects.get(code="new_leaf").parent_id == cat.parent_id
    dupe = client.post(reverse("events:category_new"), {**base, "code": "new_leaf", "name": "又一个"})
    assert dupe.status_code == 422 and Category.objects.filter(code="new_leaf").count() == 1


def test_calendar_page(client, ev):
    admin = factories.make_user("town_admin", ev.tree.town_a1a)
    login(client, admin)
    page = client.get(reverse("events:calendar"))
    assert page.status_code == 200
    if page.context["missing"]:
        assert 'data-testid="calendar-missing"' in page.content.decode()
    r = client.post(reverse("events:calendar"), {"day-date": "2031-10-01", "day-is_workday": "0", "day-name": "国庆"})
    assert r.status_code == 302
    assert CalendarDay.objects.get(date=dt.date(2031, 10, 1)).is_workday is False
    bad = client.post(reverse("events:calendar"), {"day-date": "not-a-date", "day-is_workday": "0"})
    assert bad.status_code == 422
    r = client.post(reverse("events:calendar"), {"load_calendar": "1", "load-years": "2024"})
    assert r.status_code == 302
    assert CalendarYear.objects.filter(year=2024).exists()
    assert AuditEntry.objects.filter(action="events.calendar.load").exists()
    bad = client.post(reverse("events:calendar"), {"load_calendar": "1", "load-years": "x"})
    assert bad.status_code == 422
    login(client, ev.village_desk)
    assert client.get(reverse("events:calendar")).status_code == 404


def test_resident_sees_only_own_reports(client, ev):
    event = report(ev)
    own, _ = services.event_create(actor=ev.resident, data=services.Intake(
        title="我家门口路灯坏了", category="exposed_garbage", region_code=ev.village, source="resident"))
    login(client, ev.resident)
    page = client.get(reverse("events:queue"))
    assert page.status_code == 200 and page.context["tab"] == "reported_by_me"
    body = page.content.decode()
    assert own.number in body and event.number not in body
    assert client.get(reverse("events:detail", args=[own.pk])).status_code == 200
    assert client.get(reverse("events:detail", args=[event.pk])).status_code == 404
    assert client.get(reverse("events:stats")).status_code == 404


def test_escalate_supervise_extension_through_the_pages(client, ev):
    event = report(ev)
    # the town supervises an event the village holds
    login(client, ev.town_desk)
    page = client.get(reverse("events:detail", args=[event.pk]))
    assert "supervise" in [f.action for f in page.context["forms"]]
    client.post(reverse("events:act", args=[event.pk, "supervise"]), {"supervise-opinion": "请加快"})
    event.refresh_from_db()
    assert event.supervised
    # the village escalates it, the town accepts and hands it back down
    login(client, ev.village_desk)
    assert client.post(reverse("events:act", args=[event.pk, "escalate"]),
                       {"escalate-opinion": "村里解决不了"}).status_code == 302
    event.refresh_from_db()
    assert event.status == Status.ESCALATED and event.level == "town"
    login(client, ev.town_desk)
    client.post(reverse("events:act", args=[event.pk, "hand_down"]), {"hand_down-opinion": "属村级事项"})
    event.refresh_from_db()
    assert event.status == Status.REPORTED and event.level == "village"
    # dispatched, then the handler asks for more time and the village approves
    login(client, ev.village_desk)
    client.post(reverse("events:act", args=[event.pk, "accept"]), {})
    client.post(reverse("events:act", args=[event.pk, "dispatch"]), {"dispatch-assignee_id": ev.handler.pk})
    event.refresh_from_db()
    until = timezone.localtime(event.deadline_at + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    login(client, ev.handler)
    r = client.post(reverse("events:act", args=[event.pk, "request_extension"]),
                    {"request_extension-opinion": "等材料", "request_extension-until": until})
    assert r.status_code == 302
    login(client, ev.village_desk)
    page = client.get(reverse("events:detail", args=[event.pk]))
    assert {"approve_extension", "refuse_extension"} <= {f.action for f in page.context["forms"]}
    client.post(reverse("events:act", args=[event.pk, "approve_extension"]), {})
    event.refresh_from_db()
    assert event.extension_requested_until is None
    assert timezone.localtime(event.deadline_at).strftime("%Y-%m-%dT%H:%M") == until
    body = client.get(reverse("events:detail", args=[event.pk])).content.decode()
    assert "请加快" in body and "属村级事项" in body
