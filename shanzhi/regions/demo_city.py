"""The demo city: regions, boundaries, grids, centres and departments, generated deterministically.

The skeleton is real: 浙江省, 舟山市, its four county-level districts and 36 townships with their statistical
codes (``data/zhoushan_divisions.csv``).  Below the townships everything is generated from ``ctx.rng``:
villages and communities with valid codes and plausible names, hexagonal boundaries clustered around each
township, land grids that subdivide each village, sea grids off the fishing villages, the centre of every
region and the departments of the county and city level.  The ``province`` size adds a second, fictional
city (names marked 演示) about four times the size of Zhoushan.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from shanzhi.core import audit
from shanzhi.core.codes import Level, normalize, parent_code, prefix_of
from shanzhi.core.demo import DemoContext

from .models import CENTRE_KIND_FOR_LEVEL, Centre, CentreKind, DepartmentType, Grid, GridKind, Region, UrbanRural

DATA = Path(__file__).resolve().parent / "data" / "zhoushan_divisions.csv"
PROVINCE = ("330000000000", "浙江省")

# Zhoushan's bounding box and the rough centre of each county-level district (lat, lng).
LAT_RANGE = (29.5, 30.9)
LNG_RANGE = (121.6, 123.2)
COUNTY_CENTRES = {
    "330902": (30.03, 122.10),  # 定海区
    "330903": (29.93, 122.32),  # 普陀区
    "330921": (30.27, 122.22),  # 岱山县
    "330922": (30.70, 122.48),  # 嵊泗县
}
# The districts whose villages fish: their villages get sea grids first.
FISHING_COUNTIES = ("330903", "330921", "330922")

# How many villages/communities each size builds in Zhoushan, and whether only 定海区 is built.
VILLAGE_TARGET = {"small": 40, "city": 400, "province": 400}
SEA_GRID_TARGET = {"small": 6, "city": 30, "province": 30}
SMALL_COUNTY = "330902"

DEPARTMENTS: list[tuple[str, str, str]] = [
    ("police", "公安局", "Public Security Bureau"),
    ("justice", "司法局", "Justice Bureau"),
    ("civil_affairs", "民政局", "Civil Affairs Bureau"),
    ("emergency", "应急管理局", "Emergency Management Bureau"),
    ("ocean_fisheries", "海洋与渔业局", "Ocean and Fishery Bureau"),
    ("housing", "住房和城乡建设局", "Housing and Construction Bureau"),
    ("law_enforcement", "综合行政执法局", "Comprehensive Law Enforcement Bureau"),
    ("natural_resources", "自然资源和规划局", "Natural Resources and Planning Bureau"),
    ("labour_arbitration", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
]

# Pinyin slugs of the real regions, used in demo usernames (town_admin_maao, county_admin_dinghai).
SLUGS = {
    "3309": "zhoushan", "330902": "dinghai", "330903": "putuo", "330921": "daishan", "330922": "shengsi",
    "330902002": "changguo", "330902003": "huannan", "330902004": "chengdong", "330902005": "yancang",
    "330902006": "lincheng", "330902007": "cengang", "330902008": "maao", "330902009": "shuangqiao",
    "330902010": "xiaosha", "330902050": "qiandao", "330902100": "jintang", "330902104": "baiquan",
    "330902105": "ganlan", "330903001": "shenjiamen", "330903003": "donggang", "330903004": "zhujiajian",
    "330903005": "zhanmao", "330903100": "liuheng", "330903102": "xiazhi", "330903104": "taohua",
    "330903105": "dongji", "330903106": "putuoshan", "330921100": "gaoting", "330921101": "dongsha",
    "330921102": "daidong", "330921103": "daixi", "330921105": "changtu", "330921106": "qushan",
    "330921200": "xiushan", "330922100": "caiyuan", "330922101": "shengshan", "330922102": "yangshan",
    "330922200": "wulong", "330922201": "huanglong", "330922202": "gouqi", "330922203": "huaniao",
}

_FIRST = "东西南北新大小金银青白石沙黄长桃柳竹兰海礁港湾岚马螺鹿龙凤泥峙岑干双塘洋浦"
_SECOND = "岙湾港礁浦山塘头家峰岭门墩园洋滨沙嘴坑岗桥田林坪"
_COMMUNITY_WORDS = ["东港", "海滨", "新城", "文化", "城北", "城南", "和平", "解放", "人民", "滨港", "学府",
                    "桃园", "长峙", "昌洲", "金岛", "锦绣", "芙蓉", "同心", "幸福", "惠民", "兴港", "渔港",
                    "翠竹", "丽园", "南珍", "蓬莱", "青岭", "普济", "晓峰", "半升洞"]


@dataclass
class Built:
    """What the builder made, for the users step and the tests."""

    province: Region
    cities: list[Region] = field(default_factory=list)
    counties: list[Region] = field(default_factory=list)
    towns: list[Region] = field(default_factory=list)
    villages: list[Region] = field(default_factory=list)
    land_grids: list[Grid] = field(default_factory=list)
    sea_grids: list[Grid] = field(default_factory=list)
    centres: list[Centre] = field(default_factory=list)
    departments: list[Centre] = field(default_factory=list)
    slugs: dict[str, str] = field(default_factory=dict)  # 12-digit code -> slug for usernames


# --- geometry --------------------------------------------------------------------------------------
Point = tuple[float, float]  # (lng, lat), GeoJSON order


def _hull(points: Sequence[Point]) -> list[Point]:
    """Convex hull (monotone chain), counter-clockwise, not closed."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o: Point, a: Point, b: Point) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[Point] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _polygon(ring: Sequence[Point]) -> dict[str, Any]:
    coords = [[round(x, 6), round(y, 6)] for x, y in ring]
    coords.append(coords[0])
    return {"type": "Polygon", "coordinates": [coords]}


