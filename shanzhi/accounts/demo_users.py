"""Demo users: at least one per role and level, all with the one shared demo password.

The headline users (one per role, in 定海区 / 马岙街道 and its first village) are created through
:func:`shanzhi.accounts.services.user_create` like any real account.  The hundreds of others (an
administrator, cadre, supervisor and resident per village, a worker per grid, a dispatcher per town …) are
bulk-created with the same password hash and recorded by one audit row per step.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from shanzhi.core import audit
from shanzhi.core.demo import DemoContext
from shanzhi.regions.demo_city import Built
from shanzhi.regions.models import Grid, Region

from . import services
from .models import RoleAssignment, User
from .roles import ROLE_LABELS, Role

DEMO_PASSWORD = "Shanzhi-demo-2026"  # noqa: S105 - the published demo password
# The region whose users are printed at start: 定海区 / 马岙街道 exist in every size.
HEADLINE_COUNTY = "330902000000"
HEADLINE_TOWN = "330902008000"


@dataclass(frozen=True)
class Planned:
    username: str
    display_name: str
    role: Role
    region: Region
    grids: tuple[Grid, ...] = ()


def _plan(built: Built) -> list[Planned]:
    plan: list[Planned] = []
    slug = built.slugs
    for city in built.cities:
        tag = "" if city.code.startswith("3309") else f"_{slug[city.code]}"
        plan.append(Planned(f"city_admin{tag}", f"{city.name}管理员", Role.CITY_ADMIN, city))
        plan.append(Planned(f"dispatcher_city{tag}", f"{city.name}综治中心调度员", Role.DISPATCHER, city))
        plan.append(Planned(f"auditor_city{tag}", f"{city.name}审计员", Role.AUDITOR, city))
        plan.append(Planned(f"handler_police_city{tag}", f"{city.name}公安局办理人", Role.HANDLER, city))
    for county in built.counties:
        s = slug[county.code]
        plan.append(Planned(f"county_admin_{s}", f"{county.name}管理员", Role.COUNTY_ADMIN, county))
        plan.append(Planned(f"dispatcher_county_{s}", f"{county.name}矛调中心调度员", Role.DISPATCHER, county))
        plan.append(Planned(f"handler_police_{s}", f"{county.name}公安分局办理人", Role.HANDLER, county))
        plan.append(Planned(f"handler_justice_{s}", f"{county.name}司法局办理人", Role.HANDLER, county))
    for town in built.towns:
        s = slug[town.code]
        plan.append(Planned(f"town_admin_{s}", f"{town.name}管理员", Role.TOWN_ADMIN, town))
        plan.append(Planned(f"dispatcher_town_{s}", f"{town.name}镇街小脑调度员", Role.DISPATCHER, town))
    grids_of: dict[str, list[Grid]] = {}
    for grid in built.land_grids + built.sea_grids:
        grids_of.setdefault(grid.region_code, []).append(grid)
    for village in built.villages:
        c = village.code
        plan.append(Planned(f"village_admin_{c}", f"{village.name}管理员", Role.VILLAGE_ADMIN, village))
        plan.append(Planned(f"village_cadre_{c}", f"{village.name}村干部", Role.VILLAGE_CADRE, village))
        plan.append(Planned(f"supervisor_{c}", f"{village.name}村监会委员", Role.SUPERVISOR, village))
        plan.append(Planned(f"resident_{c}", f"{village.name}居民（演示）", Role.RESIDENT, village))
        for grid in grids_of.get(c, []):
            plan.append(Planned(f"grid_worker_{c}_{grid.number.lower()}", f"{grid.name}网格员",
                                Role.GRID_WORKER, village, (grid,)))
    return plan


def _headline(plan: list[Planned], built: Built) -> list[Planned]:
    """One user per role for the printed table: the city, 定海区, 马岙街道 and its first village."""
    village = next((v.code for v in built.villages if v.code.startswith(HEADLINE_TOWN[:9])), "")
    wanted = {"330900000000", HEADLINE_COUNTY, HEADLINE_TOWN, village}
    chosen: list[Planned] = []
    seen: set[tuple[Role, str]] = set()
    for p in plan:
        if p.region.code not in wanted or (p.role, p.region.code) in seen:
            continue
        if p.role is Role.HANDLER and "police" not in p.username:
            continue
        seen.add((p.role, p.region.code))
        chosen.append(p)
    return chosen


def build(ctx: DemoContext, built: Built) -> None:
    plan = _plan(built)
    headline = _headline(plan, built)
    headline_names = {p.username for p in headline}

    # headline users: through the service, like any account
    for p in headline:
        user = services.user_create(actor=None, username=p.username, password=DEMO_PASSWORD, role=p.role.value,
                                    region_code=p.region.code, display_name=p.display_name, check_scope=False)
        ctx.users[user.username] = user
        ctx.logins.append((p.username, DEMO_PASSWORD, f"{ROLE_LABELS[p.role]} · {p.region.name}"))

    # the rest in bulk, one hash for all (they share the demo password)
    rest = [p for p in plan if p.username not in headline_names]
    encoded = make_password(DEMO_PASSWORD)
    now = timezone.now()
    with transaction.atomic():
        users = [User(username=p.username, display_name=p.display_name, password=encoded,
                      password_changed_at=now) for p in ctx.track(rest, "users", len(rest))]
        User.objects.bulk_create(users, batch_size=500)
        ids = dict(User.objects.filter(username__in=[p.username for p in plan]).values_list("username", "id"))
        RoleAssignment.objects.bulk_create(
            [RoleAssignment(user_id=ids[p.username], role=p.role.value, region_id=p.region.code,
                            region_code=p.region.code) for p in rest],
            batch_size=500,
        )
        counts: dict[str, int] = {}
        for p in rest:
            counts[p.role.value] = counts.get(p.role.value, 0) + 1
        audit.record(actor=None, action="accounts.user.demo_build", object_type="accounts.user",
                     region_code=built.province.code, after={"users": len(rest), "by_role": counts})

        # grid workers lead and staff their grids
        members = []
        leaders: list[Grid] = []
        for p in plan:
            for grid in p.grids:
                grid.leader_id = ids[p.username]
                leaders.append(grid)
                members.append(Grid.members.through(grid_id=grid.pk, user_id=ids[p.username]))
        Grid.objects.bulk_update(leaders, ["leader"], batch_size=500)
        Grid.members.through.objects.bulk_create(members, batch_size=500)
        audit.record(actor=None, action="regions.grid.demo_staff", object_type="regions.grid",
                     region_code=built.province.code, after={"grids_staffed": len(leaders)})
    for user in User.objects.filter(username__in=[p.username for p in rest]):
        ctx.users[user.username] = user


def summary_rows(ctx: DemoContext) -> list[tuple[str, str, str, str]]:
    """(username, password, role, region) for the printed table."""
    rows = []
    for username, password, description in ctx.logins:
        role, _sep, region = description.partition(" · ")
        rows.append((username, password, role, region))
    return rows
