"""Working time on the official calendar, and the deadline sweep (warn, overdue, auto-escalate)."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo

import pytest
from django.db import connection

from shanzhi.core import audit
from shanzhi.events import worktime
from shanzhi.events.deadlines import sweep
from shanzhi.events.models import CalendarDay, CalendarYear, Event, Notification, Status, TimelineEntry
from shanzhi.events.services import Intake, event_create

SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SH)


@pytest.mark.django_db
class TestWorktime:
    def test_within_a_day_and_across_lunch(self):
        assert worktime.add_working_minutes(at(2026, 11, 30, 9, 0), 60) == at(2026, 11, 30, 10, 0)
        assert worktime.add_working_minutes(at(2026, 11, 30, 11, 30), 60) == at(2026, 11, 30, 14, 0)

    def test_after_hours_starts_next_working_day(self):
        # Friday 17:00 + 60 min -> Monday 09:00 (30 min on Friday, 30 on Monday)
        assert worktime.add_working_minutes(at(2026, 11, 27, 17, 0), 60) == at(2026, 11, 30, 9, 0)

    def test_national_day_holiday_and_adjusted_working_day(self):
        # 2026: 1-7 October off; Saturday 10 October is a working day (调休)
        assert not worktime.is_workday(dt.date(2026, 10, 1))
        assert worktime.is_workday(dt.date(2026, 10, 10)) and not worktime.is_workday(dt.date(2026, 10, 11))
        assert worktime.add_working_minutes(at(2026, 9, 30, 17, 0), 60) == at(2026, 10, 8, 9, 0)

    def test_unpublished_year_falls_back_to_weekends_and_is_reported(self):
        assert worktime.missing_years([2026, 2027]) == [2027]
        assert worktime.is_workday(dt.date(2027, 1, 4)) and not worktime.is_workday(dt.date(2027, 1, 2))

    def test_administrators_can_load_a_new_year(self):
        CalendarDay.objects.create(date=dt.date(2027, 1, 1), is_workday=False, name="元旦")
        CalendarYear.objects.create(year=2027, source="国务院办公厅通知")
        worktime.invalidate()
        assert not worktime.is_workday(dt.date(2027, 1, 1))
        assert worktime.missing_years([2027]) == []

    def test_minutes_between_is_the_inverse(self):
        start = at(2026, 11, 27, 16, 0)
        end = worktime.add_working_minutes(start, 600)
        assert worktime.working_minutes_between(start, end) == 600


def _report(ev, category="fire_hazard"):
    event, _ = event_create(actor=ev.grid_worker, data=Intake(title="电线老化", category=category,
                                                               grid_id=ev.grid.pk))
    return event


@pytest.mark.django_db
def test_sweep_warns_then_marks_overdue_then_escalates(ev):
    event = _report(ev)  # fire_hazard: village level, auto-escalates
    assert event.due_at == event.warn_at
    assert sweep(now=event.warn_at - dt.timedelta(seconds=1)).total == 0
    result = sweep(now=event.warn_at)
    assert result.warned == 1
    event.refresh_from_db()
    assert event.warned and event.due_at == event.deadline_at
    assert Notification.objects.filter(event=event, kind="deadline_soon", user=ev.village_desk).exists()
    result = sweep(now=event.deadline_at + dt.timedelta(seconds=1))
    assert result.overdue == 1 and result.escalated == 1
    event.refresh_from_db()
    assert event.status == Status.ESCALATED and event.level == "town" and event.step == "accept"
    assert TimelineEntry.objects.filter(event=event, action="escalate", data__automatic=True).exists()
    assert Notification.objects.filter(event=event, user=ev.town_desk).exists()
    assert audit.verify().ok
    assert sweep(now=event.warn_at - dt.timedelta(seconds=1)).total == 0  # the new step is not due yet


@pytest.mark.django_db
def test_overdue_without_auto_escalation_is_marked_once(ev):
    event = _report(ev, category="exposed_garbage")
    result = sweep(now=event.deadline_at + dt.timedelta(minutes=1))
    assert result.overdue == 1 and result.escalated == 0
    event.refresh_from_db()
    assert event.overdue and event.due_at is None and event.status == Status.REPORTED
    assert sweep(now=event.deadline_at + dt.timedelta(days=30)).total == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED across connections needs PostgreSQL")
def test_two_workers_never_fire_the_same_event_twice(ev):
    events = [_report(ev) for _ in range(60)]
    moment = max(e.deadline_at for e in events) + dt.timedelta(seconds=1)
    totals: list[int] = []
    errors: list[Exception] = []

    def worker():
        try:
            done = 0
            while True:
                result = sweep(now=moment, batch=7)
                if not result.total:
                    break
                done += result.escalated
            totals.append(done)
        except Exception as exc:  # pragma: no cover - reported by the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(totals) == 60
    assert TimelineEntry.objects.filter(action="escalate").count() == 60
    assert Event.objects.filter(status=Status.ESCALATED, escalation_count=1).count() == 60
    assert audit.verify().ok


def _stats() -> dict[tuple[str, str], int]:
    from shanzhi.events.models import DailyStat

    totals: dict[tuple[str, str], int] = {}
    for stat in DailyStat.objects.all():
        totals[(stat.region_code, stat.metric)] = totals.get((stat.region_code, stat.metric), 0) + stat.value
    return totals


@pytest.mark.django_db
def test_one_batch_warns_marks_and_escalates_each_event_with_its_rows(ev, settings):
    from shanzhi.core.models import AuditEntry
    from shanzhi.events.models import Step
    from shanzhi.events.services import step_minutes
    from shanzhi.regions.models import Centre

    settings.SHANZHI_DEADLINE_WARN_FRACTION = 0.5
    up = [_report(ev) for _ in range(3)]  # fire_hazard: auto-escalates
    marked = [_report(ev, category="exposed_garbage") for _ in range(2)]
    warned = _report(ev)
    now = max(e.deadline_at for e in up + marked) + dt.timedelta(minutes=1)
    Event.objects.filter(pk=warned.pk).update(deadline_at=now + dt.timedelta(hours=1), due_at=now)
    stats = _stats()
    audit_seq = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    result = sweep(now=now)

    assert (result.warned, result.overdue, result.escalated) == (1, 5, 3)
    minutes = step_minutes(up[0].category, Step.ACCEPT)
    town_centre = Centre.objects.get(region_id=ev.tree.town_a1a, kind="town")
    for event in up:
        event.refresh_from_db()
        assert event.centre_id == town_centre.pk
        assert event.status == Status.ESCALATED and event.level == "town" and event.escalation_count == 1
        assert event.step == "accept" and event.step_started_at == now
        assert event.deadline_at == worktime.add_working_minutes(now, minutes)
        assert event.warn_at == event.due_at == worktime.add_working_minutes(now, int(minutes * 0.5))
        assert not event.warned and not event.overdue and event.assignee_id is None
        assert list(TimelineEntry.objects.filter(event=event).exclude(action="report").values_list(
            "action", "from_status", "to_status", "opinion")) == [("escalate", "reported", "escalated", "超时自动上报")]
        assert set(Notification.objects.filter(event=event, kind="escalated").values_list("user", flat=True)) == {
            ev.town_desk.pk}
    for event in marked:
        event.refresh_from_db()
        assert event.overdue and event.due_at is None and event.status == Status.REPORTED
        assert list(TimelineEntry.objects.filter(event=event).exclude(action="report").values_list(
            "action", flat=True)) == ["overdue"]
        assert Notification.objects.filter(event=event, kind="overdue", user=ev.village_desk).exists()
    warned.refresh_from_db()
    assert warned.warned and warned.due_at == warned.deadline_at and warned.status == Status.REPORTED
    assert not TimelineEntry.objects.filter(event=warned).exclude(action="report").exists()
    assert Notification.objects.filter(event=warned, kind="deadline_soon", user=ev.village_desk).exists()

    # one audit row per event, naming it, with the state the event now has
    rows = list(AuditEntry.objects.filter(seq__gt=audit_seq))
    assert sorted((r.object_id, r.action) for r in rows) == sorted(
        [(str(e.pk), "events.event.auto_escalate") for e in up]
        + [(str(e.pk), "events.event.overdue") for e in marked] + [(str(warned.pk), "events.event.warn")])
    for row in rows:
        assert row.object_type == "events.event" and row.actor_label == "system"
        event = Event.objects.get(pk=int(row.object_id))
        after = row.after or {}
        assert event.deadline_at is not None
        assert after["status"] == event.status and after["centre_id"] == event.centre_id
        assert after["deadline_at"] == event.deadline_at.isoformat()
    assert audit.verify().ok

    # rollup counters: three left "reported" for "escalated", five accept steps overdue, three finished late
    after = _stats()
    region = up[0].region_code

    def delta(metric: str) -> int:
        return after.get((region, metric), 0) - stats.get((region, metric), 0)

    assert delta("escalated") == 3 and delta("status:escalated") == 3 and delta("status:reported") == -3
    assert delta("accept_overdue") == 5 and delta("accept_late") == 3
    assert sweep(now=now).total == 0

    # the coarse rollup moved with the fine one: rebuilding it from DailyStat changes nothing
    from shanzhi.events import rollup
    from shanzhi.events.models import AreaStat

    def area() -> set[tuple[object, ...]]:
        return set(AreaStat.objects.values_list("level", "region_code", "period", "start", "key", "value"))

    incremental = area()
    rollup.rebuild_area()
    assert area() == incremental


@pytest.mark.django_db
def test_a_batch_costs_the_same_statements_whatever_its_size(ev):
    from django.test.utils import CaptureQueriesContext

    small = [_report(ev) for _ in range(2)]
    large = [_report(ev) for _ in range(8)]
    moment = max(e.deadline_at for e in small + large) + dt.timedelta(seconds=1)
    Event.objects.filter(pk__in=[e.pk for e in large]).update(due_at=moment + dt.timedelta(days=1))
    worktime.add_working_minutes(moment, 60)  # the calendar is cached before counting
    with CaptureQueriesContext(connection) as first:
        assert sweep(now=moment).escalated == 2
    with CaptureQueriesContext(connection) as second:
        assert sweep(now=moment + dt.timedelta(days=1)).escalated == 8
    # (the calendar cache may reload a year in between: at most two more)
    assert len(second.captured_queries) <= len(first.captured_queries) + 2
