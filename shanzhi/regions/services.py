"""Writes to regions, grids and centres: one transaction each, scope re-checked, one audit row inside it."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from shanzhi.core import audit, codes
from shanzhi.core.codes import in_scope
from shanzhi.core.errors import Conflict, NotFound, ValidationFailed
from shanzhi.core.scope import prefixes_for, require_scope

from .models import CENTRE_KIND_FOR_LEVEL, Centre, CentreKind, DepartmentType, Grid, GridKind, Region, UrbanRural

PERM = "regions.change"
UNSET: Any = object()
GEOMETRY_TYPES = {"Polygon", "MultiPolygon"}


def _field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(detail={field: [message]})


def check_code(code: str) -> tuple[str, codes.Level]:
    """Normalise a short or full division code and check its structure; return (12-digit code, level)."""
    try:
        full = codes.normalize(code)
        return full, codes.validate(full)
    except codes.CodeError as exc:
        raise _field_error("code", str(exc)) from None


def check_geometry(value: Any, field: str) -> dict[str, Any] | None:
    """A GeoJSON Polygon/MultiPolygon (or a Feature holding one) with numeric [lng, lat] positions."""
    if value in (None, ""):
        return None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in GEOMETRY_TYPES:
        raise _field_error(field, _("Expected a GeoJSON Polygon or MultiPolygon."))
    coords = value.get("coordinates")
    polygons: list[Any] = [coords] if value["type"] == "Polygon" else (coords if isinstance(coords, list) else [])
    ok = bool(polygons)
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            ok = False
            break
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
                ok = False
                break
            for pos in ring:
                if not (isinstance(pos, list) and len(pos) >= 2
                        and all(isinstance(n, int | float) and not isinstance(n, bool) for n in pos[:2])
                        and -180 <= pos[0] <= 180 and -90 <= pos[1] <= 90):
                    ok = False
                    break
    if not ok:
        raise _field_error(field, _("The GeoJSON coordinates are not closed rings of [longitude, latitude]."))
    return {"type": value["type"], "coordinates": coords}


# --- regions ---------------------------------------------------------------------------------------------


def region_create(
    *, actor: Any, code: str, name: str, parent_code: str | None = None, urban_rural: str = "",
    boundary: Any = None,
) -> Region:
    full, level = check_code(code)
    expected_parent = codes.parent_code(full)
    if parent_code:
        given_parent, _lvl = check_code(parent_code)
        if given_parent != expected_parent:
            raise _field_error("parent_code", _("The code %(code)s does not lie directly under %(parent)s.")
                               % {"code": full, "parent": given_parent})
    name = (name or "").strip()
    if not name:
        raise _field_error("name", _("The name is empty."))
    if urban_rural and urban_rural not in UrbanRural.values:
        raise _field_error("urban_rural", _("Unknown urban/rural class."))
    geometry = check_geometry(boundary, "boundary")
    require_scope(actor, PERM, full)
    with transaction.atomic():
        parent = None
        if expected_parent is not None:
            parent = Region.objects.filter(code=expected_parent).first()
            if parent is None:
                raise _field_error("parent_code", _("The parent region %(parent)s does not exist.")
                                   % {"parent": expected_parent})
        if Region.objects.filter(code=full).exists():
            raise Conflict(_("A region with this code already exists."), detail={"code": full})
        region = Region.objects.create(code=full, level=level.value, name=name[:100], parent=parent,
                                       urban_rural=urban_rural, boundary=geometry)
        audit.record(actor=actor, action="regions.region.create", obj=region, after=audit.snapshot(region))
    return region


def region_update(
    *, actor: Any, region: Region, name: str | None = None, urban_rural: str | None = None,
    boundary: Any = UNSET, centroid: tuple[float, float] | None = None,
) -> Region:
    require_scope(actor, PERM, region.code)
    if name is not None and not name.strip():
        raise _field_error("name", _("The name is empty."))
    if urban_rural and urban_rural not in UrbanRural.values:
        raise _field_error("urban_rural", _("Unknown urban/rural class."))
    geometry = check_geometry(boundary, "boundary") if boundary is not UNSET else UNSET
    with transaction.atomic():
        region = Region.objects.select_for_update().get(code=region.code)
        before = audit.snapshot(region)
        if name is not None:
            region.name = name.strip()[:100]
        if urban_rural is not None:
            region.urban_rural = urban_rural
        if geometry is not UNSET:
            region.boundary = geometry
        if centroid is not None:
            region.centroid_lat, region.centroid_lng = centroid
        region.save()
        audit.record(actor=actor, action="regions.region.update", obj=region, before=before,
                     after=audit.snapshot(region))
    return region


# --- grids ----------------------------------------------------------------------------------------------


def _village(actor: Any, region_code: str) -> Region:
    full, level = check_code(region_code)
    require_scope(actor, PERM, full)
    region = Region.objects.filter(code=full).first()
    if region is None:
        raise NotFound("region")
    if level != codes.Level.VILLAGE:
        raise _field_error("region_code", _("A grid belongs to a village or community, not a %(level)s.")
                           % {"level": region.get_level_display()})
    return region


def grid_create(
    *, actor: Any, region_code: str, number: str, name: str, kind: str = GridKind.LAND, polygon: Any = None,
) -> Grid:
    region = _village(actor, region_code)
    number, name = (number or "").strip(), (name or "").strip()
    if not number:
        raise _field_error("number", _("The grid number is empty."))
    if not name:
        raise _field_error("name", _("The name is empty."))
    if kind not in GridKind.values:
        raise _field_error("kind", _("A grid is a land or a sea grid."))
    geometry = check_geometry(polygon, "polygon")
    with transaction.atomic():
        if Grid.objects.filter(region=region, number=number).exists():
            raise Conflict(_("This village already has a grid with this number."), detail={"number": number})
        grid = Grid.objects.create(region=region, region_code=region.code, number=number[:32], name=name[:100],
                                   kind=kind, polygon=geometry)
        audit.record(actor=actor, action="regions.grid.create", obj=grid, after=audit.snapshot(grid))
    return grid


def grid_update(
    *, actor: Any, grid: Grid, number: str | None = None, name: str | None = None, kind: str | None = None,
    polygon: Any = UNSET,
) -> Grid:
    require_scope(actor, PERM, grid.region_code)
    if number is not None and not number.strip():
        raise _field_error("number", _("The grid number is empty."))
    if name is not None and not name.strip():
        raise _field_error("name", _("The name is empty."))
    if kind is not None and kind not in GridKind.values:
        raise _field_error("kind", _("A grid is a land or a sea grid."))
    geometry = check_geometry(polygon, "polygon") if polygon is not UNSET else UNSET
    with transaction.atomic():
        grid = Grid.objects.select_for_update().get(pk=grid.pk)
        before = audit.snapshot(grid)
        if number is not None and number.strip() != grid.number:
            if Grid.objects.filter(region_id=grid.region_id, number=number.strip()).exists():
                raise Conflict(_("This village already has a grid with this number."),
                               detail={"number": number})
            grid.number = number.strip()[:32]
        if name is not None:
            grid.name = name.strip()[:100]
        if kind is not None:
            grid.kind = kind
        if geometry is not UNSET:
            grid.polygon = geometry
        grid.save()
        audit.record(actor=actor, action="regions.grid.update", obj=grid, before=before,
                     after=audit.snapshot(grid))
    return grid


def _check_worker(user: Any, grid: Grid, field: str) -> None:
    """A leader or member must be an active user who can see the grid's village."""
    from shanzhi.accounts.models import User

    if not isinstance(user, User) or not user.is_active:
        raise _field_error(field, _("Not an active user."))
    if not in_scope(grid.region_code, prefixes_for(user, "regions.view")):
        raise _field_error(field, _("%(user)s holds no role in this village.") % {"user": user.username})


