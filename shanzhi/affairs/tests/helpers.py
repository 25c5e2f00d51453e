"""Builders for village-affairs tests and the authorization specs."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from shanzhi.affairs import services
from shanzhi.affairs.models import Decision
from shanzhi.people.models import Resident
from shanzhi.people.tests.helpers import make_household, make_resident, village_in
from shanzhi.testing import factories

_seq = itertools.count(1)


def people(code: str, *, party: int = 6, reps: int = 5, others: int = 4, households: int = 3) -> list[Resident]:
    """Residents of a village: party members, representatives (also adults) and other adults."""
    code = village_in(code)
    adults = dt.date(1970, 5, 1)
    made = [make_resident(code, birth_date=adults, is_party_member=True) for _ in range(party)]
    for _ in range(reps):
        r = make_resident(code, birth_date=adults)
        services.representative_add(actor="system", region_code=code, resident_id=r.pk, since=dt.date(2024, 1, 1))
        made.append(r)
    made += [make_resident(code, birth_date=adults) for _ in range(others)]
    for _ in range(households):
        make_household(code)
    # the joint meeting counts the committee (two members) and the supervisory committee (one)
    for r in made[:2]:
        services.committee_member_add(actor="system", region_code=code, resident_id=r.pk, post="委员",
                                      elected_on=dt.date(2024, 1, 1))
    services.supervisory_member_add(actor="system", region_code=code, resident_id=made[-1].pk,
                                    elected_on=dt.date(2024, 1, 1))
    return made


def decision(code: str, *, matter_type: str = "project", amount: str = "120000", title: str = "") -> Decision:
    return services.decision_create(actor="system", region_code=village_in(code),
                                    title=title or f"村集体项目 {next(_seq)}", matter_type=matter_type,
                                    amount=amount)


def voucher(name: str = "receipt.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 voucher " + str(next(_seq)).encode(), content_type="application/pdf")


def users(code: str) -> dict[str, Any]:
    code = village_in(code)
    return {"cadre": factories.make_user("village_cadre", code), "supervisor": factories.make_user("supervisor", code),
            "admin": factories.make_user("village_admin", code)}
