"""Builders for people tests and the authorization specs."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from typing import Any

from shanzhi.core.crypto import blind_index
from shanzhi.people.demo import fake_id_number
from shanzhi.people.models import FishingVessel, House, Household, Organisation, Resident
from shanzhi.regions.models import Grid, GridKind, Region
from shanzhi.testing.factories import ensure_region

_rng = random.Random(20261130)
_seq = itertools.count(1)


def new_id_number(region_code: str) -> str:
    while True:
        number = fake_id_number(_rng, region_code, dt.date(1960, 1, 1) + dt.timedelta(days=_rng.randint(0, 20000)),
                                _rng.random() < 0.5)
        if not Resident.objects.filter(id_number_bidx=blind_index("id_number", number)).exists():
            return number


def village_in(code: str) -> str:
    """A village code inside ``code`` (the code itself when it is a village), created if missing."""
    if code[9:] != "000":
        ensure_region(code)
        return code
    if code[6:] == "000000":
        code = code[:6] + "001000"
    if code[4:] == "00000000":
        code = code[:4] + "01001000"
    village = code[:9] + "201"
    ensure_region(village)
    return village


def make_resident(region_code: str, **extra: Any) -> Resident:
    code = village_in(region_code)
    id_number = extra.pop("id_number", None) or new_id_number(code)
    phone = extra.pop("phone", "")
    n = next(_seq)
    return Resident.objects.create(
        region_code=code, name=extra.pop("name", f"测试{n}"), id_number=id_number,
        id_number_bidx=blind_index("id_number", id_number), phone=phone, phone_bidx=blind_index("phone", phone),
        **extra,
    )


def make_household(region_code: str) -> Household:
    return Household.objects.create(region_code=village_in(region_code), number=f"HH-{next(_seq):05d}")


def make_house(region_code: str) -> House:
    return House.objects.create(region_code=village_in(region_code), house_number=f"H-{next(_seq):05d}")


def make_organisation(region_code: str) -> Organisation:
    return Organisation.objects.create(region_code=village_in(region_code), name=f"ORG-{next(_seq):05d}")


def sea_grid(region_code: str) -> Grid:
    code = village_in(region_code)
    region = Region.objects.get(code=code)
    grid, _ = Grid.objects.get_or_create(region=region, number="S1",
                                         defaults={"region_code": code, "kind": GridKind.SEA,
                                                   "name": f"{region.name}海上网格"})
    return grid


def make_vessel(region_code: str) -> FishingVessel:
    grid = sea_grid(region_code)
    return FishingVessel.objects.create(region_code=grid.region_code, sea_grid=grid,
                                        ship_number=f"浙岱渔{next(_seq):05d}", mmsi="412123456")
