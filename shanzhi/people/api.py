"""API of real-name base data: /api/v1/people/… and /api/v1/vessels/….  Answers are always masked; the plain
values of one resident come only from the audited ``unmask`` action."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from shanzhi.core.masking import mask

from . import selectors, services
from .models import FishingVessel, House, Household, Organisation, Resident

router = Router(tags=["people"])
vessel_router = Router(tags=["vessels"])

MAX_PAGE_SIZE = 100


class ListParams(Schema):
    prefix: str = Field("", description="region code prefix (e.g. 330902008)")
    grid: int | None = None
    tag: str = ""
    q: str = Field("", description="name, or an exact ID number / phone (looked up by blind index)")
    page: int = Field(1, ge=1)
    page_size: int = Field(25, ge=1, le=MAX_PAGE_SIZE)


def _page(qs: QuerySet[Any], params: ListParams) -> tuple[int, list[Any]]:
    count = qs.count()
    start = (params.page - 1) * params.page_size
    return count, list(qs[start:start + params.page_size])


def _filters(params: ListParams) -> selectors.Filters:
    return selectors.Filters.from_params(params.dict())


# --- schemas ------------------------------------------------------------------------------------------------


class ResidentOut(Schema):
    id: int
    region_code: str
    name: str
    id_number: str
    sex: str
    birth_date: dt.date | None
    phone: str
    address: str
    household_id: int | None
    relation: str
    residence_type: str
    tags: list[str]
    house_id: int | None
    grid_id: int | None
    is_party_member: bool

    @staticmethod
    def of(r: Resident) -> ResidentOut:
        return ResidentOut(
            id=r.pk, region_code=r.region_code, name=mask("name", r.name), id_number=mask("id_number", r.id_number),
            sex=r.sex, birth_date=r.birth_date, phone=mask("phone", r.phone), address=mask("address", r.address),
            household_id=r.household_id, relation=r.relation, residence_type=r.residence_type, tags=list(r.tags),
            house_id=r.house_id, grid_id=r.grid_id, is_party_member=r.is_party_member,
        )


class ResidentPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ResidentOut]


class ResidentIn(Schema):
    region_code: str
    name: str
    id_number: str
    phone: str = ""
    address: str = ""
    grid_id: int | None = None
    household_id: int | None = None
    relation: str = ""
    residence_type: str = "registered"
    tags: list[str] = []
    house_id: int | None = None
    is_party_member: bool = False
    notes: str = ""


class ResidentPatch(Schema):
    region_code: str | None = None
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None
    grid_id: int | None = None
    household_id: int | None = None
    relation: str | None = None
    residence_type: str | None = None
    tags: list[str] | None = None
    house_id: int | None = None
    is_party_member: bool | None = None
    notes: str | None = None


class UnmaskIn(Schema):
    reason: str


class UnmaskOut(Schema):
    name: str
    id_number: str
    phone: str
    address: str


class HouseholdOut(Schema):
    id: int
    region_code: str
    number: str
    head_id: int | None
    head_name: str
    address: str
    grid_id: int | None

    @staticmethod
    def of(h: Household) -> HouseholdOut:
        return HouseholdOut(id=h.pk, region_code=h.region_code, number=h.number, head_id=h.head_id,
                            head_name=mask("name", h.head.name) if h.head else "",
                            address=mask("address", h.address), grid_id=h.grid_id)


class HouseholdPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[HouseholdOut]


class HouseholdIn(Schema):
    region_code: str
    number: str
    address: str = ""
    grid_id: int | None = None
    head_id: int | None = None


class HouseOut(Schema):
    id: int
    region_code: str
    house_number: str
    address: str
    use: str
    area: Decimal | None
    owner_name: str
    grid_id: int | None
    lat: float | None
    lng: float | None

    @staticmethod
    def of(h: House) -> HouseOut:
        return HouseOut(id=h.pk, region_code=h.region_code, house_number=h.house_number,
                        address=mask("address", h.address), use=h.use, area=h.area,
                        owner_name=mask("name", h.owner_name), grid_id=h.grid_id, lat=h.lat, lng=h.lng)


class HousePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[HouseOut]


class HouseIn(Schema):
    region_code: str
    house_number: str
    address: str = ""
    use: str = "own"
    area: Decimal | None = None
    owner_name: str = ""
    grid_id: int | None = None
    lat: float | None = None
    lng: float | None = None


class OrganisationOut(Schema):
    id: int
    region_code: str
    name: str
    credit_code: str
    kind: str
    legal_representative: str
    phone: str
    address: str
    grid_id: int | None

    @staticmethod
    def of(o: Organisation) -> OrganisationOut:
        return OrganisationOut(id=o.pk, region_code=o.region_code, name=o.name, credit_code=o.credit_code,
                               kind=o.kind, legal_representative=mask("name", o.legal_representative),
                               phone=mask("phone", o.phone), address=mask("address", o.address),
                               grid_id=o.grid_id)


class OrganisationPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[OrganisationOut]


class OrganisationIn(Schema):
    region_code: str
    name: str
    credit_code: str = ""
    kind: str = "company"
    legal_representative: str = ""
    phone: str = ""
    address: str = ""
    grid_id: int | None = None


class PersonRef(Schema):
    id: int
    name: str


class VesselOut(Schema):
    id: int
    region_code: str
    ship_number: str
    mmsi: str
    length_m: Decimal | None
    power_kw: Decimal | None
    home_port: str
    status: str
    sea_grid_id: int
    sea_grid_name: str
    captain: PersonRef | None
    crew: list[PersonRef]

    @staticmethod
    def of(v: FishingVessel) -> VesselOut:
        return VesselOut(
            id=v.pk, region_code=v.region_code, ship_number=v.ship_number, mmsi=v.mmsi, length_m=v.length_m,
            power_kw=v.power_kw, home_port=v.home_port, status=v.status, sea_grid_id=v.sea_grid_id,
            sea_grid_name=v.sea_grid.name,
            captain=PersonRef(id=v.captain.pk, name=mask("name", v.captain.name)) if v.captain else None,
            crew=[PersonRef(id=r.pk, name=mask("name", r.name)) for r in v.crew.all()],
        )


class VesselPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[VesselOut]


class VesselIn(Schema):
    ship_number: str
    mmsi: str = ""
    length_m: Decimal | None = None
    power_kw: Decimal | None = None
    home_port: str = ""
    status: str = "in_port"
    sea_grid_id: int
    captain_id: int | None = None
    crew_ids: list[int] = []


# --- residents ---------------------------------------------------------------------------------------------


@router.get("/residents", response=ResidentPage, operation_id="people_list_residents")
def list_residents(request: HttpRequest, params: Query[ListParams]) -> ResidentPage:
    count, rows = _page(selectors.residents(request.user, _filters(params)), params)
    return ResidentPage(count=count, page=params.page, page_size=params.page_size,
                        items=[ResidentOut.of(r) for r in rows])


@router.get("/residents/{resident_id}", response=ResidentOut, operation_id="people_get_resident")
def get_resident(request: HttpRequest, resident_id: int) -> ResidentOut:
    return ResidentOut.of(selectors.resident(request.user, resident_id))


@router.post("/residents", response={201: ResidentOut}, operation_id="people_create_resident")
def create_resident(request: HttpRequest, body: ResidentIn) -> Status[Any]:
    return Status(201, ResidentOut.of(services.create_resident(actor=request.user, data=body.dict())))


@router.patch("/residents/{resident_id}", response=ResidentOut, operation_id="people_update_resident")
def update_resident(request: HttpRequest, resident_id: int, body: ResidentPatch) -> ResidentOut:
    changes = body.dict(exclude_unset=True)
    return ResidentOut.of(services.update_resident(actor=request.user, resident_id=resident_id, changes=changes))


@router.post("/residents/{resident_id}/unmask", response=UnmaskOut, operation_id="people_unmask_resident")
def unmask_resident(request: HttpRequest, resident_id: int, body: UnmaskIn, response: HttpResponse) -> UnmaskOut:
    plain = services.unmask_resident(actor=request.user, resident_id=resident_id, reason=body.reason)
    response["Cache-Control"] = "no-store"
    return UnmaskOut(**plain)


# --- households, houses, organisations ----------------------------------------------------------------------


@router.get("/households", response=HouseholdPage, operation_id="people_list_households")
def list_households(request: HttpRequest, params: Query[ListParams]) -> HouseholdPage:
    count, rows = _page(selectors.households(request.user, _filters(params)), params)
    return HouseholdPage(count=count, page=params.page, page_size=params.page_size,
                         items=[HouseholdOut.of(h) for h in rows])


@router.get("/households/{household_id}", response=HouseholdOut, operation_id="people_get_household")
def get_household(request: HttpRequest, household_id: int) -> HouseholdOut:
    return HouseholdOut.of(selectors.household(request.user, household_id))


@router.post("/households", response={201: HouseholdOut}, operation_id="people_create_household")
def create_household(request: HttpRequest, body: HouseholdIn) -> Status[Any]:
    return Status(201, HouseholdOut.of(services.create_household(actor=request.user, data=body.dict())))


@router.get("/houses", response=HousePage, operation_id="people_list_houses")
def list_houses(request: HttpRequest, params: Query[ListParams]) -> HousePage:
    count, rows = _page(selectors.houses(request.user, _filters(params)), params)
    return HousePage(count=count, page=params.page, page_size=params.page_size, items=[HouseOut.of(h) for h in rows])


@router.get("/houses/{house_id}", response=HouseOut, operation_id="people_get_house")
def get_house(request: HttpRequest, house_id: int) -> HouseOut:
    return HouseOut.of(selectors.house(request.user, house_id))


@router.post("/houses", response={201: HouseOut}, operation_id="people_create_house")
def create_house(request: HttpRequest, body: HouseIn) -> Status[Any]:
    return Status(201, HouseOut.of(services.create_house(actor=request.user, data=body.dict())))


@router.get("/organisations", response=OrganisationPage, operation_id="people_list_organisations")
def list_organisations(request: HttpRequest, params: Query[ListParams]) -> OrganisationPage:
    count, rows = _page(selectors.organisations(request.user, _filters(params)), params)
    return OrganisationPage(count=count, page=params.page, page_size=params.page_size,
                            items=[OrganisationOut.of(o) for o in rows])


@router.get("/organisations/{organisation_id}", response=OrganisationOut, operation_id="people_get_organisation")
def get_organisation(request: HttpRequest, organisation_id: int) -> OrganisationOut:
    return OrganisationOut.of(selectors.organisation(request.user, organisation_id))


@router.post("/organisations", response={201: OrganisationOut}, operation_id="people_create_organisation")
def create_organisation(request: HttpRequest, body: OrganisationIn) -> Status[Any]:
    return Status(201, OrganisationOut.of(services.create_organisation(actor=request.user, data=body.dict())))


# --- vessels ------------------------------------------------------------------------------------------------


@vessel_router.get("", response=VesselPage, operation_id="vessels_list")
def list_vessels(request: HttpRequest, params: Query[ListParams]) -> VesselPage:
    count, rows = _page(selectors.vessels(request.user, _filters(params)), params)
    return VesselPage(count=count, page=params.page, page_size=params.page_size, items=[VesselOut.of(v) for v in rows])


@vessel_router.get("/{vessel_id}", response=VesselOut, operation_id="vessels_get")
def get_vessel(request: HttpRequest, vessel_id: int) -> VesselOut:
    return VesselOut.of(selectors.vessel(request.user, vessel_id))


@vessel_router.post("", response={201: VesselOut}, operation_id="vessels_create")
def create_vessel(request: HttpRequest, body: VesselIn) -> Status[Any]:
    vessel = services.create_vessel(actor=request.user, data=body.dict())
    return Status(201, VesselOut.of(selectors.vessel(request.user, vessel.pk)))


ROUTERS: list[tuple[str, Router]] = [("people", router), ("vessels", vessel_router)]