def grid_assign(*, actor: Any, grid: Grid, leader: Any = UNSET, members: list[Any] | None = None) -> Grid:
    """Set the grid leader (``None`` clears it) and/or replace the members."""
    require_scope(actor, PERM, grid.region_code)
    if leader is not UNSET and leader is not None:
        _check_worker(leader, grid, "leader")
    for member in members or []:
        _check_worker(member, grid, "members")
    with transaction.atomic():
        grid = Grid.objects.select_for_update().get(pk=grid.pk)
        before = {**audit.snapshot(grid, ["leader"]), "members": sorted(grid.members.values_list("pk", flat=True))}
        if leader is not UNSET:
            grid.leader = leader
            grid.save(update_fields=["leader", "updated_at"])
        if members is not None:
            grid.members.set(members)
        after = {**audit.snapshot(grid, ["leader"]), "members": sorted(grid.members.values_list("pk", flat=True))}
        audit.record(actor=actor, action="regions.grid.assign", obj=grid, before=before, after=after)
    return grid


# --- centres --------------------------------------------------------------------------------------------


def centre_create(
    *, actor: Any, region_code: str, kind: str, name: str, phone: str = "", department_type: str | None = None,
) -> Centre:
    full, level = check_code(region_code)
    require_scope(actor, PERM, full)
    region = Region.objects.filter(code=full).first()
    if region is None:
        raise NotFound("region")
    name = (name or "").strip()
    if not name:
        raise _field_error("name", _("The name is empty."))
    if phone and not phone.replace("-", "").replace(" ", "").isdigit():
        raise _field_error("phone", _("A phone number holds digits only."))
    dept: DepartmentType | None = None
    if kind == CentreKind.DEPARTMENT:
        if level not in (codes.Level.COUNTY, codes.Level.CITY):
            raise _field_error("kind", _("Departments belong to a county or a city."))
        dept = DepartmentType.objects.filter(code=department_type or "").first()
        if dept is None:
            raise _field_error("department_type", _("Unknown department type."))
    elif kind not in CentreKind.values:
        raise _field_error("kind", _("Unknown centre kind."))
    elif CENTRE_KIND_FOR_LEVEL.get(level.value) != kind:
        raise _field_error("kind", _("This kind of centre does not belong to a %(level)s.")
                           % {"level": region.get_level_display()})
    with transaction.atomic():
        try:
            with transaction.atomic():
                centre = Centre.objects.create(region=region, region_code=full, kind=kind, name=name[:120],
                                               phone=phone[:20], department_type=dept)
        except IntegrityError:
            raise Conflict(_("This region already has this centre.")) from None
        audit.record(actor=actor, action="regions.centre.create", obj=centre, after=audit.snapshot(centre))
    return centre


def centre_update(*, actor: Any, centre: Centre, name: str | None = None, phone: str | None = None) -> Centre:
    require_scope(actor, PERM, centre.region_code)
    if name is not None and not name.strip():
        raise _field_error("name", _("The name is empty."))
    if phone and not phone.replace("-", "").replace(" ", "").isdigit():
        raise _field_error("phone", _("A phone number holds digits only."))
    with transaction.atomic():
        centre = Centre.objects.select_for_update().get(pk=centre.pk)
        before = audit.snapshot(centre)
        if name is not None:
            centre.name = name.strip()[:120]
        if phone is not None:
            centre.phone = phone[:20]
        centre.save()
        audit.record(actor=actor, action="regions.centre.update", obj=centre, before=before,
                     after=audit.snapshot(centre))
    return centre
