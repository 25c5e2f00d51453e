"""Reads of real-name base data: every function takes the user and answers only rows in their scope."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet

from shanzhi.core.codes import prefix_range
from shanzhi.core.crypto import blind_index, normalise

from .models import FishingVessel, House, Household, Organisation, Resident

VIEW = "people.view"

ID_LIKE = re.compile(r"^\d{17}[\dXx]$")
PHONE_LIKE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True)
class Filters:
    prefix: str = ""
    grid: int | None = None
    tag: str = ""
    q: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Filters:
        grid = str(params.get("grid") or "")
        prefix = str(params.get("prefix") or params.get("region") or "")
        return cls(
            prefix=prefix if prefix.isdigit() and len(prefix) <= 12 else "",
            grid=int(grid) if grid.isdigit() else None,
            tag=str(params.get("tag") or "")[:40],
            q=str(params.get("q") or "").strip()[:60],
        )


def _prefix(qs: QuerySet[Any], prefix: str) -> QuerySet[Any]:
    if not prefix:
        return qs
    low, high = prefix_range(prefix)
    return qs.filter(region_code__gte=low, region_code__lte=high)


def lookup_kind(q: str) -> str:
    """'id_number' or 'phone' when the query looks like one (exact lookup by blind index), else ''."""
    compact = normalise("phone", q)
    if ID_LIKE.match(compact):
        return "id_number"
    if PHONE_LIKE.match(compact):
        return "phone"
    return ""


def residents(user: Any, filters: Filters | None = None, permission: str = VIEW) -> QuerySet[Resident]:
    f = filters or Filters()
    qs: QuerySet[Any] = (Resident.objects.restrict(user, permission).filter(active=True)
                         .select_related("grid", "household"))
    qs = _prefix(qs, f.prefix)
    if f.grid:
        qs = qs.filter(grid_id=f.grid)
    if f.tag:
        # tags is a small JSON list; a contains lookup needs JSON1/PG, so match the serialised token instead
        qs = qs.filter(tags__icontains=f'"{f.tag}"')
    if f.q:
        kind = lookup_kind(f.q)
        if kind == "id_number":
            qs = qs.filter(id_number_bidx=blind_index("id_number", f.q))
        elif kind == "phone":
            qs = qs.filter(phone_bidx=blind_index("phone", f.q))
        else:
            qs = qs.filter(name__icontains=f.q)
    return qs.order_by("region_code", "id")


def resident(user: Any, pk: Any) -> Resident:
    from shanzhi.core.scope import access

    return access(Resident.objects.filter(active=True).select_related("grid", "household", "house"), user, VIEW,
                  pk=pk)


def households(user: Any, filters: Filters | None = None) -> QuerySet[Household]:
    f = filters or Filters()
    qs: QuerySet[Any] = Household.objects.restrict(user, VIEW).filter(active=True).select_related("grid", "head")
    qs = _prefix(qs, f.prefix)
    if f.grid:
        qs = qs.filter(grid_id=f.grid)
    if f.q:
        qs = qs.filter(number__icontains=f.q)
    annotated: QuerySet[Household] = qs.annotate(member_count=Count("members")).order_by("region_code", "number")
    return annotated


def household(user: Any, pk: Any) -> Household:
    from shanzhi.core.scope import access

    return access(Household.objects.filter(active=True).select_related("grid", "head"), user, VIEW, pk=pk)


def household_members(user: Any, household: Household) -> QuerySet[Resident]:
    return residents(user).filter(household=household)


def houses(user: Any, filters: Filters | None = None) -> QuerySet[House]:
    f = filters or Filters()
    qs: QuerySet[Any] = House.objects.restrict(user, VIEW).filter(active=True).select_related("grid")
    qs = _prefix(qs, f.prefix)
    if f.grid:
        qs = qs.filter(grid_id=f.grid)
    if f.q:
        qs = qs.filter(house_number__icontains=f.q)
    return qs.order_by("region_code", "house_number", "id")


def house(user: Any, pk: Any) -> House:
    from shanzhi.core.scope import access

    return access(House.objects.filter(active=True).select_related("grid"), user, VIEW, pk=pk)


def organisations(user: Any, filters: Filters | None = None) -> QuerySet[Organisation]:
    f = filters or Filters()
    qs: QuerySet[Any] = Organisation.objects.restrict(user, VIEW).filter(active=True).select_related("grid")
    qs = _prefix(qs, f.prefix)
    if f.grid:
        qs = qs.filter(grid_id=f.grid)
    if f.q:
        if lookup_kind(f.q) == "phone":
            qs = qs.filter(phone_bidx=blind_index("phone", f.q))
        elif len(f.q) == 18 and f.q.isalnum():
            qs = qs.filter(credit_code=f.q.upper())
        else:
            qs = qs.filter(name__icontains=f.q)
    return qs.order_by("region_code", "name", "id")


def organisation(user: Any, pk: Any) -> Organisation:
    from shanzhi.core.scope import access

    return access(Organisation.objects.filter(active=True).select_related("grid"), user, VIEW, pk=pk)


def vessels(user: Any, filters: Filters | None = None) -> QuerySet[FishingVessel]:
    f = filters or Filters()
    qs: QuerySet[Any] = (FishingVessel.objects.restrict(user, VIEW).filter(active=True)
          .select_related("sea_grid", "captain").prefetch_related("crew"))
    qs = _prefix(qs, f.prefix)
    if f.grid:
        qs = qs.filter(sea_grid_id=f.grid)
    if f.q:
        qs = qs.filter(ship_number__icontains=f.q) | qs.filter(mmsi=f.q)
    return qs.order_by("region_code", "ship_number")


def vessel(user: Any, pk: Any) -> FishingVessel:
    from shanzhi.core.scope import access

    return access(FishingVessel.objects.filter(active=True).select_related("sea_grid", "captain")
                  .prefetch_related("crew"), user, VIEW, pk=pk)


def counts(user: Any) -> dict[str, int]:
    """Counts for the home card: one query per kind."""
    return {
        "residents": Resident.objects.restrict(user, VIEW).filter(active=True).count(),
        "households": Household.objects.restrict(user, VIEW).filter(active=True).count(),
        "houses": House.objects.restrict(user, VIEW).filter(active=True).count(),
        "organisations": Organisation.objects.restrict(user, VIEW).filter(active=True).count(),
        "vessels": FishingVessel.objects.restrict(user, VIEW).filter(active=True).count(),
    }
