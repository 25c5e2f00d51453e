"""Writes to real-name base data.  Each function: validate, re-check scope, change, audit — in one transaction.

Deletion is soft: ``active=False`` (a resident is marked moved out).  Audit rows carry masked snapshots.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.core import audit
from shanzhi.core.codes import Level, level_of
from shanzhi.core.crypto import blind_index
from shanzhi.core.errors import Conflict, PermissionDenied, ValidationFailed
from shanzhi.core.scope import access, require_scope
from shanzhi.core.validators import (
    id_birth_date,
    id_sex,
    validate_id_number,
    validate_mmsi,
    validate_phone,
    validate_vessel_number,
)
from shanzhi.regions.models import Grid, GridKind

from .models import (
    FishingVessel,
    House,
    Household,
    HouseUse,
    Organisation,
    OrganisationKind,
    Relation,
    ResidenceType,
    Resident,
    Tag,
    VesselStatus,
)
from .validators import validate_credit_code

CHANGE = "people.change"
UNMASK = "people.unmask"
UNMASK_REASON_MIN = 4

Errors = dict[str, str]


# --- field cleaning -------------------------------------------------------------------------------------


def _msg(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _run(errors: Errors, field: str, func: Callable[[str], str], value: Any) -> str:
    try:
        return func(str(value))
    except ValidationError as exc:
        errors[field] = _msg(exc)
        return str(value or "")


def _text(errors: Errors, field: str, value: Any, *, max_length: int, required: bool = False) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        errors[field] = _("This field is required.")
    elif len(text) > max_length:
        errors[field] = _("At most %(n)d characters.") % {"n": max_length}
    return text


def _choice(errors: Errors, field: str, value: Any, choices: Any, default: str = "") -> str:
    text = str(value or "") or default
    if text and text not in choices.values:
        errors[field] = _("Not one of the allowed values.")
    return text


def _decimal(errors: Errors, field: str, value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors[field] = _("Not a number.")
        return None
    if number < 0 or not number.is_finite():
        errors[field] = _("Must not be negative.")
    return number


def _coord(errors: Errors, field: str, value: Any, bound: float) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field] = _("Not a number.")
        return None
    if not -bound <= number <= bound:
        errors[field] = _("Out of range.")
    return number


def _village(errors: Errors, region_code: str) -> str:
    code = str(region_code or "")
    try:
        if level_of(code) is not Level.VILLAGE:
            errors["region_code"] = _("Real-name data belongs to a village or community (a 12-digit code).")
    except ValueError:
        errors["region_code"] = _("Not a valid division code.")
    return code


def _grid(errors: Errors, field: str, grid_id: Any, region_code: str, *, kind: str = GridKind.LAND) -> Grid | None:
    if grid_id in (None, ""):
        return None
    grid = Grid.objects.filter(pk=grid_id).first() if str(grid_id).isdigit() else None
    if grid is None:
        errors[field] = _("No such grid.")
    elif region_code and grid.region_code != region_code:
        errors[field] = _("The grid is not in this village.")
    elif grid.kind != kind:
        errors[field] = _("This is not a sea grid.") if kind == GridKind.SEA else _("This is not a land grid.")
    return grid


def _same_village(errors: Errors, field: str, model: Any, pk: Any, region_code: str) -> Any:
    if pk in (None, ""):
        return None
    obj = model.objects.filter(pk=pk, active=True).first() if str(pk).isdigit() else None
    if obj is None or obj.region_code != region_code:
        errors[field] = _("Not found in this village.")
        return None
    return obj


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationFailed(detail={"fields": errors})


def _check(actor: Any, values: Mapping[str, Any], errors: Errors) -> None:
    """Scope first (a region outside the actor's world answers 404 whatever the input), then field errors."""
    if "region_code" not in errors and values.get("region_code"):
        require_scope(actor, CHANGE, values["region_code"])
    _raise(errors)
    require_scope(actor, CHANGE, values["region_code"])


def _save(obj: Any) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise Conflict(_("A record with the same identifier already exists.")) from None


# --- residents --------------------------------------------------------------------------------------------

RESIDENT_FIELDS = ("region_code", "name", "id_number", "phone", "address", "grid_id", "household_id",
                   "relation", "residence_type", "tags", "house_id", "is_party_member", "notes")


def clean_resident(data: Mapping[str, Any], *, current: Resident | None = None) -> tuple[dict[str, Any], Errors]:
    """Validate resident fields (all of them for a new row, the given ones for an update)."""
    errors: Errors = {}
    merged: dict[str, Any] = {}
    if current is not None:
        merged = {f: getattr(current, f) for f in RESIDENT_FIELDS}
    merged.update({k: v for k, v in data.items() if k in RESIDENT_FIELDS})
    unknown = set(data) - set(RESIDENT_FIELDS)
    for field in sorted(unknown):
        errors[field] = _("Unknown field.")
    out: dict[str, Any] = {}
    region_code = out["region_code"] = _village(errors, merged.get("region_code", ""))
    out["name"] = _text(errors, "name", merged.get("name"), max_length=50, required=True)
    id_number = _run(errors, "id_number", validate_id_number, merged.get("id_number") or "")
    out["id_number"] = id_number
    if "id_number" not in errors:
        out["sex"] = id_sex(id_number)
        out["birth_date"] = id_birth_date(id_number)
        out["id_number_bidx"] = blind_index("id_number", id_number)
    phone = str(merged.get("phone") or "").strip()
    out["phone"] = _run(errors, "phone", validate_phone, phone) if phone else ""
    out["phone_bidx"] = blind_index("phone", out["phone"])
    out["address"] = _text(errors, "address", merged.get("address"), max_length=200)
    out["grid"] = _grid(errors, "grid_id", merged.get("grid_id"), region_code)
    out["household"] = _same_village(errors, "household_id", Household, merged.get("household_id"), region_code)
    out["house"] = _same_village(errors, "house_id", House, merged.get("house_id"), region_code)
    out["relation"] = _choice(errors, "relation", merged.get("relation"), Relation)
    out["residence_type"] = _choice(errors, "residence_type", merged.get("residence_type"), ResidenceType,
                                    ResidenceType.REGISTERED)
    tags = merged.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in re.split(r"[,，;；\s]+", tags) if t.strip()]
    if not isinstance(tags, list | tuple) or any(t not in Tag.values for t in tags):
        errors["tags"] = _("Unknown special-group tag.")
        tags = []
    out["tags"] = sorted(set(tags))
    out["is_party_member"] = bool(merged.get("is_party_member"))
    out["notes"] = _text(errors, "notes", merged.get("notes"), max_length=2000)
    return out, errors


