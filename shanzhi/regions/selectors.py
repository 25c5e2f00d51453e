"""Reads of regions, grids and centres: every one takes the acting user and is scoped."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Substr

from shanzhi.core import codes
from shanzhi.core.codes import prefix_range
from shanzhi.core.scope import access, prefixes_for

from .models import Centre, DepartmentType, Grid, Region

VIEW = "regions.view"


def regions(user: Any, *, level: str = "", parent: str = "", q: str = "") -> QuerySet[Region]:
    qs: QuerySet[Region] = Region.objects.restrict(user, VIEW)
    if level:
        qs = qs.filter(level=level)
    if parent:
        qs = qs.filter(parent_id=parent)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__startswith=q))
    return qs.order_by("code")


def region(user: Any, code: str) -> Region:
    result: Region = access(Region.objects.all(), user, VIEW, code=code)
    return result


def top_regions(user: Any) -> list[Region]:
    """The regions at the top of the user's scope (one per minimal prefix)."""
    top = [p.ljust(codes.CODE_LENGTH, "0") for p in prefixes_for(user, VIEW)]
    return list(Region.objects.filter(code__in=top).order_by("code"))


def ancestors(user: Any, region: Region) -> list[Region]:
    """Breadcrumbs: the region's ancestors inside the user's scope, from the top, in one query."""
    chain: list[str] = []
    code: str | None = region.code
    while code is not None:
        code = codes.parent_code(code)
        if code:
            chain.append(code)
    return list(Region.objects.restrict(user, VIEW).filter(code__in=chain).order_by("code"))


def children_with_counts(user: Any, parent: Region) -> list[Region]:
    """The visible children of ``parent``, each with ``grid_count`` and ``village_count`` (two aggregates)."""
    children = list(regions(user, parent=parent.code))
    if not children:
        return children
    child_len = codes.PREFIX_LENGTH[codes.level_of(children[0].code)]
    low, high = prefix_range(parent.prefix)
    grid_counts = dict(
        Grid.objects.restrict(user, VIEW).filter(region_code__gte=low, region_code__lte=high)
        .annotate(child=Substr("region_code", 1, child_len)).values("child")
        .annotate(n=Count("id")).values_list("child", "n")
    )
    village_counts = dict(
        Region.objects.restrict(user, VIEW).filter(code__gte=low, code__lte=high, level="village")
        .annotate(child=Substr("code", 1, child_len)).values("child")
        .annotate(n=Count("code")).values_list("child", "n")
    )
    for child in children:
        key = child.code[:child_len]
        child.grid_count = grid_counts.get(key, 0)  # type: ignore[attr-defined]
        child.village_count = village_counts.get(key, 0)  # type: ignore[attr-defined]
    return children


def grids(user: Any, *, region: str = "", kind: str = "", q: str = "") -> QuerySet[Grid]:
    qs: QuerySet[Grid] = Grid.objects.restrict(user, VIEW).select_related("region", "leader")
    if region:
        low, high = prefix_range(codes.prefix_of(region) if len(region) == 12 else region)
        qs = qs.filter(region_code__gte=low, region_code__lte=high)
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(number=q))
    return qs.order_by("region_code", "number")


def grid(user: Any, pk: int) -> Grid:
    qs = Grid.objects.select_related("region", "leader").prefetch_related("members")
    result: Grid = access(qs, user, VIEW, pk=pk)
    return result


def centres(user: Any, *, region: str = "", kind: str = "", q: str = "") -> QuerySet[Centre]:
    qs: QuerySet[Centre] = Centre.objects.restrict(user, VIEW).select_related("region", "department_type")
    if region:
        low, high = prefix_range(codes.prefix_of(region) if len(region) == 12 else region)
        qs = qs.filter(region_code__gte=low, region_code__lte=high)
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by("region_code", "kind", "name")


def centre(user: Any, pk: int) -> Centre:
    result: Centre = access(Centre.objects.select_related("region", "department_type"), user, VIEW, pk=pk)
    return result


def department_types() -> QuerySet[DepartmentType]:
    return DepartmentType.objects.order_by("code")


def scope_counts(user: Any) -> dict[str, int]:
    """Villages/communities and grids in the user's scope (home card): two indexed counts."""
    return {
        "villages": Region.objects.restrict(user, VIEW).filter(level="village").count(),
        "grids": Grid.objects.restrict(user, VIEW).count(),
    }


def geojson(user: Any, parent: Region) -> dict[str, Any]:
    """The children's boundaries and, for a village, its grid polygons, as a FeatureCollection."""
    features: list[dict[str, Any]] = []
    if parent.boundary:
        features.append({"type": "Feature", "geometry": parent.boundary,
                         "properties": {"kind": "region", "code": parent.code, "name": parent.name, "self": True}})
    children = regions(user, parent=parent.code).filter(boundary__isnull=False)
    for child in children.only("code", "name", "level", "boundary"):
        features.append({"type": "Feature", "geometry": child.boundary,
                         "properties": {"kind": "region", "code": child.code, "name": child.name,
                                        "level": child.level}})
    low, high = prefix_range(parent.prefix)
    for g in (Grid.objects.restrict(user, VIEW).filter(region_code__gte=low, region_code__lte=high)
              .filter(polygon__isnull=False).only("id", "name", "number", "kind", "polygon", "region_code")):
        features.append({"type": "Feature", "geometry": g.polygon,
                         "properties": {"kind": "grid", "id": g.pk, "name": g.name, "number": g.number,
                                        "grid_kind": g.kind, "region_code": g.region_code}})
    return {"type": "FeatureCollection", "features": features}
