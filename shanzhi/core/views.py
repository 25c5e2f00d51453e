"""The home page: the user's roles and regions, what awaits them (cards from the apps), and their region."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import home as home_cards
from .codes import minimal_prefixes, prefix_of
from .scope import scope_q

# At most this many regions get a summary on the home page (a user rarely holds more).
SUMMARY_LIMIT = 4


@dataclass(frozen=True)
class RegionSummary:
    code: str
    prefix: str
    name: str
    level: str
    path: list[str]
    villages: int
    towns: int
    land_grids: int
    sea_grids: int
    centres: int


def region_summaries(user: Any, assignments: list[Any]) -> list[RegionSummary]:
    """A compact summary of each region the user holds a role in, counted inside their view scope.

    Regions are counted below the region itself.  Four queries whatever the number of regions: the
    ancestors' names, the region counts, the grid counts and the centre counts.
    """
    from shanzhi.regions.models import Centre, Grid, Region

    viewable = user.scope_prefixes("regions.view")
    prefixes = [p for p in minimal_prefixes([prefix_of(a.region_code) for a in assignments])
                if any(p.startswith(v) for v in viewable)][:SUMMARY_LIMIT]
    if not prefixes:
        return []
    regions = {a.region_code: a.region for a in assignments}
    by_prefix = {prefix_of(code): region for code, region in regions.items()}
    ancestor_codes = {p[:n].ljust(12, "0") for p in prefixes for n in (2, 4, 6, 9) if n < len(p)}
    names = dict(Region.objects.filter(code__in=ancestor_codes).values_list("code", "name"))

    def counted(prefix: str, field: str) -> Q:
        return scope_q([prefix], field)

    region_counts = Region.objects.restrict(user, "regions.view").aggregate(**{
        f"{kind}_{i}": Count("code", filter=counted(p, "code") & Q(level=kind) & ~Q(code=p.ljust(12, "0")))
        for i, p in enumerate(prefixes) for kind in ("village", "town")
    })
    grid_counts = Grid.objects.restrict(user, "regions.view").aggregate(**{
        f"{kind}_{i}": Count("id", filter=counted(p, "region_code") & Q(kind=kind))
        for i, p in enumerate(prefixes) for kind in ("land", "sea")
    })
    centre_counts = Centre.objects.restrict(user, "regions.view").aggregate(**{
        f"c_{i}": Count("id", filter=counted(p, "region_code")) for i, p in enumerate(prefixes)
    })
    result = []
    for i, prefix in enumerate(prefixes):
        region = by_prefix[prefix]
        path = [names[c] for c in sorted(names) if prefix.startswith(prefix_of(c)) and len(prefix_of(c)) < len(prefix)]
        result.append(RegionSummary(
            code=region.code, prefix=prefix, name=region.name, level=region.get_level_display(), path=path,
            villages=region_counts[f"village_{i}"], towns=region_counts[f"town_{i}"],
            land_grids=grid_counts[f"land_{i}"], sea_grids=grid_counts[f"sea_{i}"],
            centres=centre_counts[f"c_{i}"],
        ))
    return result


@login_required
def home(request: HttpRequest) -> HttpResponse:
    from shanzhi.accounts.models import RoleAssignment

    user = request.user
    assignments = list(
        RoleAssignment.objects.filter(user_id=int(user.pk or 0)).select_related("region").order_by("region_code")
    )
    return render(request, "core/home.html", {
        "assignments": assignments,
        "summaries": region_summaries(user, assignments),
        "cards": home_cards.cards_for(user),
    })