def _check_unique_id(bidx: str, exclude_pk: int | None = None) -> None:
    qs = Resident.objects.filter(id_number_bidx=bidx, active=True)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict(_("A resident with this ID number is already registered."),
                       detail={"fields": {"id_number": _("already registered")}})


def create_resident(*, actor: Any, data: Mapping[str, Any]) -> Resident:
    values, errors = clean_resident(data)
    _check(actor, values, errors)
    with transaction.atomic():
        _check_unique_id(values["id_number_bidx"])
        resident = Resident(**values)
        _save(resident)
        audit.record(actor=actor, action="people.resident.create", obj=resident, after=audit.snapshot(resident))
    return resident


def update_resident(*, actor: Any, resident_id: int, changes: Mapping[str, Any]) -> Resident:
    with transaction.atomic():
        resident = access(Resident.objects.filter(active=True).select_for_update(), actor, CHANGE, pk=resident_id)
        values, errors = clean_resident(changes, current=resident)
        _check(actor, values, errors)
        _check_unique_id(values["id_number_bidx"], exclude_pk=resident.pk)
        before = audit.snapshot(resident)
        for key, value in values.items():
            setattr(resident, key, value)
        _save(resident)
        audit.record(actor=actor, action="people.resident.update", obj=resident, before=before,
                     after=audit.snapshot(resident))
    return resident


def move_out_resident(*, actor: Any, resident_id: int) -> Resident:
    """Soft delete: the resident is marked moved out and disappears from lists."""
    with transaction.atomic():
        resident = access(Resident.objects.filter(active=True).select_for_update(), actor, CHANGE, pk=resident_id)
        before = audit.snapshot(resident)
        resident.active = False
        resident.moved_out_at = timezone.now()
        resident.save(update_fields=["active", "moved_out_at", "updated_at"])
        audit.record(actor=actor, action="people.resident.move_out", obj=resident, before=before,
                     after=audit.snapshot(resident))
    return resident


def unmask_resident(*, actor: Any, resident_id: int, reason: str) -> dict[str, str]:
    """The plain personal data of one resident, for someone holding people.unmask there, with a reason."""
    if not getattr(actor, "is_authenticated", False) or not actor.has_scoped_permission(UNMASK):
        raise PermissionDenied(UNMASK)
    reason = " ".join((reason or "").split())
    if len(reason) < UNMASK_REASON_MIN:
        raise ValidationFailed(
            _("Give a reason of at least %(n)d characters.") % {"n": UNMASK_REASON_MIN},
            detail={"fields": {"reason": _("too short")}},
        )
    with transaction.atomic():
        resident = access(Resident.objects.filter(active=True), actor, UNMASK, pk=resident_id)
        audit.record(actor=actor, action="people.resident.unmask", obj=resident,
                     after={"reason": reason[:500], "fields": ["name", "id_number", "phone", "address"]})
    return {"name": resident.name, "id_number": resident.id_number, "phone": resident.phone,
            "address": resident.address}


