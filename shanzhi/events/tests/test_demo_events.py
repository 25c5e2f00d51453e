"""The events demo hook on the small test tree: history in every state plus live events with real timelines."""

from __future__ import annotations

import datetime as dt
import random
import sys
import types
from typing import Any

import pytest
from django.db.models import Sum
from django.utils import timezone

from shanzhi.core.demo import DemoContext
from shanzhi.core.models import AuditEntry
from shanzhi.events import demo
from shanzhi.events.models import DailyStat, Event, TimelineEntry
from shanzhi.regions.models import Region
from shanzhi.testing import factories


def _ctx(tree: factories.Tree) -> DemoContext:
    village = tree.village_a1a1
    gw = factories.make_user("grid_worker", village)
    tree.grids[village].members.add(gw)
    for role in ("resident", "village_cadre", "village_admin"):
        factories.make_user(role, village)
    factories.make_user("dispatcher", tree.town_a1a)
    factories.make_user("dispatcher", tree.county_a1)
    factories.make_user("city_admin", tree.city_a)
    now = timezone.make_aware(dt.datetime(2026, 5, 20, 9, 0))
    return DemoContext(size="small", rng=random.Random(5), now=now,
                       villages=list(Region.objects.filter(level="village").order_by("code")),
                       land_grids=list(tree.grids.values()), log=lambda _msg: None)


@pytest.mark.django_db
def test_demo_builds_history_and_live_events(tree: factories.Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    fake = types.ModuleType("shanzhi.events.mediation_services")
    fake.demo_fill = lambda event, rng, actor: calls.append((event.pk, event.category.code, actor))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shanzhi.events.mediation_services", fake)
    ctx = _ctx(tree)
    demo.build(ctx)

    history = Event.objects.filter(created_at__lt=ctx.now)
    assert history.count() == demo.PER_VILLAGE["small"] * len(ctx.villages)
    assert history.earliest("created_at").created_at >= ctx.now - dt.timedelta(days=demo.HISTORY_DAYS)
    assert history.latest("created_at").created_at > ctx.now - dt.timedelta(days=30)
    # live events in the headline village went through the services: every scenario in its state
    live = {e.title: e for e in Event.objects.filter(region_code=tree.village_a1a1, created_at__gte=ctx.now)}
    assert len(live) == len(demo.SCENARIOS)
    assert live["村口垃圾堆放"].status == "reported"
    assert live["道路两侧乱堆建材"].status == "accepted"
    assert live["河埠头暴露垃圾"].status == "in_progress" and live["河埠头暴露垃圾"].assignee_id is not None
    assert live["老旧民房电线私拉乱接"].status == "closed"
    assert live["邻居加盖阳台遮挡采光"].status == "rated"
    assert live["小区物业收费纠纷"].status == "reopened"  # a low rating reopens
    assert live["承包地边界争议"].status == "escalated" and live["承包地边界争议"].level == "county"
    assert live["夜间路灯损坏存在治安隐患"].status == "reopened"
    assert live["消防通道被占用"].supervised
    assert live["废弃渔网堆放"].status == "suspended"
    assert live["重复反映的垃圾问题"].status == "voided"
    rated = live["邻居加盖阳台遮挡采光"]
    actions = list(TimelineEntry.objects.filter(event=rated).values_list("action", flat=True))
    assert actions == ["report", "accept", "dispatch", "start", "handle", "verify_pass", "close", "rate"]
    assert not TimelineEntry.objects.filter(event=rated, actor__isnull=True).exists()
    assert AuditEntry.objects.filter(action="events.event.create").count() >= len(demo.SCENARIOS)
    # the dispute events were handed to the mediation filler
    disputes = {code for _pk, code, _actor in calls}
    assert {"neighbour_dispute", "family_dispute", "property_dispute", "land_dispute"} <= disputes
    assert all(actor != "system" for _pk, _code, actor in calls)
    # every state is present somewhere, and the rollups count every event
    statuses = set(Event.objects.values_list("status", flat=True))
    assert {"reported", "accepted", "in_progress", "closed", "rated", "escalated", "reopened", "suspended",
            "voided"} <= statuses
    assert DailyStat.objects.filter(metric="created").aggregate(s=Sum("value"))["s"] == Event.objects.count()


@pytest.mark.django_db
def test_demo_without_mediation_filler(tree: factories.Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "shanzhi.events.mediation_services", types.ModuleType("empty"))
    ctx = _ctx(tree)
    demo.build(ctx)
    assert Event.objects.filter(category__is_dispute=True, created_at__gte=ctx.now).exists()
