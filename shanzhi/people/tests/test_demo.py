from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from shanzhi.core.crypto import blind_index
from shanzhi.core.demo import DemoContext
from shanzhi.core.validators import validate_id_number, validate_mmsi, validate_phone, validate_vessel_number
from shanzhi.people import demo
from shanzhi.people.models import FishingVessel, Household, Organisation, Resident
from shanzhi.people.validators import validate_credit_code
from shanzhi.regions.models import Grid, Region

from .helpers import sea_grid

pytestmark = pytest.mark.django_db


def _ctx(tree: Any, seed: int = 7) -> DemoContext:
    villages = list(Region.objects.filter(code__in=[tree.village_a1a1, tree.village_a1a2]))
    return DemoContext(
        size="small", rng=random.Random(seed), now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), villages=villages,
        land_grids=list(Grid.objects.filter(kind="land", region_code__in=[v.code for v in villages])),
        sea_grids=[sea_grid(tree.village_a1a1)], log=lambda _msg: None,
    )


def test_demo_hook_builds_valid_fake_data(tree: Any) -> None:
    demo.build(_ctx(tree))
    residents = list(Resident.objects.all())
    assert len(residents) == 2 * demo.PER_VILLAGE["small"]
    for r in residents:
        assert validate_id_number(r.id_number) == r.id_number
        assert r.id_number[:6] == r.region_code[:6]
        assert r.id_number_bidx == blind_index("id_number", r.id_number)
        assert r.sex == ("M" if int(r.id_number[16]) % 2 else "F")
        assert r.notes == demo.FAKE_MARKER
        if r.phone:
            assert validate_phone(r.phone) == r.phone
        assert r.household_id is not None and r.grid_id is not None
    assert len({r.id_number for r in residents}) == len(residents)
    assert all(h.head_id for h in Household.objects.all())
    for o in Organisation.objects.all():
        assert validate_credit_code(o.credit_code) == o.credit_code
    vessels = list(FishingVessel.objects.prefetch_related("crew"))
    assert 5 <= len(vessels) <= 20
    for v in vessels:
        validate_vessel_number(v.ship_number)
        validate_mmsi(v.mmsi)
        assert v.mmsi.startswith("412")
        assert v.captain is not None and v.captain.region_code == v.region_code
        assert all(c.region_code == v.region_code for c in v.crew.all())


def test_demo_is_deterministic(tree: Any) -> None:
    demo.build(_ctx(tree, seed=3))
    first = sorted(Resident.objects.values_list("name", "birth_date"))
    Resident.objects.all().delete()
    FishingVessel.objects.all().delete()
    Organisation.objects.all().delete()
    Household.objects.all().delete()
    demo.build(_ctx(tree, seed=3))
    assert sorted(Resident.objects.values_list("name", "birth_date")) == first