# --- households ---------------------------------------------------------------------------------------------

HOUSEHOLD_FIELDS = ("region_code", "number", "address", "grid_id", "head_id")


def clean_household(data: Mapping[str, Any], *, current: Household | None = None) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    merged: dict[str, Any] = {f: getattr(current, f) for f in HOUSEHOLD_FIELDS} if current else {}
    merged.update({k: v for k, v in data.items() if k in HOUSEHOLD_FIELDS})
    for field in sorted(set(data) - set(HOUSEHOLD_FIELDS)):
        errors[field] = _("Unknown field.")
    out: dict[str, Any] = {}
    region_code = out["region_code"] = _village(errors, merged.get("region_code", ""))
    out["number"] = _text(errors, "number", merged.get("number"), max_length=40, required=True)
    out["address"] = _text(errors, "address", merged.get("address"), max_length=200)
    out["grid"] = _grid(errors, "grid_id", merged.get("grid_id"), region_code)
    out["head"] = _same_village(errors, "head_id", Resident, merged.get("head_id"), region_code)
    return out, errors


def _check_household_number(region_code: str, number: str, exclude_pk: int | None = None) -> None:
    qs = Household.objects.filter(region_code=region_code, number=number, active=True)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict(_("This household number is already used in the village."),
                       detail={"fields": {"number": _("already used")}})


def create_household(*, actor: Any, data: Mapping[str, Any]) -> Household:
    values, errors = clean_household(data)
    _check(actor, values, errors)
    with transaction.atomic():
        _check_household_number(values["region_code"], values["number"])
        household = Household(**values)
        _save(household)
        audit.record(actor=actor, action="people.household.create", obj=household,
                     after=audit.snapshot(household))
    return household


def update_household(*, actor: Any, household_id: int, changes: Mapping[str, Any]) -> Household:
    with transaction.atomic():
        household = access(Household.objects.filter(active=True).select_for_update(), actor, CHANGE,
                           pk=household_id)
        values, errors = clean_household(changes, current=household)
        _check(actor, values, errors)
        _check_household_number(values["region_code"], values["number"], exclude_pk=household.pk)
        before = audit.snapshot(household)
        for key, value in values.items():
            setattr(household, key, value)
        _save(household)
        audit.record(actor=actor, action="people.household.update", obj=household, before=before,
                     after=audit.snapshot(household))
    return household


def close_household(*, actor: Any, household_id: int) -> Household:
    return _deactivate(actor, Household, household_id, "people.household.close")  # type: ignore[no-any-return]


def _deactivate(actor: Any, model: Any, pk: int, action: str) -> Any:
    with transaction.atomic():
        obj = access(model.objects.filter(active=True).select_for_update(), actor, CHANGE, pk=pk)
        before = audit.snapshot(obj)
        obj.active = False
        obj.save(update_fields=["active", "updated_at"])
        audit.record(actor=actor, action=action, obj=obj, before=before, after=audit.snapshot(obj))
    return obj


# --- houses -------------------------------------------------------------------------------------------------

HOUSE_FIELDS = ("region_code", "house_number", "address", "use", "area", "owner_name", "grid_id", "lat", "lng")


def clean_house(data: Mapping[str, Any], *, current: House | None = None) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    merged: dict[str, Any] = {f: getattr(current, f) for f in HOUSE_FIELDS} if current else {}
    merged.update({k: v for k, v in data.items() if k in HOUSE_FIELDS})
    for field in sorted(set(data) - set(HOUSE_FIELDS)):
        errors[field] = _("Unknown field.")
    out: dict[str, Any] = {}
    region_code = out["region_code"] = _village(errors, merged.get("region_code", ""))
    out["house_number"] = _text(errors, "house_number", merged.get("house_number"), max_length=40, required=True)
    out["address"] = _text(errors, "address", merged.get("address"), max_length=200)
    out["use"] = _choice(errors, "use", merged.get("use"), HouseUse, HouseUse.OWN)
    out["area"] = _decimal(errors, "area", merged.get("area"))
    out["owner_name"] = _text(errors, "owner_name", merged.get("owner_name"), max_length=50)
    out["grid"] = _grid(errors, "grid_id", merged.get("grid_id"), region_code)
    out["lat"] = _coord(errors, "lat", merged.get("lat"), 90)
    out["lng"] = _coord(errors, "lng", merged.get("lng"), 180)
    return out, errors


