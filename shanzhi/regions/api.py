"""API of regions, grids, centres and department types (``/api/v1/regions``, ``/grids``, ``/centres``, …)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from shanzhi.core.errors import ValidationFailed

from . import selectors, services
from .models import Centre, Grid, Region


class RegionOut(Schema):
    code: str
    name: str
    level: str
    parent_code: str | None = Field(None, alias="parent_id")
    urban_rural: str
    centroid_lat: float | None = None
    centroid_lng: float | None = None


class GridOut(Schema):
    id: int
    region_code: str
    kind: str
    number: str
    name: str
    leader_id: int | None = None
    polygon: dict[str, Any] | None = None


class GridDetailOut(GridOut):
    member_ids: list[int]

    @staticmethod
    def resolve_member_ids(obj: Grid) -> list[int]:
        return [m.pk for m in obj.members.all()]


class GridIn(Schema):
    region_code: str
    number: str
    name: str
    kind: str = "land"
    polygon: dict[str, Any] | None = None


class GridPatch(Schema):
    number: str | None = None
    name: str | None = None
    kind: str | None = None
    polygon: dict[str, Any] | None = None
    leader_id: int | None = None
    member_ids: list[int] | None = None


class CentreOut(Schema):
    id: int
    region_code: str
    kind: str
    name: str
    phone: str
    department_type: str | None = Field(None, alias="department_type.code")


class CentreIn(Schema):
    region_code: str
    kind: str
    name: str
    phone: str = ""
    department_type: str | None = None


class CentrePatch(Schema):
    name: str | None = None
    phone: str | None = None


class DepartmentTypeOut(Schema):
    code: str
    name: str
    name_en: str


regions_router = Router(tags=["regions"])
grids_router = Router(tags=["regions"])
centres_router = Router(tags=["regions"])
department_types_router = Router(tags=["regions"])


@regions_router.get("", response=list[RegionOut], operation_id="regions_list_regions")
@paginate(LimitOffsetPagination)
def list_regions(request: HttpRequest, level: str = "", parent: str = "", q: str = "") -> Any:
    return selectors.regions(request.user, level=level, parent=parent, q=q)


@regions_router.get("/{code}", response=RegionOut, operation_id="regions_get_region")
def get_region(request: HttpRequest, code: str) -> Region:
    return selectors.region(request.user, code)


@regions_router.get("/{code}/children", response=list[RegionOut], operation_id="regions_list_children")
@paginate(LimitOffsetPagination)
def list_children(request: HttpRequest, code: str) -> Any:
    parent = selectors.region(request.user, code)
    return selectors.regions(request.user, parent=parent.code)


@regions_router.get("/{code}/geojson", response=dict[str, Any], operation_id="regions_region_geojson",
                    url_name="regions_region_geojson")
def region_geojson(request: HttpRequest, code: str) -> dict[str, Any]:
    return selectors.geojson(request.user, selectors.region(request.user, code))


@grids_router.get("", response=list[GridOut], operation_id="regions_list_grids")
@paginate(LimitOffsetPagination)
def list_grids(request: HttpRequest, region: str = "", kind: str = "", q: str = "") -> Any:
    return selectors.grids(request.user, region=region, kind=kind, q=q)


@grids_router.get("/{grid_id}", response=GridDetailOut, operation_id="regions_get_grid")
def get_grid(request: HttpRequest, grid_id: int) -> Grid:
    return selectors.grid(request.user, grid_id)


@grids_router.post("", response={201: GridDetailOut}, operation_id="regions_create_grid")
def create_grid(request: HttpRequest, body: GridIn) -> Status[Any]:
    grid = services.grid_create(actor=request.user, region_code=body.region_code, number=body.number,
                                name=body.name, kind=body.kind, polygon=body.polygon)
    return Status(201, selectors.grid(request.user, grid.pk))


@grids_router.patch("/{grid_id}", response=GridDetailOut, operation_id="regions_update_grid")
def update_grid(request: HttpRequest, grid_id: int, body: GridPatch) -> Grid:
    from shanzhi.accounts.models import User

    grid = selectors.grid(request.user, grid_id)
    fields = body.model_dump(exclude_unset=True)
    with transaction.atomic():  # the update and the assignment succeed or fail together
        if fields.keys() & {"number", "name", "kind", "polygon"}:
            grid = services.grid_update(
                actor=request.user, grid=grid, number=body.number, name=body.name, kind=body.kind,
                polygon=fields.get("polygon", services.UNSET),
            )
        if "leader_id" in fields or body.member_ids is not None:
            wanted = {*(body.member_ids or []), *([body.leader_id] if body.leader_id else [])}
            users = {u.pk: u for u in User.objects.filter(pk__in=wanted)}
            missing = sorted(wanted - set(users))
            if missing:
                raise ValidationFailed(detail={"users": [f"no such user: {pk}" for pk in missing]})
            leader: Any = services.UNSET
            if "leader_id" in fields:
                leader = users[body.leader_id] if body.leader_id else None
            members = [users[pk] for pk in body.member_ids] if body.member_ids is not None else None
            grid = services.grid_assign(actor=request.user, grid=grid, leader=leader, members=members)
    return selectors.grid(request.user, grid.pk)


@centres_router.get("", response=list[CentreOut], operation_id="regions_list_centres")
@paginate(LimitOffsetPagination)
def list_centres(request: HttpRequest, region: str = "", kind: str = "", q: str = "") -> Any:
    return selectors.centres(request.user, region=region, kind=kind, q=q)


@centres_router.get("/{centre_id}", response=CentreOut, operation_id="regions_get_centre")
def get_centre(request: HttpRequest, centre_id: int) -> Centre:
    return selectors.centre(request.user, centre_id)


@centres_router.post("", response={201: CentreOut}, operation_id="regions_create_centre")
def create_centre(request: HttpRequest, body: CentreIn) -> Status[Any]:
    centre = services.centre_create(actor=request.user, region_code=body.region_code, kind=body.kind,
                                    name=body.name, phone=body.phone, department_type=body.department_type)
    return Status(201, selectors.centre(request.user, centre.pk))


@centres_router.patch("/{centre_id}", response=CentreOut, operation_id="regions_update_centre")
def update_centre(request: HttpRequest, centre_id: int, body: CentrePatch) -> Centre:
    centre = selectors.centre(request.user, centre_id)
    services.centre_update(actor=request.user, centre=centre, name=body.name, phone=body.phone)
    return selectors.centre(request.user, centre_id)


@department_types_router.get("", response=list[DepartmentTypeOut], operation_id="regions_list_department_types")
def list_department_types(request: HttpRequest) -> Any:
    return list(selectors.department_types())


ROUTERS: list[tuple[str, Router]] = [
    ("regions", regions_router),
    ("grids", grids_router),
    ("centres", centres_router),
    ("department-types", department_types_router),
]
