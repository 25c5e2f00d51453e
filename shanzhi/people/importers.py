"""XLSX/CSV import and masked export of real-name base data, on the shared engine (``shanzhi.core.imports``).

Every row names its village (``region_code``); with an acting user each row's village must lie inside the
user's ``people.import`` scope (and inside the region the upload was made for).  Rows are validated with the
same cleaning functions as the services; references (grid, household, captain, crew) are resolved with one
query per kind in ``prepare``, so validation does not query per row.  All rows or none are written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.core.codes import in_scope, prefix_of, prefix_range
from shanzhi.core.crypto import blind_index
from shanzhi.core.imports import Column, ImportContext, Importer, Row, RowError, register
from shanzhi.core.masking import mask
from shanzhi.core.scope import prefixes_for, scope_q
from shanzhi.core.validators import validate_mmsi, validate_vessel_number
from shanzhi.regions.models import Grid, GridKind

from . import services
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

IMPORT = "people.import"
EXPORT = "people.export"
BATCH = 500

# Chinese sheet values -> stored choices (the stored values are accepted too)
RELATIONS = {"户主": Relation.HEAD, "本人": Relation.HEAD, "配偶": Relation.SPOUSE, "妻": Relation.SPOUSE,
             "夫": Relation.SPOUSE, "子女": Relation.CHILD, "子": Relation.CHILD, "女": Relation.CHILD,
             "父母": Relation.PARENT, "父亲": Relation.PARENT, "母亲": Relation.PARENT,
             "孙子女": Relation.GRANDCHILD, "兄弟姐妹": Relation.SIBLING, "其他": Relation.OTHER}
RESIDENCE = {"户籍": ResidenceType.REGISTERED, "流动": ResidenceType.FLOATING, "寄住": ResidenceType.LODGING,
             "境外": ResidenceType.FOREIGN}
TAGS = {"留守老人": Tag.LEFT_BEHIND_ELDER, "独居老人": Tag.LIVING_ALONE, "留守儿童": Tag.LEFT_BEHIND_CHILD,
        "残疾人": Tag.DISABLED, "重点人员": Tag.KEY_PERSON, "低保": Tag.LOW_INCOME, "退役军人": Tag.VETERAN}
USES = {"自住": HouseUse.OWN, "出租": HouseUse.RENTED, "经营": HouseUse.BUSINESS, "空置": HouseUse.VACANT}
ORG_KINDS = {"企业": OrganisationKind.COMPANY, "商铺": OrganisationKind.SHOP, "个体": OrganisationKind.SHOP,
             "机关事业单位": OrganisationKind.PUBLIC, "社会组织": OrganisationKind.SOCIAL,
             "其他": OrganisationKind.OTHER}
STATUSES = {"在港": VesselStatus.IN_PORT, "在海上": VesselStatus.AT_SEA, "出海": VesselStatus.AT_SEA,
            "休渔": VesselStatus.LAID_UP, "已报废": VesselStatus.DECOMMISSIONED}
YES = {"1", "是", "y", "yes", "true", "党员"}
_SPLIT = re.compile(r"[,，;；、/\s]+")


def _mapped(value: str, mapping: dict[str, Any]) -> str:
    return str(mapping.get(value.strip(), value.strip()))


class PeopleImporter(Importer):
    """Shared parts: the row's village must be in the actor's scope; grid numbers resolve per village."""

    permission = IMPORT
    grid_kind = GridKind.LAND

    def prepare(self, rows: list[Row], context: ImportContext) -> list[Row]:
        if not context.unrestricted:
            context.state["prefixes"] = prefixes_for(context.actor, IMPORT)
        codes = {r["region_code"] for r in rows if r.get("region_code")}
        context.state["grids"] = {
            (g.region_code, g.number): g
            for g in Grid.objects.filter(region_code__in=codes, kind=self.grid_kind)
        }
        return rows

    def check_region(self, row: Row, context: ImportContext) -> str:
        code = row.get("region_code", "")
        if not context.unrestricted and code.isdigit() and len(code) == 12:
            upload_region = str(context.options.get("region_code") or "")
            if not in_scope(code, context.state["prefixes"]) or (
                upload_region and not in_scope(code, (prefix_of(upload_region),))
            ):
                raise RowError("region_code", _("This village is outside your area."))
        return code

    def grid(self, row: Row, context: ImportContext, column: str = "grid_number") -> Grid | None:
        number = row.get(column, "")
        if not number:
            return None
        grid = context.state["grids"].get((row.get("region_code", ""), number))
        if grid is None:
            raise RowError(column, _("No grid with this number in the village."))
        grid_obj: Grid = grid
        return grid_obj

    @staticmethod
    def first_error(errors: dict[str, str]) -> None:
        for field, reason in errors.items():
            raise RowError(field.removesuffix("_id"), reason)

    @staticmethod
    def bulk(model: Any, objs: list[Any]) -> int:
        model.objects.bulk_create(objs, batch_size=BATCH)
        return len(objs)


@register
class ResidentImporter(PeopleImporter):
    kind = "people.residents"
    label = gettext_lazy("residents")
    audit_action = "people.resident.import"
    columns = [
        Column("region_code", aliases=("区划代码", "村社代码")),
        Column("name", aliases=("姓名",)),
        Column("id_number", aliases=("身份证号", "公民身份号码")),
        Column("phone", required=False, aliases=("手机号", "电话", "联系电话")),
        Column("address", required=False, aliases=("地址", "住址")),
        Column("household_number", required=False, aliases=("户号",)),
        Column("relation", required=False, aliases=("与户主关系",)),
        Column("residence_type", required=False, aliases=("居住类型", "人口类型")),
        Column("tags", required=False, aliases=("特殊人群", "标签")),
        Column("grid_number", required=False, aliases=("网格编号", "网格")),
        Column("is_party_member", required=False, aliases=("党员", "是否党员")),
        Column("notes", required=False, aliases=("备注",)),
    ]

    def prepare(self, rows: list[Row], context: ImportContext) -> list[Row]:
        rows = super().prepare(rows, context)
        codes = {r["region_code"] for r in rows if r.get("region_code")}
        context.state["households"] = {
            (h.region_code, h.number): h for h in Household.objects.filter(region_code__in=codes, active=True)
        }
        indexes = [blind_index("id_number", r["id_number"]) for r in rows if r.get("id_number")]
        existing: set[str] = set()
        for start in range(0, len(indexes), BATCH):
            existing.update(Resident.objects.filter(active=True, id_number_bidx__in=indexes[start:start + BATCH])
                            .values_list("id_number_bidx", flat=True))
        context.state["existing"] = existing
        context.state["seen"] = {}
        return rows

    def validate_row(self, row: Row, context: ImportContext) -> Any:
        code = self.check_region(row, context)
        tags = [_mapped(t, TAGS) for t in _SPLIT.split(row["tags"]) if t]
        values, errors = services.clean_resident({
            "region_code": code, "name": row["name"], "id_number": row["id_number"], "phone": row["phone"],
            "address": row["address"], "relation": _mapped(row["relation"], RELATIONS),
            "residence_type": _mapped(row["residence_type"], RESIDENCE), "tags": tags,
            "is_party_member": row["is_party_member"].strip().lower() in YES, "notes": row["notes"],
        })
        self.first_error(errors)
        bidx = values["id_number_bidx"]
        if bidx in context.state["existing"]:
            raise RowError("id_number", _("A resident with this ID number is already registered."))
        seen = context.state["seen"]
        if bidx in seen:
            raise RowError("id_number", _("The same ID number is in row %(row)s.") % {"row": seen[bidx]})
        seen[bidx] = row.number
        values["grid"] = self.grid(row, context)
        if row["household_number"]:
            household = context.state["households"].get((code, row["household_number"]))
            if household is None:
                raise RowError("household_number", _("No household with this number in the village."))
            values["household"] = household
        return values

    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        return {"created": self.bulk(Resident, [Resident(**values) for values in cleaned])}


@register
class HouseholdImporter(PeopleImporter):
    kind = "people.households"
    label = gettext_lazy("households")
    audit_action = "people.household.import"
    columns = [
        Column("region_code", aliases=("区划代码", "村社代码")),
        Column("number", aliases=("户号",)),
        Column("address", required=False, aliases=("地址", "住址")),
        Column("grid_number", required=False, aliases=("网格编号", "网格")),
    ]

    def prepare(self, rows: list[Row], context: ImportContext) -> list[Row]:
        rows = super().prepare(rows, context)
        codes = {r["region_code"] for r in rows if r.get("region_code")}
        context.state["existing"] = set(Household.objects.filter(region_code__in=codes, active=True)
                                        .values_list("region_code", "number"))
        context.state["seen"] = {}
        return rows

    def validate_row(self, row: Row, context: ImportContext) -> Any:
        code = self.check_region(row, context)
        values, errors = services.clean_household({"region_code": code, "number": row["number"],
                                                   "address": row["address"]})
        self.first_error(errors)
        key = (code, values["number"])
        if key in context.state["existing"]:
            raise RowError("number", _("This household number is already used in the village."))
        if key in context.state["seen"]:
            raise RowError("number", _("The same household number is in row %(row)s.")
                           % {"row": context.state["seen"][key]})
        context.state["seen"][key] = row.number
        values["grid"] = self.grid(row, context)
        return values

    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        return {"created": self.bulk(Household, [Household(**v) for v in cleaned])}


@register
class HouseImporter(PeopleImporter):
    kind = "people.houses"
    label = gettext_lazy("houses")
    audit_action = "people.house.import"
    columns = [
        Column("region_code", aliases=("区划代码", "村社代码")),
        Column("house_number", aliases=("门牌号",)),
        Column("address", required=False, aliases=("地址",)),
        Column("use", required=False, aliases=("用途", "房屋用途")),
        Column("area", required=False, aliases=("面积",)),
        Column("owner_name", required=False, aliases=("房主", "产权人")),
        Column("grid_number", required=False, aliases=("网格编号", "网格")),
        Column("lat", required=False, aliases=("纬度",)),
        Column("lng", required=False, aliases=("经度",)),
    ]

    def validate_row(self, row: Row, context: ImportContext) -> Any:
        code = self.check_region(row, context)
        values, errors = services.clean_house({
            "region_code": code, "house_number": row["house_number"], "address": row["address"],
            "use": _mapped(row["use"], USES), "area": row["area"], "owner_name": row["owner_name"],
            "lat": row["lat"], "lng": row["lng"],
        })
        self.first_error(errors)
        values["grid"] = self.grid(row, context)
        return values

    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        return {"created": self.bulk(House, [House(**v) for v in cleaned])}


@register
class OrganisationImporter(PeopleImporter):
    kind = "people.organisations"
    label = gettext_lazy("organisations")
    audit_action = "people.organisation.import"
    columns = [
        Column("region_code", aliases=("区划代码", "村社代码")),
        Column("name", aliases=("名称", "单位名称")),
        Column("credit_code", required=False, aliases=("统一社会信用代码", "信用代码")),
        Column("kind", required=False, aliases=("类型", "单位类型")),
        Column("legal_representative", required=False, aliases=("法定代表人", "负责人")),
        Column("phone", required=False, aliases=("电话", "联系电话")),
        Column("address", required=False, aliases=("地址",)),
        Column("grid_number", required=False, aliases=("网格编号", "网格")),
    ]

    def prepare(self, rows: list[Row], context: ImportContext) -> list[Row]:
        rows = super().prepare(rows, context)
        codes = [r["credit_code"].upper() for r in rows if r.get("credit_code")]
        context.state["existing"] = set(Organisation.objects.filter(active=True, credit_code__in=codes)
                                        .values_list("credit_code", flat=True))
        context.state["seen"] = {}
        return rows

    def validate_row(self, row: Row, context: ImportContext) -> Any:
        code = self.check_region(row, context)
        values, errors = services.clean_organisation({
            "region_code": code, "name": row["name"], "credit_code": row["credit_code"],
            "kind": _mapped(row["kind"], ORG_KINDS), "legal_representative": row["legal_representative"],
            "phone": row["phone"], "address": row["address"],
        })
        self.first_error(errors)
        credit = values["credit_code"]
        if credit and credit in context.state["existing"]:
            raise RowError("credit_code", _("An organisation with this credit code is already registered."))
        if credit and credit in context.state["seen"]:
            raise RowError("credit_code", _("The same credit code is in row %(row)s.")
                           % {"row": context.state["seen"][credit]})
        if credit:
            context.state["seen"][credit] = row.number
        values["grid"] = self.grid(row, context)
        return values

    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        return {"created": self.bulk(Organisation, [Organisation(**v) for v in cleaned])}


@register
class VesselImporter(PeopleImporter):
    kind = "people.vessels"
    label = gettext_lazy("fishing vessels")
    audit_action = "people.vessel.import"
    grid_kind = GridKind.SEA
    columns = [
        Column("region_code", aliases=("区划代码", "村社代码")),
        Column("sea_grid_number", aliases=("海上网格编号", "海上网格")),
        Column("ship_number", aliases=("船号", "渔船编号", "船名号")),
        Column("mmsi", required=False, aliases=("MMSI", "九位码")),
        Column("length_m", required=False, aliases=("总长", "船长(米)", "长度")),
        Column("power_kw", required=False, aliases=("功率", "主机功率")),
        Column("home_port", required=False, aliases=("船籍港",)),
        Column("status", required=False, aliases=("状态",)),
        Column("captain_id_number", required=False, aliases=("船长身份证号",)),
        Column("crew_id_numbers", required=False, aliases=("船员身份证号",)),
    ]

    def prepare(self, rows: list[Row], context: ImportContext) -> list[Row]:
        rows = super().prepare(rows, context)
        numbers = [r["ship_number"] for r in rows if r.get("ship_number")]
        context.state["existing"] = set(FishingVessel.objects.filter(active=True, ship_number__in=numbers)
                                        .values_list("ship_number", flat=True))
        context.state["seen"] = {}
        wanted: set[str] = set()
        for r in rows:
            for value in [r.get("captain_id_number", ""), *_SPLIT.split(r.get("crew_id_numbers", ""))]:
                if value:
                    wanted.add(blind_index("id_number", value))
        people = Resident.objects.filter(active=True, id_number_bidx__in=wanted)
        if not context.unrestricted:
            people = people.filter(scope_q(context.state["prefixes"]))
        context.state["people"] = {p.id_number_bidx: p for p in people.only("id", "id_number_bidx", "region_code")}
        return rows

    def person(self, value: str, column: str, context: ImportContext) -> Resident:
        person = context.state["people"].get(blind_index("id_number", value))
        if person is None:
            raise RowError(column, _("No resident with this ID number in your area."))
        resident: Resident = person
        return resident

    def validate_row(self, row: Row, context: ImportContext) -> Any:
        code = self.check_region(row, context)
        errors: dict[str, str] = {}
        values: dict[str, Any] = {
            "ship_number": services._run(errors, "ship_number", validate_vessel_number, row["ship_number"]),
            "mmsi": services._run(errors, "mmsi", validate_mmsi, row["mmsi"]) if row["mmsi"] else "",
            "length_m": services._decimal(errors, "length_m", row["length_m"]),
            "power_kw": services._decimal(errors, "power_kw", row["power_kw"]),
            "home_port": services._text(errors, "home_port", row["home_port"], max_length=60),
            "status": services._choice(errors, "status", _mapped(row["status"], STATUSES), VesselStatus,
                                       VesselStatus.IN_PORT),
        }
        self.first_error(errors)
        if values["ship_number"] in context.state["existing"]:
            raise RowError("ship_number", _("A vessel with this number is already registered."))
        if values["ship_number"] in context.state["seen"]:
            raise RowError("ship_number", _("The same vessel number is in row %(row)s.")
                           % {"row": context.state["seen"][values["ship_number"]]})
        context.state["seen"][values["ship_number"]] = row.number
        grid = self.grid(row, context, "sea_grid_number")
        if grid is None:
            raise RowError("sea_grid_number", _("This field is required."))
        values["sea_grid"] = grid
        values["region_code"] = code
        values["captain"] = (self.person(row["captain_id_number"], "captain_id_number", context)
                             if row["captain_id_number"] else None)
        crew = [self.person(v, "crew_id_numbers", context) for v in _SPLIT.split(row["crew_id_numbers"]) if v]
        return values, crew

    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        vessels = [FishingVessel(**values) for values, _crew in cleaned]
        FishingVessel.objects.bulk_create(vessels, batch_size=BATCH)
        links = [FishingVessel.crew.through(fishingvessel_id=v.pk, resident_id=r.pk)
                 for v, (_values, crew) in zip(vessels, cleaned, strict=True) for r in crew]
        FishingVessel.crew.through.objects.bulk_create(links, batch_size=BATCH, ignore_conflicts=True)
        return {"created": len(vessels), "crew": len(links)}


KINDS = {"residents": ResidentImporter.kind, "households": HouseholdImporter.kind, "houses": HouseImporter.kind,
         "organisations": OrganisationImporter.kind, "vessels": VesselImporter.kind}


# --- export (always masked) ------------------------------------------------------------------------------


def _scoped(model: Any, user: Any, prefix: str) -> Any:
    qs = model.objects.filter(active=True)
    if user is not None:
        qs = qs.restrict(user, EXPORT)
    if prefix:
        low, high = prefix_range(prefix)
        qs = qs.filter(region_code__gte=low, region_code__lte=high)
    return qs


def _iter(qs: Any) -> Iterator[Any]:
    return iter(qs.iterator(chunk_size=2000))


def export_rows(kind: str, user: Any, prefix: str = "") -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
    """Header and rows for ``kind``, with every piece of personal data masked.  ``user=None``: the system."""
    if kind == "residents":
        qs = _scoped(Resident, user, prefix).select_related("grid", "household").order_by("region_code", "id")
        return (["区划代码", "姓名", "身份证号", "性别", "出生年份", "手机号", "地址", "户号", "与户主关系", "居住类型",
                 "特殊人群", "网格编号", "党员"],
                ([r.region_code, mask("name", r.name), mask("id_number", r.id_number), r.sex,
                  r.birth_date.year if r.birth_date else "", mask("phone", r.phone), mask("address", r.address),
                  r.household.number if r.household else "", r.relation, r.residence_type, ",".join(r.tags),
                  r.grid.number if r.grid else "", "是" if r.is_party_member else "否"] for r in _iter(qs)))
    if kind == "households":
        qs = _scoped(Household, user, prefix).select_related("grid", "head").order_by("region_code", "number")
        return (["区划代码", "户号", "户主", "地址", "网格编号"],
                ([h.region_code, h.number, mask("name", h.head.name) if h.head else "", mask("address", h.address),
                  h.grid.number if h.grid else ""] for h in _iter(qs)))
    if kind == "houses":
        qs = _scoped(House, user, prefix).select_related("grid").order_by("region_code", "house_number")
        return (["区划代码", "门牌号", "地址", "用途", "面积", "房主", "网格编号"],
                ([h.region_code, h.house_number, mask("address", h.address), h.use,
                  float(h.area) if h.area is not None else "", mask("name", h.owner_name),
                  h.grid.number if h.grid else ""] for h in _iter(qs)))
    if kind == "organisations":
        qs = _scoped(Organisation, user, prefix).select_related("grid").order_by("region_code", "name")
        return (["区划代码", "名称", "统一社会信用代码", "类型", "法定代表人", "电话", "地址", "网格编号"],
                ([o.region_code, o.name, o.credit_code, o.kind, mask("name", o.legal_representative),
                  mask("phone", o.phone), mask("address", o.address), o.grid.number if o.grid else ""]
                 for o in _iter(qs)))
    if kind == "vessels":
        qs = (_scoped(FishingVessel, user, prefix).select_related("sea_grid", "captain")
              .prefetch_related("crew").order_by("region_code", "ship_number"))
        return (["区划代码", "海上网格编号", "船号", "MMSI", "总长", "功率", "船籍港", "状态", "船长", "船员人数"],
                ([v.region_code, v.sea_grid.number, v.ship_number, v.mmsi,
                  float(v.length_m) if v.length_m is not None else "",
                  float(v.power_kw) if v.power_kw is not None else "", v.home_port, v.status,
                  mask("name", v.captain.name) if v.captain else "", len(v.crew.all())]
                 for v in qs.iterator(chunk_size=500)))
    raise ValueError(kind)


__all__ = ["KINDS", "export_rows"]