def _ring_points(geo: dict[str, Any] | None) -> list[Point]:
    if not geo:
        return []
    return [(p[0], p[1]) for p in geo["coordinates"][0][:-1]]


def _hex_cells(count: int) -> list[tuple[int, int]]:
    """Axial hex coordinates spiralling out from (0, 0): neighbours stay close, cells never overlap."""
    cells = [(0, 0)]
    directions = [(1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1)]
    ring = 1
    while len(cells) < count:
        q, r = -ring, ring  # start at direction 4 * ring
        for d in range(6):
            for _ in range(ring):
                cells.append((q, r))
                q, r = q + directions[d][0], r + directions[d][1]
        ring += 1
    return cells[:count]


def _hexagon(rng: random.Random, lng: float, lat: float, radius: float) -> list[Point]:
    """A pointy hexagon around (lng, lat), shrunk and jittered a little so neighbours do not touch."""
    k = math.cos(math.radians(lat))
    points = []
    for i in range(6):
        angle = math.radians(60 * i + 30)
        scale = radius * rng.uniform(0.86, 0.95)
        points.append((lng + scale * math.cos(angle) / k, lat + scale * math.sin(angle)))
    return points


def _clamp(lat: float, lng: float) -> tuple[float, float]:
    return min(max(lat, LAT_RANGE[0] + 0.02), LAT_RANGE[1] - 0.02), min(max(lng, LNG_RANGE[0] + 0.02),
                                                                         LNG_RANGE[1] - 0.02)


# --- names -----------------------------------------------------------------------------------------
def _village_name(rng: random.Random, used: set[str], community: bool) -> str:
    for attempt in range(200):
        if community:
            word = rng.choice(_COMMUNITY_WORDS) if attempt < 20 else rng.choice(_FIRST) + rng.choice(_SECOND)
            name = f"{word}社区"
        else:
            name = f"{rng.choice(_FIRST)}{rng.choice(_SECOND)}村"
        if name not in used:
            used.add(name)
            return name
    raise RuntimeError("ran out of demo village names")  # pragma: no cover - 1000+ combinations per town