def create_house(*, actor: Any, data: Mapping[str, Any]) -> House:
    values, errors = clean_house(data)
    _check(actor, values, errors)
    with transaction.atomic():
        house = House(**values)
        _save(house)
        audit.record(actor=actor, action="people.house.create", obj=house, after=audit.snapshot(house))
    return house


def update_house(*, actor: Any, house_id: int, changes: Mapping[str, Any]) -> House:
    with transaction.atomic():
        house = access(House.objects.filter(active=True).select_for_update(), actor, CHANGE, pk=house_id)
        values, errors = clean_house(changes, current=house)
        _check(actor, values, errors)
        before = audit.snapshot(house)
        for key, value in values.items():
            setattr(house, key, value)
        _save(house)
        audit.record(actor=actor, action="people.house.update", obj=house, before=before,
                     after=audit.snapshot(house))
    return house


def retire_house(*, actor: Any, house_id: int) -> House:
    return _deactivate(actor, House, house_id, "people.house.retire")  # type: ignore[no-any-return]


# --- organisations ------------------------------------------------------------------------------------------

ORGANISATION_FIELDS = ("region_code", "name", "credit_code", "kind", "legal_representative", "phone", "address",
                       "grid_id")


def clean_organisation(data: Mapping[str, Any], *,
                       current: Organisation | None = None) -> tuple[dict[str, Any], Errors]:
    errors: Errors = {}
    merged: dict[str, Any] = {f: getattr(current, f) for f in ORGANISATION_FIELDS} if current else {}
    merged.update({k: v for k, v in data.items() if k in ORGANISATION_FIELDS})
    for field in sorted(set(data) - set(ORGANISATION_FIELDS)):
        errors[field] = _("Unknown field.")
    out: dict[str, Any] = {}
    region_code = out["region_code"] = _village(errors, merged.get("region_code", ""))
    out["name"] = _text(errors, "name", merged.get("name"), max_length=120, required=True)
    code = str(merged.get("credit_code") or "").strip()
    out["credit_code"] = _run(errors, "credit_code", validate_credit_code, code) if code else ""
    out["kind"] = _choice(errors, "kind", merged.get("kind"), OrganisationKind, OrganisationKind.COMPANY)
    out["legal_representative"] = _text(errors, "legal_representative", merged.get("legal_representative"),
                                        max_length=50)
    phone = str(merged.get("phone") or "").strip()
    out["phone"] = _run(errors, "phone", validate_phone, phone) if phone else ""
    out["phone_bidx"] = blind_index("phone", out["phone"])
    out["address"] = _text(errors, "address", merged.get("address"), max_length=200)
    out["grid"] = _grid(errors, "grid_id", merged.get("grid_id"), region_code)
    return out, errors


def create_organisation(*, actor: Any, data: Mapping[str, Any]) -> Organisation:
    values, errors = clean_organisation(data)
    _check(actor, values, errors)
    with transaction.atomic():
        organisation = Organisation(**values)
        _save(organisation)
        audit.record(actor=actor, action="people.organisation.create", obj=organisation,
                     after=audit.snapshot(organisation))
    return organisation


def update_organisation(*, actor: Any, organisation_id: int, changes: Mapping[str, Any]) -> Organisation:
    with transaction.atomic():
        organisation = access(Organisation.objects.filter(active=True).select_for_update(), actor, CHANGE,
                              pk=organisation_id)
        values, errors = clean_organisation(changes, current=organisation)
        _check(actor, values, errors)
        before = audit.snapshot(organisation)
        for key, value in values.items():
            setattr(organisation, key, value)
        _save(organisation)
        audit.record(actor=actor, action="people.organisation.update", obj=organisation, before=before,
                     after=audit.snapshot(organisation))
    return organisation


def close_organisation(*, actor: Any, organisation_id: int) -> Organisation:
    return _deactivate(actor, Organisation, organisation_id, "people.organisation.close")  # type: ignore[no-any-return]


# --- vessels --------------------------------------------------------------------------------------------------

VESSEL_FIELDS = ("ship_number", "mmsi", "length_m", "power_kw", "home_port", "captain_id", "crew_ids",
                 "sea_grid_id", "status")


