"""Demo hook: a perception network for every demo village, with valid GB/T 28181 codes (deterministic).

Per village: one high-point panorama camera (every third village), a road checkpoint, two village-entrance
cameras, an NVR with doorstep IP cameras (its channels registered), IoT sensors (water level, smoke, a wearable
for an elderly person living alone); and a transponder (MMSI) for every demo fishing vessel with one.
Everything is bulk-inserted; ``shanzhi devices simulate`` then keeps the fleet alive.
"""

from __future__ import annotations

from typing import Any

from shanzhi.core.codes import prefix_of
from shanzhi.core.demo import DemoContext

from . import gbcode
from .models import Channel, Device, DeviceKind, Layer, Status, Transport

DOORSTEP = {"small": 2, "city": 3, "province": 4}
INDUSTRY: dict[str, str] = {"checkpoint": "05", "camera": "01", "ipc": "01", "nvr": "01"}
TYPES: dict[str, str] = {"camera": "131", "ipc": "132", "nvr": "118", "checkpoint": "121"}
SENSORS = (("water_level", "水位计"), ("smoke", "烟感"), ("activity", "独居老人手环"))
BATCH = 1000
# every tenth village has a school gate camera, another tenth a kindergarten one (labels.site, see processing)
SITES = {1: ("school", "学校门口"), 6: ("kindergarten", "幼儿园门口")}


def _code(village: Any, kind: str, serial: int) -> str:
    centre = prefix_of(village.code)[:6].ljust(6, "0") + "00"
    return gbcode.make(centre, INDUSTRY[kind], TYPES[kind], "7", serial)


def build(ctx: DemoContext) -> None:
    rng = ctx.rng
    devices: list[Device] = []
    nvr_children: list[tuple[str, str]] = []  # (child device_id, nvr device_id)
    serials: dict[str, int] = {}

    def serial(village: Any) -> int:
        county = village.code[:6]
        serials[county] = serials.get(county, 0) + 1
        return serials[county]

    def place(village: Any) -> tuple[float | None, float | None]:
        if village.centroid_lat is None or village.centroid_lng is None:
            return None, None
        return (round(village.centroid_lat + rng.uniform(-0.004, 0.004), 6),
                round(village.centroid_lng + rng.uniform(-0.004, 0.004), 6))

    def add(village: Any, kind: str, layer: str, name: str, device_id: str = "", **extra: Any) -> Device:
        lat, lng = place(village)
        gb = kind in TYPES
        device = Device(
            region_code=village.code, device_id=device_id or _code(village, kind, serial(village)), kind=kind,
            layer=layer, transport=Transport.GB28181 if gb else Transport.MQTT, name=f"{village.name}{name}",
            lat=lat, lng=lng, owner=f"{village.name}村委会", status=Status.OFFLINE, **extra,
        )
        devices.append(device)
        return device

    grids_by_village: dict[str, list[Any]] = {}
    for grid in ctx.land_grids:
        grids_by_village.setdefault(grid.region_code, []).append(grid)
    for index, village in enumerate(ctx.track(ctx.villages, "devices", len(ctx.villages))):
        grids = grids_by_village.get(village.code, [])

        def grid(grids: list[Any] = grids) -> Any:
            return rng.choice(grids) if grids else None

        if index % 3 == 0:
            add(village, DeviceKind.CAMERA, Layer.HIGH_POINT, "高点鹰眼", grid=grid())
        add(village, DeviceKind.CHECKPOINT, Layer.ROAD_CHECKPOINT, "主干道卡口", grid=grid())
        for n in (1, 2):
            add(village, DeviceKind.CAMERA, Layer.VILLAGE_ENTRANCE, f"村口{n}号", grid=grid())
        nvr = add(village, DeviceKind.NVR, Layer.DOORSTEP, "家门口录像机", grid=grid())
        for n in range(1, DOORSTEP.get(ctx.size, 2) + 1):
            cam = add(village, DeviceKind.IPC, Layer.DOORSTEP, f"家门口{n}号", grid=grid())
            nvr_children.append((cam.device_id, nvr.device_id))
        site = SITES.get(index % 10)
        if site is not None:  # cameras at a school or kindergarten gate (the campus scenario watches them)
            add(village, DeviceKind.CAMERA, Layer.VILLAGE_ENTRANCE, site[1], grid=grid(),
                attributes={"labels": {"site": site[0]}})
        for n, (metric, label) in enumerate(SENSORS, start=1):
            add(village, DeviceKind.IOT_SENSOR, Layer.IOT, label, device_id=f"iot-{village.code}-{n:02d}",
                grid=grid(), attributes={"metric": metric})
    _vessels(ctx, add)
    Device.objects.bulk_create(devices, batch_size=BATCH)
    wanted = [d.device_id for d in devices]
    rows: dict[str, Device] = {}
    for start in range(0, len(wanted), 5000):
        rows.update({d.device_id: d for d in Device.objects.filter(device_id__in=wanted[start:start + 5000])})
    children = []
    channels = []
    for child_id, nvr_id in nvr_children:
        child = rows[child_id]
        child.parent = rows[nvr_id]
        children.append(child)
        channels.append(Channel(device=rows[nvr_id], region_code=child.region_code, channel_id=child_id,
                                name=child.name, civil_code=child.region_code, lat=child.lat, lng=child.lng,
                                parent_id=nvr_id, status=Status.OFFLINE))
    Device.objects.bulk_update(children, ["parent"], batch_size=BATCH)
    Channel.objects.bulk_create(channels, batch_size=BATCH)
    ctx.log(f"devices: {len(devices)} devices, {len(channels)} NVR channels")


def _vessels(ctx: DemoContext, add: Any) -> None:
    try:
        from shanzhi.people.models import FishingVessel
    except ImportError:  # pragma: no cover - people is always installed
        return
    regions = {v.code: v for v in ctx.villages}
    vessels = FishingVessel.objects.filter(active=True).exclude(mmsi="").order_by("ship_number")
    used: set[str] = set()
    for vessel in vessels.iterator():
        village = regions.get(vessel.region_code)
        if village is None or vessel.mmsi in used:
            continue
        used.add(vessel.mmsi)
        add(village, DeviceKind.VESSEL_TRANSPONDER, Layer.IOT, f"{vessel.ship_number}船载终端",
            device_id=vessel.mmsi, grid_id=vessel.sea_grid_id, attributes={"vessel": vessel.ship_number})
