"""Importers of regions and grids for the shared engine (:mod:`shanzhi.core.imports`).

Both are *upserts*: a row whose code (region) or village+number (grid) already exists updates that row
(one audit row with before/after per changed object); new rows are bulk-created and covered by the engine's
summary audit row (file name, SHA-256, counts).  A code or number given twice in one file is an error.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.core import audit, codes
from shanzhi.core.errors import ValidationFailed
from shanzhi.core.imports import Column, ImportContext, Importer, Row, RowError, register
from shanzhi.core.scope import prefixes_for

from .models import Grid, GridKind, Region, UrbanRural
from .services import PERM, check_geometry

LEVEL_WORDS = {
    "province": codes.Level.PROVINCE, "省": codes.Level.PROVINCE,
    "city": codes.Level.CITY, "市": codes.Level.CITY,
    "county": codes.Level.COUNTY, "县": codes.Level.COUNTY, "区": codes.Level.COUNTY, "县区": codes.Level.COUNTY,
    "town": codes.Level.TOWN, "镇": codes.Level.TOWN, "乡": codes.Level.TOWN, "街道": codes.Level.TOWN,
    "乡镇": codes.Level.TOWN,
    "village": codes.Level.VILLAGE, "村": codes.Level.VILLAGE, "社区": codes.Level.VILLAGE,
    "村社": codes.Level.VILLAGE,
}
KIND_WORDS = {"land": GridKind.LAND, "陆": GridKind.LAND, "陆地": GridKind.LAND, "陆上": GridKind.LAND,
              "sea": GridKind.SEA, "海": GridKind.SEA, "海上": GridKind.SEA, "海洋": GridKind.SEA}
CHUNK = 900


def _existing(model: Any, field: str, values: set[str], *fields: str) -> dict[str, Any]:
    """Rows of ``model`` whose ``field`` is in ``values``, fetched in chunks (SQLite's parameter limit)."""
    found: dict[str, Any] = {}
    ordered = sorted(values)
    for i in range(0, len(ordered), CHUNK):
        for row in model.objects.filter(**{f"{field}__in": ordered[i:i + CHUNK]}).only(*fields):
            found[getattr(row, field)] = row
    return found


def _in_scope(context: ImportContext, code: str) -> bool:
    if context.unrestricted:
        return True
    return codes.in_scope(code, context.state.setdefault("prefixes", prefixes_for(context.actor, PERM)))


def _normal(code: str) -> str | None:
    try:
        return codes.normalize(code)
    except codes.CodeError:
        return None


@register
class RegionImporter(Importer):
    kind = "regions.regions"
    label = gettext_lazy("regions")
    permission = PERM
    audit_action = "regions.region.import"
    columns = [
        Column("code", aliases=("代码", "区划代码", "统计用区划代码", "division code")),
        Column("name", aliases=("名称", "区划名称", "单位名称")),
        Column("parent_code", required=False, aliases=("上级代码", "上级区划代码", "parent")),
        Column("level", required=False, aliases=("级别", "层级")),
        Column("urban_rural", required=False, aliases=("城乡分类代码", "城乡分类")),
    ]

    def prepare(self, rows: list[Row], context: ImportContext) -> list[Row]:
        wanted: set[str] = set()
        for row in rows:
            code = _normal(row["code"])
            if code:
                wanted.add(code)
                parent = codes.parent_code(code) if code != "0" * 12 else None
                if parent:
                    wanted.add(parent)
        context.state["db"] = _existing(Region, "code", wanted, "code", "name", "level", "urban_rural")
        context.state["seen"] = set()
        context.state["in_file"] = {c for c in (_normal(r["code"]) for r in rows) if c}

        def depth(row: Row) -> tuple[int, int]:
            code = _normal(row["code"])
            return (len(codes.prefix_of(code)) if code and code != "0" * 12 else 99, row.number)

        return sorted(rows, key=depth)  # parents before children, then in sheet order

    def validate_row(self, row: Row, context: ImportContext) -> Any:
        try:
            code = codes.normalize(row["code"])
            level = codes.validate(code)
        except codes.CodeError as exc:
            raise RowError("code", exc) from None
        if row["level"]:
            given = LEVEL_WORDS.get(row["level"].strip().lower())
            if given is None:
                raise RowError("level", _("Unknown level %(value)s.") % {"value": row["level"]})
            if given != level:
                raise RowError("level", _("The code is a %(found)s code, the row says %(given)s.")
                               % {"found": level.value, "given": given.value})
        parent = codes.parent_code(code)
        if row["parent_code"]:
            given_parent = _normal(row["parent_code"])
            if given_parent is None:
                raise RowError("parent_code", _("Not a division code."))
            if given_parent != parent:
                raise RowError("parent_code", _("The code %(code)s does not lie directly under %(parent)s.")
                               % {"code": code, "parent": given_parent})
        seen: set[str] = context.state["seen"]
        if code in seen:
            raise RowError("code", _("The code appears more than once in the file."))
        if parent and parent not in context.state["db"] and parent not in seen:
            if parent in context.state["in_file"]:
                raise RowError("parent_code", _("The row of the parent region %(parent)s is itself invalid.")
                               % {"parent": parent})
            raise RowError("parent_code", _("The parent region %(parent)s exists neither in the database nor "
                                            "in the file.") % {"parent": parent})
        if not _in_scope(context, code):
            raise RowError("code", _("The region lies outside your area."))
        name = row["name"].strip()
        if not name:
            raise RowError("name", _("The name is empty."))
        if len(name) > 100:
            raise RowError("name", _("The name is longer than 100 characters."))
        urban_rural = row["urban_rural"].strip()
        if urban_rural and urban_rural not in UrbanRural.values:
            raise RowError("urban_rural", _("Unknown urban/rural class."))
        seen.add(code)
        return {"code": code, "level": level.value, "name": name, "parent": parent, "urban_rural": urban_rural}

    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        existing: dict[str, Region] = context.state["db"]
        new = [Region(code=c["code"], level=c["level"], name=c["name"], parent_id=c["parent"],
                      urban_rural=c["urban_rural"]) for c in cleaned if c["code"] not in existing]
        Region.objects.bulk_create(new, batch_size=500)
        changed: list[Region] = []
        for c in cleaned:
            region = existing.get(c["code"])
            if region is None:
                continue
            urban_rural = c["urban_rural"] or region.urban_rural
            if region.name == c["name"] and region.urban_rural == urban_rural:
                continue
            before = audit.snapshot(region, ["code", "name", "urban_rural"])
            region.name, region.urban_rural = c["name"], urban_rural
            changed.append(region)
            audit.record(actor=context.actor or "system", action="regions.region.update", obj=region,
                         before=before, after=audit.snapshot(region, ["code", "name", "urban_rural"]))
        Region.objects.bulk_update(changed, ["name", "urban_rural"], batch_size=500)
        return {"created": len(new), "updated": len(changed), "unchanged": len(cleaned) - len(new) - len(changed)}


@register
class GridImporter(Importer):
    kind = "regions.grids"
    label = gettext_lazy("grids")
    permission = PERM
    audit_action = "regions.grid.import"
    columns = [
        Column("village_code", aliases=("村社代码", "村代码", "所属村社代码", "region_code", "code", "代码")),
        Column("number", aliases=("网格编号", "编号")),
        Column("name", aliases=("网格名称", "名称")),
        Column("kind", required=False, aliases=("网格类型", "类型")),
        Column("polygon", required=False, aliases=("边界", "范围", "geojson")),
    ]

    def prepare(self, rows: list[Row], context: ImportContext) -> list[Row]:
        villages = {c for c in (_normal(r["village_code"]) for r in rows) if c}
        context.state["villages"] = _existing(Region, "code", villages, "code", "level")
        grids: dict[tuple[str, str], Grid] = {}
        for grid in _existing_grids(villages):
            grids[(grid.region_code, grid.number)] = grid
        context.state["grids"] = grids
        context.state["seen"] = set()
        return rows

    def validate_row(self, row: Row, context: ImportContext) -> Any:
        try:
            code = codes.normalize(row["village_code"])
            level = codes.validate(code)
        except codes.CodeError as exc:
            raise RowError("village_code", exc) from None
        if level != codes.Level.VILLAGE:
            raise RowError("village_code", _("A grid belongs to a village or community code (12 digits)."))
        if code not in context.state["villages"]:
            raise RowError("village_code", _("The village %(code)s does not exist.") % {"code": code})
        if not _in_scope(context, code):
            raise RowError("village_code", _("The region lies outside your area."))
        number = row["number"].strip()
        if not number or len(number) > 32:
            raise RowError("number", _("The grid number must hold 1 to 32 characters."))
        if (code, number) in context.state["seen"]:
            raise RowError("number", _("This village and grid number appear more than once in the file."))
        name = row["name"].strip()
        if not name or len(name) > 100:
            raise RowError("name", _("The name must hold 1 to 100 characters."))
        kind = GridKind.LAND
        if row["kind"]:
            found = KIND_WORDS.get(row["kind"].strip().lower())
            if found is None:
                raise RowError("kind", _("A grid is a land or a sea grid."))
            kind = found
        polygon = None
        if row["polygon"]:
            try:
                polygon = check_geometry(json.loads(row["polygon"]), "polygon")
            except json.JSONDecodeError:
                raise RowError("polygon", _("The polygon is not valid JSON.")) from None
            except ValidationFailed as exc:
                raise RowError("polygon", "; ".join(str(m) for m in exc.detail["polygon"])) from None
        context.state["seen"].add((code, number))
        return {"code": code, "number": number, "name": name, "kind": kind, "polygon": polygon}

    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        existing: dict[tuple[str, str], Grid] = context.state["grids"]
        new = [Grid(region_id=c["code"], region_code=c["code"], number=c["number"], name=c["name"],
                    kind=c["kind"], polygon=c["polygon"])
               for c in cleaned if (c["code"], c["number"]) not in existing]
        Grid.objects.bulk_create(new, batch_size=500)
        changed: list[Grid] = []
        for c in cleaned:
            grid = existing.get((c["code"], c["number"]))
            if grid is None:
                continue
            polygon = c["polygon"] if c["polygon"] is not None else grid.polygon
            if (grid.name, grid.kind, grid.polygon) == (c["name"], c["kind"], polygon):
                continue
            before = audit.snapshot(grid, ["name", "kind", "polygon"])
            grid.name, grid.kind, grid.polygon = c["name"], c["kind"], polygon
            changed.append(grid)
            audit.record(actor=context.actor or "system", action="regions.grid.update", obj=grid, before=before,
                         after=audit.snapshot(grid, ["name", "kind", "polygon"]))
        Grid.objects.bulk_update(changed, ["name", "kind", "polygon"], batch_size=500)
        return {"created": len(new), "updated": len(changed), "unchanged": len(cleaned) - len(new) - len(changed)}


def _existing_grids(villages: set[str]) -> list[Grid]:
    ordered = sorted(villages)
    result: list[Grid] = []
    for i in range(0, len(ordered), CHUNK):
        result.extend(Grid.objects.filter(region_code__in=ordered[i:i + CHUNK]))
    return result


def export_rows(user: Any, prefix: str = "") -> tuple[list[str], Any]:
    """Headers and rows of the regions visible to ``user`` (``None``: all) under ``prefix``, importable again."""
    qs = Region.objects.all() if user is None else Region.objects.restrict(user, "regions.view")
    if prefix:
        low, high = codes.prefix_range(prefix)
        qs = qs.filter(code__gte=low, code__lte=high)
    headers = ["code", "name", "parent_code", "level", "urban_rural"]
    rows = ([r.code, r.name, r.parent_id or "", r.level, r.urban_rural]
            for r in qs.order_by("code").only("code", "name", "parent_id", "level", "urban_rural").iterator(2000))
    return headers, rows