def clean_vessel(actor: Any, data: Mapping[str, Any], *,
                 current: FishingVessel | None = None) -> tuple[dict[str, Any], list[Resident] | None, Errors]:
    """Validate vessel fields; the village is the sea grid's.  Captain and crew must be in the actor's scope."""
    errors: Errors = {}
    merged: dict[str, Any] = {f: getattr(current, f) for f in VESSEL_FIELDS if f != "crew_ids"} if current else {}
    merged.update({k: v for k, v in data.items() if k in VESSEL_FIELDS})
    for field in sorted(set(data) - set(VESSEL_FIELDS)):
        errors[field] = _("Unknown field.")
    out: dict[str, Any] = {}
    out["ship_number"] = _run(errors, "ship_number", validate_vessel_number, merged.get("ship_number") or "")
    mmsi = str(merged.get("mmsi") or "").strip()
    out["mmsi"] = _run(errors, "mmsi", validate_mmsi, mmsi) if mmsi else ""
    out["length_m"] = _decimal(errors, "length_m", merged.get("length_m"))
    out["power_kw"] = _decimal(errors, "power_kw", merged.get("power_kw"))
    out["home_port"] = _text(errors, "home_port", merged.get("home_port"), max_length=60)
    out["status"] = _choice(errors, "status", merged.get("status"), VesselStatus, VesselStatus.IN_PORT)
    grid_id = merged.get("sea_grid_id")
    if grid_id in (None, ""):
        errors["sea_grid_id"] = _("This field is required.")
        grid = None
    else:
        grid = _grid(errors, "sea_grid_id", grid_id, "", kind=GridKind.SEA)
    out["sea_grid"] = grid
    out["region_code"] = grid.region_code if grid is not None else ""
    in_scope = Resident.objects.restrict(actor, CHANGE).filter(active=True)
    captain_id = merged.get("captain_id")
    out["captain"] = None
    if captain_id not in (None, ""):
        out["captain"] = in_scope.filter(pk=captain_id).first() if str(captain_id).isdigit() else None
        if out["captain"] is None:
            errors["captain_id"] = _("No such resident.")
    crew: list[Resident] | None = None
    if "crew_ids" in data:
        ids = data.get("crew_ids") or []
        if not isinstance(ids, Sequence) or isinstance(ids, str) or not all(str(i).isdigit() for i in ids):
            errors["crew_ids"] = _("A list of resident ids.")
        else:
            wanted = {int(i) for i in ids}
            crew = list(in_scope.filter(pk__in=wanted))
            if len(crew) != len(wanted):
                errors["crew_ids"] = _("No such resident.")
    return out, crew, errors


def _check_vessel_number(number: str, exclude_pk: int | None = None) -> None:
    qs = FishingVessel.objects.filter(ship_number=number, active=True)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict(_("A vessel with this number is already registered."),
                       detail={"fields": {"ship_number": _("already registered")}})


def create_vessel(*, actor: Any, data: Mapping[str, Any]) -> FishingVessel:
    values, crew, errors = clean_vessel(actor, data)
    _check(actor, values, errors)
    with transaction.atomic():
        _check_vessel_number(values["ship_number"])
        vessel = FishingVessel(**values)
        _save(vessel)
        if crew:
            vessel.crew.set(crew)
        after = audit.snapshot(vessel) | {"crew": sorted(r.pk for r in crew or [])}
        audit.record(actor=actor, action="people.vessel.create", obj=vessel, after=after)
    return vessel


def update_vessel(*, actor: Any, vessel_id: int, changes: Mapping[str, Any]) -> FishingVessel:
    with transaction.atomic():
        vessel = access(FishingVessel.objects.filter(active=True).select_for_update(), actor, CHANGE,
                        pk=vessel_id)
        values, crew, errors = clean_vessel(actor, changes, current=vessel)
        _check(actor, values, errors)
        _check_vessel_number(values["ship_number"], exclude_pk=vessel.pk)
        before = audit.snapshot(vessel) | {"crew": sorted(vessel.crew.values_list("pk", flat=True))}
        for key, value in values.items():
            setattr(vessel, key, value)
        _save(vessel)
        if crew is not None:
            vessel.crew.set(crew)
        after = audit.snapshot(vessel) | {"crew": sorted(vessel.crew.values_list("pk", flat=True))}
        audit.record(actor=actor, action="people.vessel.update", obj=vessel, before=before, after=after)
    return vessel


def decommission_vessel(*, actor: Any, vessel_id: int) -> FishingVessel:
    return _deactivate(actor, FishingVessel, vessel_id, "people.vessel.decommission")  # type: ignore[no-any-return]


def can_unmask(actor: Any, resident: Resident) -> bool:
    """Whether the 'show' button is offered (the unmask action re-checks everything)."""
    from shanzhi.core.scope import can

    return can(actor, UNMASK, resident.region_code)
