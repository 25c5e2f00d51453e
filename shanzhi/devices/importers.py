"""Bulk device import (XLSX/CSV) on the shared engine: tens of thousands of rows, all or none.

Lookups (regions, grids, existing devices, parent NVRs) are loaded in ``prepare`` with a few batched queries;
rows are checked with the same :func:`~shanzhi.devices.services.clean_device` as the registry form; ``apply``
creates new devices with ``bulk_create`` and updates existing ones with ``bulk_update``.  A parent NVR may be
registered earlier or appear anywhere in the same file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.core.codes import in_scope, prefix_of
from shanzhi.core.imports import Column, ImportContext, Importer, Row, RowError, register
from shanzhi.core.scope import prefixes_for
from shanzhi.regions.models import Grid, Region

from .bulk import update_rows
from .models import Device, DeviceKind, Layer, Status, Transport
from .processing import CACHE
from .services import DeviceData, clean_device

BATCH = 2000

KINDS = {str(label): value for value, label in DeviceKind.choices} | {
    "摄像机": DeviceKind.CAMERA, "枪机": DeviceKind.CAMERA, "球机": DeviceKind.CAMERA, "网络摄像机": DeviceKind.IPC,
    "硬盘录像机": DeviceKind.DVR, "网络硬盘录像机": DeviceKind.NVR, "卡口": DeviceKind.CHECKPOINT,
    "视频卡口": DeviceKind.CHECKPOINT, "报警输入": DeviceKind.ALARM_INPUT, "传感器": DeviceKind.IOT_SENSOR,
    "物联感知设备": DeviceKind.IOT_SENSOR, "船载终端": DeviceKind.VESSEL_TRANSPONDER,
}
LAYERS = {
    "高点全景鹰眼": Layer.HIGH_POINT, "高点": Layer.HIGH_POINT, "鹰眼": Layer.HIGH_POINT,
    "主干道卡口": Layer.ROAD_CHECKPOINT, "卡口": Layer.ROAD_CHECKPOINT, "村口": Layer.VILLAGE_ENTRANCE,
    "家门口": Layer.DOORSTEP, "物联感知": Layer.IOT, "物联": Layer.IOT,
}
TRANSPORTS = {"国标": Transport.GB28181, "gb/t 28181": Transport.GB28181, "28181": Transport.GB28181}
UPDATE_FIELDS = ["region_code", "kind", "layer", "transport", "name", "grid", "lat", "lng", "owner",
                 "keepalive_seconds", "expires_seconds", "parent", "updated_at"]


def _choice(value: str, table: Mapping[str, str], values: list[str]) -> str:
    value = value.strip()
    if value in values:
        return value
    return table.get(value, table.get(value.lower(), value))


def _float(row: Row, column: str) -> float | None:
    text = row.get(column, "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise RowError(column, _("Not a number.")) from None


def _int(row: Row, column: str) -> int | None:
    text = row.get(column, "")
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise RowError(column, _("Not a whole number.")) from None


def _same(device: Device, key: str, value: Any) -> bool:
    """Compare without loading related rows (grid, parent): foreign keys by id."""
    if key in ("grid", "parent"):
        return bool(getattr(device, f"{key}_id") == (value.pk if value is not None else None))
    return bool(getattr(device, key) == value)


@register
class DeviceImporter(Importer):
    kind = "devices.devices"
    label = gettext_lazy("devices")
    permission = "devices.change"
    audit_action = "devices.device.import"
    columns = [
        Column("device_id", aliases=("设备编码", "设备编号", "国标编码")),
        Column("name", aliases=("名称", "设备名称")),
        Column("kind", aliases=("类型", "设备类型")),
        Column("layer", aliases=("层级", "感知层级")),
        Column("region_code", aliases=("区划代码", "所属区划")),
        Column("grid_number", required=False, aliases=("网格编号",)),
        Column("lat", required=False, aliases=("纬度",)),
        Column("lng", required=False, aliases=("经度",)),
        Column("owner", required=False, aliases=("权属单位", "建设单位")),
        Column("parent_device_id", required=False, aliases=("上级设备编码", "所属NVR")),
        Column("transport", required=False, aliases=("接入方式",)),
        Column("keepalive_seconds", required=False, aliases=("心跳间隔",)),
    ]

    def prepare(self, rows: list[Row], context: ImportContext) -> list[Row]:
        if not context.unrestricted:
            context.state["prefixes"] = prefixes_for(context.actor, self.permission)
        codes = sorted({r["region_code"] for r in rows if r.get("region_code")})
        regions: set[str] = set()
        grids: dict[tuple[str, str], Grid] = {}
        for start in range(0, len(codes), BATCH):
            chunk = codes[start:start + BATCH]
            regions.update(Region.objects.filter(code__in=chunk).values_list("code", flat=True))
            grids.update({(g.region_code, g.number): g for g in Grid.objects.filter(region_code__in=chunk)})
        ids = [r["device_id"] for r in rows if r.get("device_id")]
        existing: dict[str, Device] = {}
        for start in range(0, len(ids), BATCH):
            existing.update({d.device_id: d for d in Device.objects.filter(device_id__in=ids[start:start + BATCH])})
        parent_ids = sorted({r["parent_device_id"] for r in rows if r.get("parent_device_id")})
        parents: dict[str, Device] = {d.device_id: d for d in existing.values()
                                      if d.kind in (DeviceKind.NVR, DeviceKind.DVR)}
        missing = [p for p in parent_ids if p not in parents]
        for start in range(0, len(missing), BATCH):
            parents.update({d.device_id: d for d in Device.objects.filter(
                device_id__in=missing[start:start + BATCH], kind__in=[DeviceKind.NVR, DeviceKind.DVR])})
        # NVRs/DVRs defined in the file itself can be parents of later (or earlier) rows
        for r in rows:
            kind = _choice(r.get("kind", ""), KINDS, DeviceKind.values)
            if kind in (DeviceKind.NVR, DeviceKind.DVR) and r.get("device_id") and r["device_id"] not in parents:
                parents[r["device_id"]] = Device(device_id=r["device_id"], kind=kind,
                                                 region_code=r.get("region_code", ""))
        context.state.update(regions=regions, grids=grids, existing=existing, parents=parents, seen=set(),
                             grids_by_pk={g.pk: g for g in grids.values()})
        return rows

    def validate_row(self, row: Row, context: ImportContext) -> Any:
        state = context.state
        code = row["region_code"]
        if code not in state["regions"]:
            raise RowError("region_code", _("No region with this code."))
        if not context.unrestricted and not in_scope(code, state["prefixes"]):
            raise RowError("region_code", _("This region is outside your area."))
        upload_region = str(context.options.get("region_code") or "")
        if upload_region and not in_scope(code, (prefix_of(upload_region),)):
            raise RowError("region_code", _("This region is outside the region of the upload."))
        device_id = row["device_id"]
        if device_id in state["seen"]:
            raise RowError("device_id", _("This device ID appears twice in the file."))
        state["seen"].add(device_id)
        grid = None
        if row.get("grid_number"):
            grid = state["grids"].get((code, row["grid_number"]))
            if grid is None:
                raise RowError("grid_number", _("No grid with this number in the region."))
        transport = row.get("transport", "")
        transport = _choice(transport, TRANSPORTS, Transport.values) if transport else ""
        data = DeviceData(
            region_code=code, device_id=device_id, kind=_choice(row["kind"], KINDS, DeviceKind.values),
            layer=_choice(row["layer"], LAYERS, Layer.values), name=row["name"], transport=transport,
            grid_id=grid.pk if grid else None, lat=_float(row, "lat"), lng=_float(row, "lng"),
            owner=row.get("owner", ""), keepalive_seconds=_int(row, "keepalive_seconds"),
            parent_device_id=row.get("parent_device_id", ""),
        )
        values, errors = clean_device(data, grids=state["grids_by_pk"], parents=state["parents"])
        for column, reason in errors.items():
            column = {"grid_id": "grid_number"}.get(column, column)
            context.error(column, reason)
        old = state["existing"].get(device_id)
        if old is not None and not context.unrestricted and not in_scope(old.region_code, state["prefixes"]):
            context.error("device_id", _("This device is registered outside your area."))
        return values

    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        existing: dict[str, Device] = context.state["existing"]
        new: list[Device] = []
        changed: list[Device] = []
        pending_parent: dict[str, str] = {}
        now = timezone.now()
        unchanged = 0
        for values in cleaned:
            parent = values.pop("parent")
            if parent is not None and parent.pk is None:  # defined in this file: linked after creation
                pending_parent[values["device_id"]] = parent.device_id
                parent = None
            old = existing.get(values["device_id"])
            if old is None:
                new.append(Device(**values, parent=parent, status=Status.OFFLINE))
                continue
            values["parent"] = parent
            if all(_same(old, key, value) for key, value in values.items()):
                unchanged += 1
                continue
            for key, value in values.items():
                setattr(old, key, value)
            old.updated_at = now
            changed.append(old)
        Device.objects.bulk_create(new, batch_size=BATCH)
        if changed:
            update_rows(Device, changed, UPDATE_FIELDS)
        if pending_parent:
            wanted = set(pending_parent) | set(pending_parent.values())
            rows: dict[str, Device] = {}
            names = sorted(wanted)
            for start in range(0, len(names), BATCH):
                rows.update({d.device_id: d for d in Device.objects.filter(device_id__in=names[start:start + BATCH])})
            linked = []
            for child, parent_id in pending_parent.items():
                rows[child].parent = rows[parent_id]
                linked.append(rows[child])
            update_rows(Device, linked, ["parent"])
        CACHE.clear()
        return {"created": len(new), "updated": len(changed), "unchanged": unchanged}
