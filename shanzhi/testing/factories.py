"""Factories for tests (and benchmarks): regions, grids, centres, users with roles, API tokens.

They write through the models directly where a service would demand an actor; use services in tests that
test the services.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from shanzhi.accounts.models import ApiToken, RoleAssignment, User
from shanzhi.core.codes import level_of, parent_code
from shanzhi.regions.models import CENTRE_KIND_FOR_LEVEL, Centre, Grid, GridKind, Region

PASSWORD = "Test-password-2026!"
_counter = itertools.count(1)


@dataclass
class Tree:
    """Codes of the test tree.  Sibling pairs at each level: (A, B)."""

    province: str = "330000000000"
    city_a: str = "330900000000"  # 舟山市
    city_b: str = "330200000000"  # 宁波市
    county_a1: str = "330902000000"
    county_a2: str = "330903000000"
    county_b1: str = "330203000000"
    town_a1a: str = "330902008000"
    town_a1b: str = "330902100000"
    town_a2a: str = "330903001000"
    village_a1a1: str = "330902008201"
    village_a1a2: str = "330902008202"
    village_a1b1: str = "330902100201"
    village_a2a1: str = "330903001001"
    village_b1: str = "330203001201"
    grids: dict[str, Grid] = field(default_factory=dict)
    centres: dict[str, Centre] = field(default_factory=dict)

    def region(self, code: str) -> Region:
        return Region.objects.get(code=code)

    @property
    def siblings(self) -> dict[str, tuple[str, str]]:
        """For each level, two sibling regions: a user of the first must never see the second's rows."""
        return {
            "city": (self.city_a, self.city_b),
            "county": (self.county_a1, self.county_a2),
            "town": (self.town_a1a, self.town_a1b),
            "village": (self.village_a1a1, self.village_a1a2),
        }


NAMES = {
    "330000000000": "浙江省",
    "330900000000": "舟山市",
    "330200000000": "宁波市",
    "330902000000": "定海区",
    "330903000000": "普陀区",
    "330203000000": "海曙区",
    "330902008000": "马岙街道",
    "330902100000": "金塘镇",
    "330903001000": "沈家门街道",
    "330203001000": "测试街道",
    "330902008201": "测试一村",
    "330902008202": "测试二村",
    "330902100201": "测试三村",
    "330903001001": "测试社区",
    "330203001201": "测试四村",
}


def ensure_region(code: str, name: str | None = None) -> Region:
    region = Region.objects.filter(code=code).first()
    if region:
        return region
    parent_c = parent_code(code)
    parent = ensure_region(parent_c) if parent_c else None
    return Region.objects.create(
        code=code, level=level_of(code).value, name=name or NAMES.get(code, f"区划{code}"), parent=parent
    )


@transaction.atomic
def build_tree() -> Tree:
    tree = Tree()
    for code in NAMES:
        ensure_region(code)
    for code in [tree.city_a, tree.city_b, tree.county_a1, tree.county_a2, tree.county_b1,
                 tree.town_a1a, tree.town_a1b, tree.town_a2a,
                 tree.village_a1a1, tree.village_a1a2, tree.village_a1b1, tree.village_a2a1, tree.village_b1]:
        region = Region.objects.get(code=code)
        tree.centres[code] = Centre.objects.create(
            region=region, region_code=code, kind=CENTRE_KIND_FOR_LEVEL[region.level],
            name=f"{region.name}中心",
        )
    for code in [tree.village_a1a1, tree.village_a1a2, tree.village_a1b1, tree.village_a2a1, tree.village_b1]:
        region = Region.objects.get(code=code)
        tree.grids[code] = Grid.objects.create(
            region=region, region_code=code, kind=GridKind.LAND, number="01", name=f"{region.name}一网格",
        )
    return tree


def make_user(role: str, region_code: str, username: str | None = None, **extra: Any) -> User:
    ensure_region(region_code)
    user = User.objects.create_user(
        username=username or f"{role}-{region_code}-{next(_counter)}", password=PASSWORD, **extra
    )
    RoleAssignment.objects.create(user=user, role=role, region_id=region_code, region_code=region_code)
    return user


def make_token(user: User) -> str:
    prefix, secret = ApiToken.new_secret()
    ApiToken.objects.create(user=user, name="test", prefix=prefix, key_hash=ApiToken.hash_secret(secret))
    return secret


def ensure_reference_data() -> None:
    """Re-create what the data migrations seed (department types, event categories, the working calendar).

    A transactional test ends with a flush that empties every table, data-migration rows included; tests that
    come after it still expect the shipped reference data.
    """
    import importlib

    from shanzhi.events import worktime
    from shanzhi.events.models import CalendarYear, Category
    from shanzhi.events.seed import seed_categories
    from shanzhi.regions.models import DepartmentType

    if not DepartmentType.objects.exists():
        types = importlib.import_module("shanzhi.regions.migrations.0002_department_types").DEFAULT_TYPES
        DepartmentType.objects.bulk_create(
            [DepartmentType(code=code, name=name, name_en=name_en) for code, name, name_en in types])
    if not Category.objects.exists():
        seed_categories(Category, DepartmentType)
    if not CalendarYear.objects.exists():
        worktime.load_official_years()
