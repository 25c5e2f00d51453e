"""Demo hook: fake but well-formed real-name data for every demo village and vessels for every sea grid.

All names are visibly fake (a family name and given-name characters from fixed lists), every row's notes say
演示数据, ID numbers carry a valid GB 11643 check digit and the county's code, phones have a valid shape.
Rows are bulk-inserted in batches (the demo is built by the system, not by a user, so no audit rows).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

from shanzhi.core.crypto import blind_index
from shanzhi.core.demo import DemoContext
from shanzhi.core.validators import id_check_digit

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
from .validators import CREDIT_ALPHABET, credit_check_char

FAKE_MARKER = "演示数据"
FAMILY_NAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN_CHARS = "演示甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"
PER_VILLAGE = {"small": 30, "city": 60, "province": 120}
VESSEL_PREFIXES = ("浙岱渔", "浙普渔", "浙嵊渔", "浙定渔")
BATCH = 500


def fake_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2))))
    return rng.choice(FAMILY_NAMES) + given


def fake_id_number(rng: random.Random, county_code: str, birth: dt.date, male: bool) -> str:
    order = rng.randrange(0, 100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    first17 = f"{county_code[:6]}{birth:%Y%m%d}{order:03d}"
    return first17 + id_check_digit(first17)


def fake_phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}"


def fake_credit_code(rng: random.Random, county_code: str) -> str:
    body = "91" + county_code[:6] + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
    return body + credit_check_char(body)


def _birth(rng: random.Random, today: dt.date) -> dt.date:
    age = rng.choices((rng.randint(0, 17), rng.randint(18, 59), rng.randint(60, 95)), weights=(2, 6, 3))[0]
    return today - dt.timedelta(days=age * 365 + rng.randint(0, 364))


def build(ctx: DemoContext) -> None:
    rng = ctx.rng
    today = ctx.now.date()
    per_village = PER_VILLAGE.get(ctx.size, 30)
    grids_of: dict[str, list[Any]] = defaultdict(list)
    for grid in ctx.land_grids:
        grids_of[grid.region_code].append(grid)
    used_ids: set[str] = set(Resident.objects.filter(active=True).values_list("id_number_bidx", flat=True))
    residents_of: dict[str, list[Resident]] = {}
    total = 0
    for village in ctx.track(ctx.villages, "people", len(ctx.villages)):
        code = village.code
        grids = grids_of.get(code, [])
        n_households = max(1, per_village // 3)
        households = [
            Household(region_code=code, number=f"{code[-6:]}-{i + 1:04d}",
                      address=f"{village.name}{rng.randint(1, 300)}号",
                      grid=rng.choice(grids) if grids else None)
            for i in range(n_households)
        ]
        Household.objects.bulk_create(households, batch_size=BATCH)
        houses = []
        for i, household in enumerate(households):
            houses.append(House(
                region_code=code, house_number=f"{i + 1}号", address=household.address,
                use=rng.choices(list(HouseUse.values), weights=(7, 2, 1, 1))[0],
                area=Decimal(rng.randint(40, 260)), owner_name=fake_name(rng), grid=household.grid,
                lat=(village.centroid_lat or 30.0) + rng.uniform(-0.01, 0.01),
                lng=(village.centroid_lng or 122.1) + rng.uniform(-0.01, 0.01),
            ))
        House.objects.bulk_create(houses, batch_size=BATCH)
        rows: list[Resident] = []
        for i in range(per_village):
            household = households[i % n_households]
            head = i < n_households
            male = rng.random() < 0.5
            birth = _birth(rng, today) if not head else today - dt.timedelta(days=rng.randint(25, 80) * 365)
            id_number = fake_id_number(rng, code, birth, male)
            while blind_index("id_number", id_number) in used_ids:
                id_number = fake_id_number(rng, code, birth, male)
            bidx = blind_index("id_number", id_number)
            used_ids.add(bidx)
            phone = fake_phone(rng) if rng.random() < 0.8 else ""
            age = (today - birth).days // 365
            tags: list[str] = []
            if age >= 70 and rng.random() < 0.3:
                tags.append(Tag.LIVING_ALONE if rng.random() < 0.5 else Tag.LEFT_BEHIND_ELDER)
            if rng.random() < 0.03:
                tags.append(Tag.DISABLED)
            if rng.random() < 0.01:
                tags.append(Tag.KEY_PERSON)
            rows.append(Resident(
                region_code=code, name=fake_name(rng), id_number=id_number, id_number_bidx=bidx,
                sex="M" if male else "F", birth_date=birth, phone=phone, phone_bidx=blind_index("phone", phone),
                address=household.address, household=household,
                relation=Relation.HEAD if head else rng.choice((Relation.SPOUSE, Relation.CHILD, Relation.PARENT)),
                residence_type=rng.choices(list(ResidenceType.values), weights=(8, 3, 1, 0.2))[0],
                tags=sorted(tags), house=houses[i % n_households], grid=household.grid,
                is_party_member=rng.random() < 0.08, notes=FAKE_MARKER,
            ))
        Resident.objects.bulk_create(rows, batch_size=BATCH)
        for household, head_row in zip(households, rows[:n_households], strict=False):
            household.head = head_row
        Household.objects.bulk_update(households, ["head"], batch_size=BATCH)
        orgs = [
            Organisation(
                region_code=code, name=f"{village.name}演示{kind.label}{j + 1}",
                credit_code=fake_credit_code(rng, code), kind=kind, legal_representative=fake_name(rng),
                phone=(p := fake_phone(rng)), phone_bidx=blind_index("phone", p),
                address=f"{village.name}{rng.randint(1, 300)}号", grid=rng.choice(grids) if grids else None,
            )
            for j, kind in enumerate(rng.sample(list(OrganisationKind), 3))
        ]
        Organisation.objects.bulk_create(orgs, batch_size=BATCH)
        residents_of[code] = [r for r in rows if r.birth_date and 18 <= (today - r.birth_date).days // 365 <= 60]
        total += len(rows)
    _vessels(ctx, residents_of)
    ctx.log(f"people: {total} residents in {len(ctx.villages)} villages")


def _vessels(ctx: DemoContext, residents_of: dict[str, list[Resident]]) -> None:
    rng = ctx.rng
    used = set(FishingVessel.objects.filter(active=True).values_list("ship_number", flat=True))
    crew_links: list[Any] = []
    for grid in ctx.sea_grids:
        pool = residents_of.get(grid.region_code) or []
        vessels = []
        crews: list[list[Resident]] = []
        for _ in range(rng.randint(5, 20)):
            number = f"{rng.choice(VESSEL_PREFIXES)}{rng.randrange(0, 100000):05d}"
            while number in used:
                number = f"{rng.choice(VESSEL_PREFIXES)}{rng.randrange(0, 100000):05d}"
            used.add(number)
            crew = rng.sample(pool, min(len(pool), rng.randint(2, 6))) if pool else []
            vessels.append(FishingVessel(
                region_code=grid.region_code, ship_number=number, mmsi=f"412{rng.randrange(0, 10**6):06d}",
                length_m=Decimal(rng.randint(80, 450)) / 10, power_kw=Decimal(rng.randint(40, 600)),
                home_port=rng.choice(("沈家门渔港", "岱山高亭渔港", "嵊泗渔港", "定海渔港")),
                captain=crew[0] if crew else None, sea_grid=grid,
                status=rng.choices(list(VesselStatus.values), weights=(5, 4, 1, 0.2))[0],
            ))
            crews.append(crew[1:])
        FishingVessel.objects.bulk_create(vessels, batch_size=BATCH)
        for vessel, crew in zip(vessels, crews, strict=True):
            crew_links.extend(FishingVessel.crew.through(fishingvessel_id=vessel.pk, resident_id=r.pk) for r in crew)
    FishingVessel.crew.through.objects.bulk_create(crew_links, batch_size=BATCH)