# --- the skeleton ----------------------------------------------------------------------------------
@dataclass
class _Division:
    code: str
    name: str
    level: Level
    parent: str | None


def zhoushan_divisions() -> list[_Division]:
    with DATA.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    result = []
    for row in rows:
        code = normalize(row["code"])
        result.append(_Division(code, row["name"], Level(row["level"]), parent_code(code)))
    return result


def _fictional_city(rng: random.Random) -> list[_Division]:
    """A second city (演示 = demo) with 6 districts of about 10 townships: code-valid, clearly fictional."""
    city = "330200000000"
    result = [_Division(city, "明州市（演示）", Level.CITY, "330000000000")]
    county_names = ["海曙区", "江北区", "北仑区", "镇海区", "鄞州区", "奉化区"]
    county_codes = ["330203", "330205", "330206", "330211", "330212", "330213"]
    town_words = ["月湖", "南门", "西门", "白云", "段塘", "鼓楼", "洪塘", "庄桥", "甬江", "慈城", "大碶",
                  "霞浦", "柴桥", "春晓", "招宝山", "蛟川", "骆驼", "庄市", "钟公庙", "首南", "姜山",
                  "咸祥", "塘溪", "锦屏", "岳林", "溪口", "莼湖", "尚田", "裘村", "松岙"]
    used: set[str] = set()
    for cname, ccode in zip(county_names, county_codes, strict=True):
        county = normalize(ccode)
        result.append(_Division(county, f"{cname}（演示）", Level.COUNTY, city))
        for i in range(10):
            street = i < 4
            number = (1 + i) if street else (100 + i)
            word = rng.choice([w for w in town_words if w not in used] or town_words)
            used.add(word)
            suffix = "街道" if street else "镇"
            result.append(_Division(normalize(f"{ccode}{number:03d}"), f"{word}{suffix}", Level.TOWN, county))
    return result


def _create_department_types() -> list[DepartmentType]:
    types = []
    for code, name, name_en in DEPARTMENTS:
        dept, _created = DepartmentType.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})
        types.append(dept)
    return types


