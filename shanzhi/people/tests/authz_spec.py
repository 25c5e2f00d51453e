"""Authorization specs of the people app (consumed by the lead's matrix test)."""

from __future__ import annotations

from typing import Any

from shanzhi.people.models import FishingVessel, House, Household, Organisation, Resident
from shanzhi.testing.authz import Built, Route

from .helpers import (
    make_house,
    make_household,
    make_organisation,
    make_resident,
    make_vessel,
    new_id_number,
    sea_grid,
    village_in,
)


def _resident(code: str) -> Built:
    r = make_resident(code)
    return Built({"pk": r.pk}, f"/people/residents/{r.pk}/", r)


def _resident_api(code: str) -> Built:
    r = make_resident(code)
    return Built({"resident_id": r.pk}, f'"id": {r.pk},', r)


def _household(code: str) -> Built:
    h = make_household(code)
    return Built({"pk": h.pk}, h.number, h)


def _household_api(code: str) -> Built:
    h = make_household(code)
    return Built({"household_id": h.pk}, h.number, h)


def _house(code: str) -> Built:
    h = make_house(code)
    return Built({"pk": h.pk}, h.house_number, h)


def _house_api(code: str) -> Built:
    h = make_house(code)
    return Built({"house_id": h.pk}, h.house_number, h)


def _organisation(code: str) -> Built:
    o = make_organisation(code)
    return Built({"pk": o.pk}, o.name, o)


def _organisation_api(code: str) -> Built:
    o = make_organisation(code)
    return Built({"organisation_id": o.pk}, o.name, o)


def _vessel(code: str) -> Built:
    v = make_vessel(code)
    return Built({"pk": v.pk}, v.ship_number, v)


def _vessel_api(code: str) -> Built:
    v = make_vessel(code)
    return Built({"vessel_id": v.pk}, f'"id": {v.pk},', v)


def _bare(build: Any) -> Any:
    """The same object, for a list route (no URL kwargs)."""
    def built(code: str) -> Built:
        inner = build(code)
        return Built({}, inner.marker, inner.obj)
    return built


def _region_only(code: str) -> Built:
    village = village_in(code)
    return Built({}, village, village)


def _resident_name_changed(b: Built) -> bool:
    return bool(Resident.objects.get(pk=b.obj.pk).name != b.obj.name)


def _count_in(model: Any) -> Any:
    def changed(b: Built) -> bool:
        return bool(model.objects.filter(region_code=b.obj).exists())
    return changed


def _unmask_audited(b: Built) -> bool:
    from shanzhi.core.models import AuditEntry

    return AuditEntry.objects.filter(action="people.resident.unmask", object_id=str(b.obj.pk)).exists()


def _job_for_region(b: Built) -> bool:
    from shanzhi.core.models import ImportJob

    return ImportJob.objects.filter(region_code=b.obj).exists()


def _resident_export(code: str) -> Built:
    r = make_resident(code)
    return Built({}, r.region_code, r)


EXPORTERS = {"city": "city_admin", "county": "county_admin", "town": "town_admin", "village": "village_cadre"}

ROUTES: list[Route] = [
    # pages
    Route("people:resident_list", "list", _bare(_resident)),
    Route("people:resident_detail", "detail", _resident),
    Route("people:resident_unmask", "action", _resident, method="POST",
          payload=lambda b: {"reason": "核实身份信息"}, changed=_unmask_audited),
    Route("people:household_list", "list", _bare(_household)),
    Route("people:household_detail", "detail", _household),
    Route("people:house_list", "list", _bare(_house)),
    Route("people:house_detail", "detail", _house),
    Route("people:organisation_list", "list", _bare(_organisation)),
    Route("people:vessel_list", "list", _bare(_vessel)),
    Route("people:vessel_detail", "detail", _vessel),
    Route("people:import", "action", _region_only, method="POST",
          payload=lambda b: {"kind": "people.residents", "region": b.obj, "dry_run": "on"},
          changed=_job_for_region),
    Route("people:export", "list", _resident_export, role_at=EXPORTERS,
          query=lambda a, b: {"kind": "residents"}),
    # API
    Route("people_list_residents", "list", _bare(_resident_api), api=True),
    Route("people_get_resident", "detail", _resident_api, api=True),
    Route("people_create_resident", "action", _region_only, api=True, method="POST",
          payload=lambda b: {"region_code": b.obj, "name": "越权", "id_number": new_id_number(b.obj)},
          changed=_count_in(Resident)),
    Route("people_update_resident", "action", _resident_api, api=True, method="PATCH",
          payload=lambda b: {"name": "改名"}, changed=_resident_name_changed),
    Route("people_unmask_resident", "action", _resident_api, api=True, method="POST",
          payload=lambda b: {"reason": "核实身份信息"}, changed=_unmask_audited),
    Route("people_list_households", "list", _bare(_household_api), api=True),
    Route("people_get_household", "detail", _household_api, api=True),
    Route("people_create_household", "action", _region_only, api=True, method="POST",
          payload=lambda b: {"region_code": b.obj, "number": "X-1"}, changed=_count_in(Household)),
    Route("people_list_houses", "list", _bare(_house_api), api=True),
    Route("people_get_house", "detail", _house_api, api=True),
    Route("people_create_house", "action", _region_only, api=True, method="POST",
          payload=lambda b: {"region_code": b.obj, "house_number": "X-1"}, changed=_count_in(House)),
    Route("people_list_organisations", "list", _bare(_organisation_api), api=True),
    Route("people_get_organisation", "detail", _organisation_api, api=True),
    Route("people_create_organisation", "action", _region_only, api=True, method="POST",
          payload=lambda b: {"region_code": b.obj, "name": "越权单位"}, changed=_count_in(Organisation)),
    Route("vessels_list", "list", _bare(_vessel_api), api=True),
    Route("vessels_get", "detail", _vessel_api, api=True),
    Route("vessels_create", "action", _region_only, api=True, method="POST",
          payload=lambda b: {"ship_number": "浙普渔99999", "sea_grid_id": sea_grid(b.obj).pk},
          changed=_count_in(FishingVessel)),
]
