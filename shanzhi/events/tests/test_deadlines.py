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
