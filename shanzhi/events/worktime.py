"""Working time: deadlines counted in working minutes on the official Chinese calendar.

The calendar is data (``CalendarDay``/``CalendarYear``), seeded from the ``chinesecalendar`` package for the
years it knows and editable by administrators when the State Council publishes the next year.  A year that
is not loaded falls back to "Monday to Friday" and is reported by :func:`missing_years` (shown as a warning on
the administrators' pages).  Working hours of a day are a setting (``SHANZHI_WORK_HOURS``).
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import zoneinfo
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction

from .models import CalendarDay, CalendarYear

DEFAULT_HOURS = (("08:30", "12:00"), ("13:30", "17:30"))


def _tz() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _periods() -> list[tuple[dt.time, dt.time]]:
    raw = getattr(settings, "SHANZHI_WORK_HOURS", DEFAULT_HOURS)
    return [(dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in raw]


@functools.lru_cache(maxsize=64)
def _year_table(year: int, version: int, bucket: int) -> tuple[bool, dict[dt.date, bool]]:
    loaded = CalendarYear.objects.filter(year=year).exists()
    days = dict(
        CalendarDay.objects.filter(date__year=year).values_list("date", "is_workday")
    )
    return loaded, days


_version = 0


def _bucket() -> int:
    """Cached calendars expire every five minutes, so an edit reaches every worker process."""
    return int(time.time() // 300)


def invalidate() -> None:
    """Call after the calendar changed (the service that edits it does)."""
    global _version
    _version += 1
    _year_table.cache_clear()


def is_workday(day: dt.date) -> bool:
    _loaded, days = _year_table(day.year, _version, _bucket())
    if day in days:
        return days[day]
    return day.weekday() < 5


def missing_years(years: Iterable[int]) -> list[int]:
    return [y for y in years if not _year_table(y, _version, _bucket())[0]]


def add_working_minutes(start: dt.datetime, minutes: int) -> dt.datetime:
    """The moment ``minutes`` working minutes after ``start`` (aware datetimes)."""
    if minutes <= 0:
        return start
    tz = _tz()
    local = start.astimezone(tz)
    remaining = dt.timedelta(minutes=minutes)
    day = local.date()
    periods = _periods()
    for _ in range(3660):  # ten years of days at most: a safety bound, never reached in practice
        if is_workday(day):
            for begin, end in periods:
                p_start = dt.datetime.combine(day, begin, tz)
                p_end = dt.datetime.combine(day, end, tz)
                if local >= p_end:
                    continue
                cursor = max(local, p_start)
                available = p_end - cursor
                if remaining <= available:
                    return (cursor + remaining).astimezone(dt.UTC)
                remaining -= available
                local = p_end
        day += dt.timedelta(days=1)
        local = dt.datetime.combine(day, dt.time(0, 0), tz)
    raise ValueError("deadline beyond ten years")


def working_minutes_between(start: dt.datetime, end: dt.datetime) -> int:
    """Working minutes from ``start`` to ``end`` (0 when end <= start)."""
    if end <= start:
        return 0
    tz = _tz()
    total = dt.timedelta()
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        if is_workday(day):
            for begin, finish in _periods():
                p_start = max(dt.datetime.combine(day, begin, tz), start)
                p_end = min(dt.datetime.combine(day, finish, tz), end)
                if p_end > p_start:
                    total += p_end - p_start
        day += dt.timedelta(days=1)
    return int(total.total_seconds() // 60)


@transaction.atomic
def load_official_years(years: Iterable[int] | None = None) -> list[int]:
    """Seed the calendar from ``chinesecalendar`` for the years it knows; returns the years loaded."""
    import chinese_calendar

    known_first, known_last = 2004, 2026
    try:
        known_last = max(d.year for d in chinese_calendar.holidays)
        known_first = min(d.year for d in chinese_calendar.holidays)
    except (AttributeError, ValueError):
        pass
    wanted = sorted(set(years) if years is not None else range(known_first, known_last + 1))
    loaded = []
    for year in wanted:
        if not known_first <= year <= known_last:
            continue
        rows = []
        for day, name in chinese_calendar.holidays.items():
            if day.year == year:
                rows.append(CalendarDay(date=day, is_workday=False, name=str(name)))
        for day, name in chinese_calendar.workdays.items():
            if day.year == year and day.weekday() >= 5:
                rows.append(CalendarDay(date=day, is_workday=True, name=f"{name} (调休)"))
        CalendarDay.objects.filter(date__year=year).delete()
        CalendarDay.objects.bulk_create(rows)
        CalendarYear.objects.update_or_create(year=year, defaults={"source": "chinesecalendar"})
        loaded.append(year)
    invalidate()
    return loaded
