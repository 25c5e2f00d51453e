"""The set-based generator (``generate_bulk``, ``events generate --bulk``): coherent events, rollups equal to
the events, appending runs, and clear refusals.  PostgreSQL only (it generates with SQL on the server)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from shanzhi.core.codes import prefix_of
from shanzhi.events import rollup, selectors
from shanzhi.events.generate import STEP_OF
from shanzhi.events.generate_bulk import _secondary_indexes, generate_bulk
from shanzhi.events.models import FINISHED_STATUSES, OPEN_STATUSES, AreaStat, DailyStat, Event, Status
from shanzhi.regions.models import Centre
from shanzhi.testing import factories

NOW = timezone.make_aware(dt.datetime(2026, 6, 30, 9, 0))
needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="--bulk generates with PostgreSQL SQL")
# the counters that follow from an event's own columns (the on-time/late step counters are drawn per step)
DERIVED = ("created", "status:", "closed", "rating_", "voided", "reopened", "escalated", "supervised", "_overdue")


def _expected_counters() -> Counter[tuple[Any, ...]]:
    """The ``DailyStat`` counters the per-event path writes for the events in the table, recomputed in Python."""
    tz = timezone.get_current_timezone()
    out: Counter[tuple[Any, ...]] = Counter()
    for e in Event.objects.all():
        key = (e.region_code, e.created_at.astimezone(tz).date(), e.category_id, e.source)
        deltas = {"created": 1, f"status:{e.status}": 1, "reopened": e.reopen_count,
                  "escalated": e.escalation_count, "supervised": int(e.supervised), "voided": int(e.status == "voided")}
        if e.status in ("closed", "rated"):
            deltas |= {"closed": 1, f"closed_{e.level}": 1}
        if e.rating is not None:
            deltas |= {"rating_sum": e.rating, "rating_count": 1}
        if e.overdue:
            deltas[f"{e.step}_overdue"] = 1
        for metric, value in deltas.items():
            if value:
                out[(*key, metric)] += value
    return out


def _stored_counters() -> Counter[tuple[Any, ...]]:
    rows = DailyStat.objects.values_list("region_code", "day", "category_id", "source", "metric", "value")
    return Counter({tuple(r[:5]): r[5] for r in rows if any(m in r[4] for m in DERIVED)})


def _check_rollups(tree: factories.Tree) -> None:
    assert _stored_counters() == _expected_counters()
    # the step counters: one on-time or late count per step; some late, most on time
    steps = dict(DailyStat.objects.filter(metric__regex=r"_(on_time|late)$").values("metric")
                 .annotate(s=Sum("value")).values_list("metric", "s"))
    for step in ("accept", "dispatch", "handle", "verify"):
        assert 0 < steps[f"{step}_late"] < steps[f"{step}_on_time"]
    assert steps["accept_on_time"] + steps["accept_late"] >= Event.objects.exclude(
        status__in=["reported", "escalated"]).count()
    # the coarse rollup is exactly what DailyStat gives
    incremental = sorted(AreaStat.objects.values_list("level", "region_code", "period", "start", "key", "value"))
    with transaction.atomic():
        rollup.rebuild_area()
    assert sorted(AreaStat.objects.values_list("level", "region_code", "period", "start", "key",
                                               "value")) == incremental
    # and the statistics page's figures are those of the events (as test_generate checks the Python generator)
    admin = factories.make_user("city_admin", tree.city_a)
    stats = selectors.statistics(admin, region=tree.city_a, date_from=dt.date(2025, 1, 1),
                                 date_to=dt.date(2026, 7, 1))
    events = Event.objects.filter(region_code__startswith=tree.city_a[:4])
    assert stats["created"] == events.count() > 0
    assert stats["by_status"] == dict(events.values("status").annotate(n=Count("id")).values_list("status", "n"))
    closed = events.filter(status__in=[s.value for s in FINISHED_STATUSES])
    assert stats["closed"] == closed.count()
    rated = events.filter(rating__isnull=False).aggregate(s=Sum("rating"), n=Count("id"))
    assert stats["satisfaction"] == round(rated["s"] / rated["n"], 4)
    assert stats["escalated"] == events.aggregate(s=Sum("escalation_count"))["s"]
    assert stats["overdue"] == events.filter(overdue=True).count()
    assert {r["source"]: r["count"] for r in stats["by_source"]} == dict(
        events.values("source").annotate(n=Count("id")).values_list("source", "n"))


def _check_invariants(days: int) -> None:
    tz = timezone.get_current_timezone()
    centres = {c.pk: c for c in Centre.objects.all()}
    seen = set()
    for e in Event.objects.all():
        seen.add(e.status)
        assert re.fullmatch(r"SJ\d{8}\d{10}", e.number) and e.number.endswith(f"{e.pk:010d}")
        assert e.number[2:10] == e.created_at.astimezone(tz).strftime("%Y%m%d")
        assert len(e.region_code) == 12 and e.region_id == e.region_code
        assert NOW - dt.timedelta(days=days) <= e.created_at <= e.updated_at <= NOW
        centre = centres[e.centre_id]
        assert centre.kind == e.level and e.region_code.startswith(prefix_of(centre.region_code))
        assert e.title and e.custom is not None and e.version == 0
        step = STEP_OF.get(Status(e.status), "")
        assert e.step == step
        if step:  # the running step's deadline, and where the sweep will look next
            assert e.step_started_at == e.updated_at
            assert e.warn_at is not None and e.deadline_at is not None and e.step_started_at is not None
            assert e.step_started_at < e.warn_at < e.deadline_at
            assert e.overdue == (e.deadline_at <= NOW)
            assert e.warned == (e.warn_at <= NOW)
            assert e.due_at == (None if e.overdue else e.deadline_at if e.warned else e.warn_at)
        else:
            assert e.step_started_at is e.deadline_at is e.warn_at is e.due_at is None
            assert not e.overdue and not e.warned
        if e.status in FINISHED_STATUSES:
            assert e.closed_level == e.level and e.closed_at == e.updated_at
            assert not e.supervised
        else:
            assert e.closed_level == "" and e.closed_at is None
        if e.status == "rated":
            assert e.rating in (3, 4, 5) and (e.rating_comment != "") == (e.rating == 5)
        else:
            assert e.rating is None and e.rating_comment == ""
        assert (e.suspended_from != "") == (e.status == "suspended")
        if e.status == "suspended":
            assert e.suspended_from in ("accepted", "dispatched", "in_progress")
        if e.status == "escalated":
            assert e.escalation_count >= 1
        if e.status == "reported":  # an escalated event stays "escalated" until accepted
            assert e.escalation_count == 0
        if e.status == "reopened":
            assert e.reopen_count >= 1
        if e.status in ("reported", "escalated", "rejected"):
            assert not e.supervised
        if e.grid_id is not None:
            assert e.source == "grid_worker"
    assert seen == set(Status.values)  # every state occurs


@pytest.mark.django_db
@pytest.mark.postgres
@needs_postgres
def test_bulk_events_are_coherent_and_rollups_equal_the_events(tree: factories.Tree) -> None:
    result = generate_bulk(count=3000, days=120, seed=7, now=NOW, chunk=1100, open_share=0.4)
    assert result.events == Event.objects.count() == 3000
    with connection.cursor() as cursor:  # the foreign-key checks are back on (when they were skipped)
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"
    assert result.last_id is not None and result.first_id is not None
    assert result.last_id - result.first_id + 1 == 3000 and result.rollup_rows > 3000
    assert result.by_status == dict(Event.objects.values("status").annotate(n=Count("id"))
                                    .values_list("status", "n"))
    _check_invariants(120)
    _check_rollups(tree)
    assert Event.objects.filter(status__in=[s.value for s in OPEN_STATUSES]).count() > 900
    assert Event.objects.filter(escalation_count__gt=0).exists() and Event.objects.filter(supervised=True).exists()
    assert Event.objects.filter(grid__isnull=False).exists() and Event.objects.filter(reporter_phone__gt="").exists()
    assert Event.objects.values("region_code").distinct().count() >= 4

    # (c) a second run appends: new ids and numbers, counters added to what is there
    ids = set(Event.objects.values_list("id", flat=True))
    second = generate_bulk(count=700, days=30, seed=8, now=NOW, chunk=1000)  # age-dependent open share
    assert Event.objects.count() == 3700
    assert Event.objects.values("number").distinct().count() == 3700
    assert second.first_id is not None and second.first_id > max(ids)
    assert DailyStat.objects.filter(metric="created").aggregate(s=Sum("value"))["s"] == 3700
    _check_rollups(tree)


@pytest.mark.django_db
@pytest.mark.postgres
@needs_postgres
def test_the_same_seed_and_ids_build_the_same_events(tree: factories.Tree) -> None:
    fields = ("id", "region_code", "created_at", "category_id", "source", "status", "level", "rating",
              "deadline_at", "grid_id", "lat", "custom")
    first = generate_bulk(count=300, days=60, seed=3, now=NOW, chunk=120)
    rows = list(Event.objects.order_by("id").values_list(*fields))
    Event.objects.all().delete()
    assert first.first_id is not None
    with connection.cursor() as cursor:  # the same ids again
        cursor.execute("SELECT setval(pg_get_serial_sequence('events_event', 'id'), %s)", [first.first_id - 1])
    generate_bulk(count=300, days=60, seed=3, now=NOW, chunk=300)  # chunking does not change the events
    assert list(Event.objects.order_by("id").values_list(*fields)) == rows


@pytest.mark.django_db
@pytest.mark.postgres
@needs_postgres
def test_rebuild_indexes_restores_every_index(tree: factories.Tree,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    before = _secondary_indexes()
    assert any(name == "event_recent_idx" for name, _ in before)
    call_command("events", "generate", "--count", "400", "--bulk", "--chunk", "150", "--rebuild-indexes",
                 "--days", "20")
    assert _secondary_indexes() == before
    captured = capsys.readouterr()
    assert "400 events, 0 timeline rows" in captured.out and "recreated index event_recent_idx" in captured.err
    assert Event.objects.count() == 400
    assert DailyStat.objects.filter(metric="created").aggregate(s=Sum("value"))["s"] == 400


@pytest.mark.django_db
@pytest.mark.postgres
@needs_postgres
def test_bad_arguments_change_nothing(tree: factories.Tree) -> None:
    generate_bulk(count=50, days=5, seed=1, now=NOW)
    state = (Event.objects.count(), DailyStat.objects.count(), AreaStat.objects.count())
    for args, message in ((["--count", "0"], "at least 1"), (["--count", "-3"], "at least 1"),
                          (["--count", "10", "--open-share", "1.5"], "open share"),
                          (["--count", "10", "--chunk", "0"], "chunk"),
                          (["--count", "10", "--days", "0"], "days"),
                          (["--count", "10", "--region", "9999"], "no village")):
        with pytest.raises(CommandError, match=message):
            call_command("events", "generate", "--bulk", *args)
    with pytest.raises(CommandError, match="needs --bulk"):
        call_command("events", "generate", "--count", "10", "--rebuild-indexes")
    assert (Event.objects.count(), DailyStat.objects.count(), AreaStat.objects.count()) == state


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor == "postgresql", reason="the refusal on SQLite")
def test_bulk_refuses_sqlite(tree: factories.Tree) -> None:
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("events", "generate", "--count", "10", "--bulk")
    assert not Event.objects.exists() and not DailyStat.objects.exists()
