"""Demo hook: months of event history in every state, plus a handful of live events with real timelines.

History (``ctx.now`` minus about six months up to now) comes from the volume generator — fast, with rollups
that agree with the rows.  Then a few events per headline village are reported and moved through the real
services (``event_create`` / ``event_transition``) by the demo users, so their timelines, notifications and
audit rows are genuine: new, accepted, in progress, closed, rated, escalated, reworked, supervised, suspended,
and dispute events (whose mediation record is filled by ``mediation_services.demo_fill`` when it exists).
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from typing import Any

from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.core.codes import in_scope
from shanzhi.core.demo import DemoContext
from shanzhi.core.errors import PermissionDenied

from . import routing, services
from .generate import generate
from .models import LEVEL_ORDER, Category, Event
from .transitions import TABLE

PER_VILLAGE = {"small": 12, "city": 30, "province": 8}
HISTORY_DAYS = 182
LIVE_VILLAGES = {"small": 2, "city": 3, "province": 3}
HEADLINE_TOWN = "330902008000"

# (category, who reports, [(action, opinion, params)]) — params "assignee" is filled with a handler in scope
Step = tuple[str, str, dict[str, Any]]
SCENARIOS: list[tuple[str, str, str, list[Step]]] = [
    ("exposed_garbage", "grid_worker", "村口垃圾堆放", []),
    ("stacked_materials", "grid_worker", "道路两侧乱堆建材", [("accept", "", {})]),
    ("exposed_garbage", "grid_worker", "河埠头暴露垃圾", [
        ("accept", "", {}), ("dispatch", "", {"assignee": True}), ("start", "", {})]),
    ("fire_hazard", "grid_worker", "老旧民房电线私拉乱接", [
        ("accept", "", {}), ("dispatch", "", {"assignee": True}), ("start", "", {}),
        ("handle", "已更换线路并加装漏电保护", {}), ("verify_pass", "", {}), ("close", "", {})]),
    ("neighbour_dispute", "resident", "邻居加盖阳台遮挡采光", [
        ("accept", "", {}), ("dispatch", "", {"assignee": True}), ("start", "", {}),
        ("handle", "经村调委会调解,双方签订协议", {}), ("verify_pass", "", {}), ("close", "", {}),
        ("rate", "", {"rating": 5, "comment": "调解及时,很满意"})]),
    ("family_dispute", "resident", "赡养老人问题家庭矛盾", [
        ("accept", "", {}), ("dispatch", "", {"assignee": True}), ("start", "", {})]),
    ("property_dispute", "resident", "小区物业收费纠纷", [
        ("accept", "", {}), ("dispatch", "", {"assignee": True}), ("start", "", {}),
        ("handle", "已协调物业公司说明收费依据", {}), ("verify_pass", "", {}), ("close", "", {}),
        ("rate", "", {"rating": 2, "comment": "问题没有真正解决"})]),
    ("land_dispute", "village_cadre", "承包地边界争议", [
        ("accept", "", {}), ("escalate", "涉及跨镇土地权属,需区级协调", {})]),
    ("security_hazard", "grid_worker", "夜间路灯损坏存在治安隐患", [
        ("accept", "", {}), ("dispatch", "", {"assignee": True}), ("start", "", {}),
        ("handle", "已报修", {}), ("verify_fail", "现场核查路灯仍未修复", {})]),
    ("illegal_parking", "grid_worker", "消防通道被占用", [
        ("accept", "", {}), ("supervise", "群众反映强烈,请三日内办结", {})]),
    ("stacked_materials", "grid_worker", "废弃渔网堆放", [
        ("accept", "", {}), ("suspend", "等待船主出海归来", {})]),
    ("exposed_garbage", "resident", "重复反映的垃圾问题", [("void", "与已受理事件重复", {})]),
]


def build(ctx: DemoContext) -> None:
    villages = len(ctx.villages) or 1
    count = PER_VILLAGE.get(ctx.size, 12) * villages
    ctx.log(f"events: {count} events of history …")
    result = generate(count=count, days=HISTORY_DAYS, seed=ctx.rng.randrange(2**31), now=ctx.now)
    ctx.log(f"events: {result.events} events, {result.timeline} timeline rows in {result.seconds:.1f} s")
    live = _live_villages(ctx)
    fill = _demo_fill()
    for code in ctx.track(live, "live events", len(live)):
        for category, reporter_role, title, steps in SCENARIOS:
            _play(ctx, code, category, reporter_role, title, steps, fill)


def sample_custom(fields: list[dict[str, Any]], rng: Any, today: dt.date) -> dict[str, Any]:
    """Plausible values for a category's custom fields (required ones always, optional ones sometimes)."""
    values: dict[str, Any] = {}
    for spec in fields or []:
        if not spec.get("required") and rng.random() < 0.5:
            continue
        kind = spec.get("type", "text")
        if kind == "int":
            values[spec["name"]] = rng.randrange(2, 5) if spec["name"] == "parties" else rng.randrange(1, 50) * 1000
        elif kind == "bool":
            values[spec["name"]] = rng.random() < 0.5
        elif kind == "choice" and spec.get("choices"):
            values[spec["name"]] = rng.choice(spec["choices"])
        elif kind == "date":
            values[spec["name"]] = today.isoformat()
        else:
            values[spec["name"]] = "演示"
    return values


