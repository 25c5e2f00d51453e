"""The coarse rollup (``AreaStat``): it gives exactly the figures of ``DailyStat``, every writer keeps it, and
city and county statistics read a bounded number of its rows in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shanzhi.events import rollup, selectors
from shanzhi.events.generate import generate
from shanzhi.events.models import AreaStat, Category, Source
from shanzhi.testing import factories

NOW = timezone.make_aware(dt.datetime(2026, 6, 30, 9, 0))
METRICS = ["created", "closed", "closed_village", "closed_town", "closed_county", "reopened", "escalated",
           "status:reported", "status:closed", "accept_on_time", "accept_late", "handle_overdue", "rating_sum",
           "rating_count", "voided"]


def _area_rows() -> list[tuple[Any, ...]]:
    return sorted(AreaStat.objects.values_list("level", "region_code", "period", "start", "key", "value"))


def _random_deltas(tree: factories.Tree, rng: random.Random, n: int) -> list[tuple[rollup.Key, int]]:
    """Random counters, some cancelling out to zero sums, on every village, a top-level category included."""
    villages = [tree.village_a1a1, tree.village_a1a2, tree.village_a1b1, tree.village_a2a1, tree.village_b1]
    cats = list(Category.objects.filter(parent__isnull=False).values_list("pk", flat=True)[:6])
    top = Category.objects.filter(parent__isnull=True).values_list("pk", flat=True).first()
    assert top is not None
    cats.append(top)
    out = []
    for _ in range(n):
        key = (rng.choice(villages), dt.date(2026, 6, 30) - dt.timedelta(days=rng.randrange(200)), rng.choice(cats),
               rng.choice(Source.values), rng.choice(METRICS))
        value = rng.choice([1, 1, 2, 5, -1])
        out.append((key, value))
        if rng.random() < 0.1:
            out.append((key, -value))  # the same counter back to zero: the row stays, at 0
    return out


def _both(prefixes: tuple[str, ...], level: int, child: int | None, start: dt.date,
          end: dt.date) -> tuple[dict[str, Any], dict[str, Any]]:
    daily = selectors._figures(selectors._sums_daily(prefixes, start, end, child), region="r",
                               date_from=start, date_to=end)
    area = selectors._figures(selectors._sums_area(prefixes, level, start, end, child), region="r",
                              date_from=start, date_to=end)
    return daily, area


PERIODS = [
    (dt.date(2026, 6, 30), dt.date(2026, 6, 30)),  # one day
    (dt.date(2026, 6, 1), dt.date(2026, 6, 30)),  # one whole month
    (dt.date(2026, 5, 17), dt.date(2026, 6, 3)),  # across a month end, no whole month
    (dt.date(2026, 1, 31), dt.date(2026, 5, 1)),  # whole months with one-day edges
    (dt.date(2025, 12, 2), dt.date(2026, 6, 29)),  # across a year end
    (dt.date(2025, 1, 1), dt.date(2026, 12, 31)),  # everything
    (dt.date(2024, 3, 1), dt.date(2024, 4, 30)),  # nothing there
]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2])
def test_coarse_rollup_gives_the_daily_figures(tree: factories.Tree, seed: int) -> None:
    rng = random.Random(seed)
    generate(count=150, days=200, seed=seed, now=NOW, batch=60, timeline=False)
    with transaction.atomic():
        rollup.add(_random_deltas(tree, rng, 400), chunk=70)
    scopes = [
        (("33",), 4, 4),  # a province, drilled to cities
        (("3309",), 4, 6),  # the city, drilled to counties
        (("330902",), 6, 9),  # a county, drilled to towns
        (("330902008",), 9, 12),  # a town, drilled to villages (from DailyStat)
        (("3309", "3302"), 4, None),  # several prefixes: no drill-down
        (("330902", "330903001"), 9, None),
    ]
    periods = list(PERIODS)
    for _ in range(4):  # and random periods
        start = dt.date(2025, 12, 1) + dt.timedelta(days=rng.randrange(200))
        periods.append((start, start + dt.timedelta(days=rng.randrange(120))))
    for prefixes, level, child in scopes:
        for start, end in periods:
            daily, area = _both(prefixes, level, child, start, end)
            assert daily == area, (prefixes, start, end)
    daily, _area = _both(("3309",), 4, 6, dt.date(2025, 1, 1), dt.date(2026, 12, 31))
    assert daily["created"] > 0 and daily["by_child"] and daily["by_category"] and daily["trend"]
    assert any(c["code"] is None for c in daily["by_category"])  # the top-level category's own events
    assert any(v == 0 for v in AreaStat.objects.values_list("value", flat=True))  # zero sums kept, as DailyStat


@pytest.mark.django_db
def test_every_writer_keeps_the_coarse_rollup_and_the_backfill_rebuilds_it(ev: Any) -> None:
    from shanzhi.events import services

    generate(count=80, days=90, seed=5, now=NOW, timeline=False)
    event, _ = services.event_create(actor=ev.grid_worker, data=services.Intake(
        title="t", category=ev.category.code, grid_id=ev.grid.pk, custom={"parties": 2}))
    services.event_transition(event_id=event.pk, actor=ev.village_desk, action="accept")
    incremental = _area_rows()
    assert incremental
    with transaction.atomic():
        assert rollup.rebuild_area() == len(incremental)
    assert _area_rows() == incremental


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["city", "county"])
def test_city_and_county_statistics_read_a_bounded_number_of_coarse_rows(ev: Any, scope: str) -> None:
    """Fixed queries, none on the event table or DailyStat, and rows bounded by regions × periods × keys."""
    region = ev.tree.city_a if scope == "city" else ev.tree.county_a1
    end = dt.date(2026, 6, 30)
    counts = []
    selectors.statistics(ev.city_desk, region=region, date_from=end, date_to=end)  # the user's scope, cached
    for seed in (1, 2):
        generate(count=300, days=400, seed=seed, now=NOW, timeline=False)
        with CaptureQueriesContext(connection) as ctx:
            figures = selectors.statistics(ev.city_desk, region=region, date_from=end - dt.timedelta(days=364),
                                           date_to=end)
        assert figures["created"] > 0
        sql = " ".join(q["sql"] for q in ctx.captured_queries)
        assert "events_areastat" in sql and "events_dailystat" not in sql and "events_event" not in sql
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 6
    # the table itself: at most (cities + counties + towns) × (days + months) × keys rows, whatever the events
    keys = len(set(AreaStat.objects.values_list("key", flat=True)))
    regions = len(set(AreaStat.objects.values_list("region_code", flat=True)))
    assert AreaStat.objects.count() <= regions * (401 + 15) * keys


@pytest.mark.django_db
def test_a_towns_villages_and_a_village_read_daily_rows(ev: Any) -> None:
    generate(count=50, days=30, seed=3, now=NOW, timeline=False)
    for region, daily_queries in ((ev.tree.town_a1a, 1), (ev.tree.village_a1a1, 4)):
        with CaptureQueriesContext(connection) as ctx:
            selectors.statistics(ev.city_desk, region=region, date_from=dt.date(2026, 6, 1),
                                 date_to=dt.date(2026, 6, 30))
        assert sum("events_dailystat" in q["sql"] for q in ctx.captured_queries) == daily_queries


def test_month_split() -> None:
    split = selectors.month_split
    assert split(dt.date(2026, 1, 15), dt.date(2026, 2, 10)) == (None, [(dt.date(2026, 1, 15),
                                                                         dt.date(2026, 2, 10))])
    assert split(dt.date(2026, 1, 1), dt.date(2026, 1, 31)) == ((dt.date(2026, 1, 1), dt.date(2026, 1, 1)), [])
    assert split(dt.date(2025, 12, 31), dt.date(2026, 3, 1)) == (
        (dt.date(2026, 1, 1), dt.date(2026, 2, 1)),
        [(dt.date(2025, 12, 31), dt.date(2025, 12, 31)), (dt.date(2026, 3, 1), dt.date(2026, 3, 1))])
    assert split(dt.date(2026, 2, 1), dt.date(2026, 2, 27)) == (None, [(dt.date(2026, 2, 1), dt.date(2026, 2, 27))])


# --- the list's capped counts ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_list_count_is_exact_up_to_the_cap_then_capped(client: Any, ev: Any, monkeypatch: Any) -> None:
    from django.urls import reverse

    generate(count=12, days=5, seed=4, now=NOW, timeline=False, region_prefix="330902")
    client.force_login(ev.county_desk)
    answer = client.get("/api/v1/events?limit=5").json()
    assert (answer["count"], answer["count_capped"], len(answer["items"])) == (12, False, 5)
    monkeypatch.setattr(selectors, "COUNT_CAP", 10)
    answer = client.get("/api/v1/events?limit=5&offset=10").json()
    assert (answer["count"], answer["count_capped"], len(answer["items"])) == (10, True, 2)  # the pages go on
    assert selectors.capped_count(selectors.event_list(ev.county_desk), cap=12) == (12, False)
    # the queue page: a capped tab count and "of more than" pages
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    page = client.get(reverse("events:queue"), {"queue": "all"})
    tabs = {k: n for k, _label, n in page.context["tabs"]}
    assert tabs["all"] == 4 and page.context["page"].paginator.capped
    body = page.content.decode()
    assert 'data-testid="tab-all"' in body and "3+</span>" in body