def build(ctx: DemoContext) -> Built:
    """Create the regions, grids, centres and departments of ``ctx.size`` (the database must be empty of them)."""
    rng = ctx.rng
    divisions = zhoushan_divisions()
    if ctx.size == "small":
        divisions = [d for d in divisions if d.level in (Level.CITY,) or d.code.startswith(SMALL_COUNTY)]
    if ctx.size == "province":
        divisions += _fictional_city(rng)

    built = Built(province=Region(code=PROVINCE[0], level=Level.PROVINCE.value, name=PROVINCE[1]))
    regions: dict[str, Region] = {PROVINCE[0]: built.province}
    for div in divisions:
        region = Region(code=div.code, level=div.level.value, name=div.name, parent_id=div.parent)
        regions[div.code] = region
        target = {Level.CITY: built.cities, Level.COUNTY: built.counties, Level.TOWN: built.towns}[div.level]
        target.append(region)
        built.slugs[div.code] = SLUGS.get(prefix_of(div.code), prefix_of(div.code))
    for town in built.towns:
        town.urban_rural = UrbanRural.TOWN_CENTRE if town.name.endswith("街道") else UrbanRural.RURAL_CENTRE

    # town centres: scattered around their county's centre (the fictional city sits west of Zhoushan)
    town_centre: dict[str, tuple[float, float]] = {}
    for county in built.counties:
        base = COUNTY_CENTRES.get(county.code[:6])
        if base is None:
            index = int(county.code[4:6])
            base = (29.70 + (index % 4) * 0.09, 121.25 + (index // 4) * 0.1)
        towns = [t for t in built.towns if t.parent_id == county.code]
        for i, town in enumerate(towns):
            angle = 2 * math.pi * i / max(len(towns), 1) + rng.uniform(-0.2, 0.2)
            dist = 0.03 + 0.05 * rng.random() + 0.01 * (i % 3)
            lat, lng = base[0] + dist * math.sin(angle), base[1] + dist * math.cos(angle) * 1.2
            if not county.code.startswith("3302"):
                lat, lng = _clamp(lat, lng)
            town_centre[town.code] = (lat, lng)

    # villages/communities per town
    zhoushan_towns = [t for t in built.towns if t.code.startswith("3309")]
    per_town = VILLAGE_TARGET[ctx.size] / max(len(zhoushan_towns), 1)
    for town in ctx.track(built.towns, "villages", len(built.towns)):
        scale = 1.0 if town.code.startswith("3309") else 2.7
        count = max(2, round(per_town * scale * rng.uniform(0.55, 1.45)))
        street = town.name.endswith("街道")
        communities = round(count * rng.uniform(0.6, 0.85)) if street else (1 if count > 4 else 0)
        used: set[str] = set()
        lat0, lng0 = town_centre[town.code]
        radius = 0.0045 if street else 0.008
        cells = _hex_cells(count)
        for i in range(count):
            community = i < communities
            number = (1 + i) if community else (200 + i - communities)
            code = f"{town.code[:9]}{number:03d}"
            q, r = cells[i]
            lng = lng0 + radius * math.sqrt(3) * (q + r / 2) / math.cos(math.radians(lat0))
            lat = lat0 + radius * 1.5 * r
            hexagon = _hexagon(rng, lng, lat, radius)
            village = Region(
                code=code, level=Level.VILLAGE.value, parent_id=town.code,
                name=_village_name(rng, used, community),
                urban_rural=(UrbanRural.MAIN_URBAN if street else UrbanRural.TOWN_CENTRE) if community
                else (UrbanRural.URBAN_FRINGE if street else UrbanRural.VILLAGE),
                boundary=_polygon(hexagon), centroid_lat=round(lat, 6), centroid_lng=round(lng, 6),
            )
            built.villages.append(village)
            regions[code] = village

    # boundaries of towns, counties, cities and the province: hulls of their children
    children: dict[str, list[Region]] = {}
    for region in regions.values():
        if region.parent_id:
            children.setdefault(region.parent_id, []).append(region)
    for level in (Level.TOWN, Level.COUNTY, Level.CITY, Level.PROVINCE):
        for region in regions.values():
            if region.level != level.value:
                continue
            points = [p for child in children.get(region.code, []) for p in _ring_points(child.boundary)]
            if len(points) >= 3:
                hull = _hull(points)
                region.boundary = _polygon(hull)
                region.centroid_lng = round(sum(p[0] for p in hull) / len(hull), 6)
                region.centroid_lat = round(sum(p[1] for p in hull) / len(hull), 6)

    ordered = sorted(regions.values(), key=lambda r: (len(r.code.rstrip("0")), r.code))
    with transaction.atomic():
        # parents first: a region row refers to its parent
        by_level = [[r for r in ordered if r.level == lvl.value] for lvl in Level]
        for rows in by_level:
            Region.objects.bulk_create(rows, batch_size=500)
        audit.record(actor=None, action="regions.region.demo_build", object_type="regions.region",
                     region_code=PROVINCE[0], after={lvl.value: len(rows) for lvl, rows in
                                                     zip(Level, by_level, strict=True)})

        _build_grids(ctx, built)
        Grid.objects.bulk_create(built.land_grids + built.sea_grids, batch_size=500)
        audit.record(actor=None, action="regions.grid.demo_build", object_type="regions.grid",
                     region_code=PROVINCE[0],
                     after={"land": len(built.land_grids), "sea": len(built.sea_grids)})

        dept_types = _create_department_types()
        for region in ordered:
            kind = CENTRE_KIND_FOR_LEVEL.get(region.level)
            if kind is None:
                continue
            built.centres.append(Centre(region=region, region_code=region.code, kind=kind,
                                        name=_centre_name(region, kind), phone=_phone(rng)))
            if region.level in (Level.COUNTY.value, Level.CITY.value):
                for dept in dept_types:
                    built.departments.append(Centre(
                        region=region, region_code=region.code, kind=CentreKind.DEPARTMENT,
                        department_type=dept, name=f"{region.name}{dept.name}", phone=_phone(rng),
                    ))
        Centre.objects.bulk_create(built.centres + built.departments, batch_size=500)
        audit.record(actor=None, action="regions.centre.demo_build", object_type="regions.centre",
                     region_code=PROVINCE[0],
                     after={"centres": len(built.centres), "departments": len(built.departments)})

    # bulk_create on SQLite does not hand back primary keys of auto-id rows: read the grids back
    grids = {(g.region_code, g.number): g for g in Grid.objects.all()}
    built.land_grids = [grids[(g.region_code, g.number)] for g in built.land_grids]
    built.sea_grids = [grids[(g.region_code, g.number)] for g in built.sea_grids]
    ctx.villages, ctx.towns = built.villages, built.towns
    ctx.land_grids, ctx.sea_grids = built.land_grids, built.sea_grids
    return built


def _centre_name(region: Region, kind: str) -> str:
    suffix = {CentreKind.VILLAGE: "村社微脑", CentreKind.TOWN: "镇街小脑", CentreKind.COUNTY: "矛调中心",
              CentreKind.CITY: "综治中心"}[CentreKind(kind)]
    return f"{region.name}{suffix}"


def _phone(rng: random.Random) -> str:
    return f"0580-{rng.randint(2000000, 8999999)}"


def _build_grids(ctx: DemoContext, built: Built) -> None:
    rng = ctx.rng
    for village in ctx.track(built.villages, "grids", len(built.villages)):
        ring = _ring_points(village.boundary)
        centre = (village.centroid_lng or 0.0, village.centroid_lat or 0.0)
        count = rng.randint(2, 6)
        # split the six edges of the hexagon into `count` contiguous sectors
        sizes = [6 // count + (1 if i < 6 % count else 0) for i in range(count)]
        start = rng.randrange(6)
        for n, size in enumerate(sizes, start=1):
            sector = [ring[(start + j) % 6] for j in range(size + 1)]
            built.land_grids.append(Grid(
                region=village, region_code=village.code, kind=GridKind.LAND, number=f"{n:02d}",
                name=f"{village.name}第{n}网格", polygon=_polygon([centre, *sector]),
            ))
            start += size

    # sea grids off the fishing villages (rural villages of the fishing districts first)
    rural = [v for v in built.villages if v.urban_rural in (UrbanRural.VILLAGE, UrbanRural.URBAN_FRINGE)
             and v.code.startswith("3309")]
    fishing = [v for v in rural if v.code[:6] in FISHING_COUNTIES] or rural
    target = SEA_GRID_TARGET[ctx.size]
    for village in rng.sample(fishing, min(len(fishing), target)):
        if target <= 0:
            break
        for n in range(1, min(rng.randint(1, 2), target) + 1):
            lng, lat = (village.centroid_lng or 0.0) + 0.03 * n, village.centroid_lat or 0.0
            box = [(lng - 0.012, lat - 0.01), (lng + 0.012, lat - 0.01), (lng + 0.012, lat + 0.01),
                   (lng - 0.012, lat + 0.01)]
            built.sea_grids.append(Grid(
                region=village, region_code=village.code, kind=GridKind.SEA, number=f"H{n:02d}",
                name=f"{village.name}海上网格{n}", polygon=_polygon(box),
            ))
            target -= 1
    built.sea_grids.sort(key=lambda g: (g.region_code, g.number))