def _live_villages(ctx: DemoContext) -> list[str]:
    codes = sorted(v.code for v in ctx.villages)
    first = [c for c in codes if c.startswith(HEADLINE_TOWN[:9])]
    rest = [c for c in codes if c not in first]
    picked = first[:1] + [rest[i] for i in sorted(ctx.rng.sample(range(len(rest)), min(len(rest), 8)))]
    return picked[: LIVE_VILLAGES.get(ctx.size, 2)]


def _demo_fill() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("shanzhi.events.mediation_services")
    except ImportError:
        return None
    fill = getattr(module, "demo_fill", None)
    return fill if callable(fill) else None


def _people(village: str) -> list[User]:
    """Users whose assignment covers the village, lowest level first."""
    ancestors = {routing.ancestor_code(village, level) for level in LEVEL_ORDER} | {village}
    ids = list(RoleAssignment.objects.filter(region_code__in=ancestors).order_by("-region_code", "role", "user_id")
               .values_list("user_id", flat=True))
    users = {u.pk: u for u in User.objects.filter(pk__in=ids, is_active=True)}
    seen: list[User] = []
    for pk in ids:
        if pk in users and users[pk] not in seen:
            seen.append(users[pk])
    return seen


def _reporter(people: list[User], role: str, village: str) -> User | None:
    for user in people:
        if any(r == role and code == village for r, code in user._assignment_rows()):
            return user
    return None


def _actor(event: Event, action: str, people: list[User]) -> User | str:
    rule = TABLE[action]
    for user in people:
        try:
            services.check_actor(event, rule, user)
        except PermissionDenied:
            continue
        return user
    return "system"


def _handler(event: Event, people: list[User]) -> int | None:
    target = event.department or event.centre
    for user in people:
        if in_scope(target.region_code, user.scope_prefixes("events.handle")):
            return int(user.pk)
    return None


def _play(ctx: DemoContext, village: str, category: str, reporter_role: str, title: str, steps: list[Step],
          fill: Callable[..., Any] | None) -> None:
    cat = Category.objects.filter(code=category, active=True).first()
    people = _people(village)
    reporter = _reporter(people, reporter_role, village)
    if cat is None or reporter is None:
        return
    grid = next((g for g in ctx.land_grids if g.region_code == village), None)
    data = services.Intake(
        title=title, category=category, region_code=village, grid_id=grid.pk if grid else None,
        description=f"{title},请尽快处理。", source="resident" if reporter_role == "resident" else "grid_worker",
        reporter_name="演示居民" if reporter_role == "resident" else "", address="村委会附近",
        custom=sample_custom(cat.fields, ctx.rng, ctx.now.date()),
    )
    event, _created = services.event_create(actor=reporter, data=data)
    for action, opinion, params in steps:
        current = Event.objects.select_related("category", "centre", "department", "region").get(pk=event.pk)
        actor: Any = reporter if action == "rate" else _actor(current, action, people)
        real = dict(params)
        if real.pop("assignee", False):
            real["assignee_id"] = _handler(current, people)
        event = services.event_transition(event_id=event.pk, actor=actor, action=action, opinion=opinion,
                                          params=real)
    if cat.is_dispute and fill is not None:
        fill(event, ctx.rng, _actor(event, "accept", people))
