"""The volume generator: rollups it writes agree with the events it writes, and a seed fixes the output."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum
from django.utils import timezone

from shanzhi.core.codes import prefix_of
from shanzhi.events import selectors
from shanzhi.events.generate import generate
from shanzhi.events.models import FINISHED_STATUSES, OPEN_STATUSES, DailyStat, Event, TimelineEntry
from shanzhi.testing import factories

NOW = timezone.make_aware(dt.datetime(2026, 6, 30, 9, 0))


def _stats(user: Any, region: str) -> dict[str, Any]:
    return selectors.statistics(user, region=region, date_from=dt.date(2025, 1, 1), date_to=dt.date(2026, 7, 1))


@pytest.mark.django_db
def test_rollups_equal_group_by_over_events(tree: factories.Tree) -> None:
    result = generate(count=400, days=120, seed=7, now=NOW, batch=150)
    assert result.events == Event.objects.count() == 400
    admin = factories.make_user("city_admin", tree.city_a)
    stats = _stats(admin, tree.city_a)
    events = Event.objects.filter(region_code__startswith=tree.city_a[:4])
    assert stats["created"] == events.count() > 0
    assert stats["by_status"] == dict(events.values("status").annotate(n=Count("id")).values_list("status", "n"))
    closed = events.filter(status__in=[s.value for s in FINISHED_STATUSES])
    assert stats["closed"] == closed.count()
    by_level = dict(closed.values("closed_level").annotate(n=Count("id")).values_list("closed_level", "n"))
    assert stats["small_matters_in_village"] == round(by_level.get("village", 0) / closed.count(), 4)
    assert stats["big_matters_in_town"] == round(
        (by_level.get("village", 0) + by_level.get("town", 0)) / closed.count(), 4)
    rated = events.filter(rating__isnull=False).aggregate(s=Sum("rating"), n=Count("id"))
    assert stats["satisfaction"] == round(rated["s"] / rated["n"], 4)
    assert stats["escalated"] == events.aggregate(s=Sum("escalation_count"))["s"]
    assert stats["rework_rate"] == round(events.aggregate(s=Sum("reopen_count"))["s"] / events.count(), 4)
    assert {r["source"]: r["count"] for r in stats["by_source"]} == dict(
        events.values("source").annotate(n=Count("id")).values_list("source", "n"))
    assert {r["code"]: r["count"] for r in stats["by_category"]} == dict(
        events.values("category__parent__code").annotate(n=Count("id")).values_list("category__parent__code", "n"))
    assert stats["overdue"] == events.filter(overdue=True).count()
    # the mix is realistic: mostly finished, some open, some escalated and reworked
    assert closed.count() > events.count() / 2
    assert events.filter(status__in=[s.value for s in OPEN_STATUSES]).exists()
    assert events.filter(escalation_count__gt=0).exists() and events.filter(reopen_count__gt=0).exists()
    # every village of the tree that has a centre gets events; the spread is over the period
    assert events.values("region_code").distinct().count() >= 4
    assert min(events.values_list("created_at", flat=True)) >= NOW - dt.timedelta(days=120)


@pytest.mark.django_db
def test_timelines_follow_the_events(tree: factories.Tree) -> None:
    generate(count=120, days=30, seed=3, now=NOW)
    for event in Event.objects.all():
        rows = list(TimelineEntry.objects.filter(event=event).order_by("id"))
        assert rows[0].action == "report"
        assert rows[-1].to_status == event.status
        for prev, nxt in itertools.pairwise(rows):
            assert nxt.from_status == prev.to_status
            assert nxt.created_at >= prev.created_at
        if event.status in ("closed", "rated"):
            assert event.closed_at is not None and event.closed_level == event.level
        assert event.region_code.startswith(prefix_of(event.centre.region_code))


def _fingerprint() -> list[tuple[Any, ...]]:
    return list(Event.objects.order_by("id").values_list(
        "region_code", "created_at", "title", "category_id", "source", "status", "level", "rating", "reopen_count",
        "escalation_count", "deadline_at", "overdue"))


@pytest.mark.django_db
def test_the_same_seed_builds_the_same_events(tree: factories.Tree) -> None:
    generate(count=150, days=60, seed=11, now=NOW)
    first = _fingerprint()
    stats = sorted(DailyStat.objects.values_list("region_code", "day", "category_id", "source", "metric", "value"))
    TimelineEntry.objects.all().delete()
    Event.objects.all().delete()
    DailyStat.objects.all().delete()
    generate(count=150, days=60, seed=11, now=NOW)
    assert _fingerprint() == first
    assert sorted(DailyStat.objects.values_list("region_code", "day", "category_id", "source", "metric",
                                                "value")) == stats
    TimelineEntry.objects.all().delete()
    Event.objects.all().delete()
    generate(count=150, days=60, seed=12, now=NOW)
    assert _fingerprint() != first


@pytest.mark.django_db
def test_rollups_add_to_what_is_there(tree: factories.Tree) -> None:
    generate(count=50, days=10, seed=1, now=NOW)
    generate(count=70, days=10, seed=2, now=NOW)
    assert DailyStat.objects.filter(metric="created").aggregate(s=Sum("value"))["s"] == 120 == Event.objects.count()
    assert Event.objects.values("number").distinct().count() == 120


@pytest.mark.django_db
def test_bad_arguments_and_empty_tree() -> None:
    with pytest.raises(ValueError, match="count"):
        generate(count=-1)
    with pytest.raises(ValueError, match="village"):
        generate(count=10)
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_command(tree: factories.Tree, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("events", "generate", "--count", "30", "--days", "5", "--seed", "4", "--no-timeline")
    out = capsys.readouterr().out
    assert "30 events, 0 timeline rows" in out
    assert Event.objects.count() == 30 and not TimelineEntry.objects.exists()
