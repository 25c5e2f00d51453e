"""Builders for portal tests and the authorization specs."""

from __future__ import annotations

import itertools
from typing import Any

from django.utils import timezone

from shanzhi.accounts.models import User
from shanzhi.events.models import Event, Status
from shanzhi.events.services import Intake, event_create
from shanzhi.people.models import Resident
from shanzhi.people.tests.helpers import make_resident
from shanzhi.portal import services
from shanzhi.portal.models import CorrectionRequest, Notice

_seq = itertools.count(1)


def resident_user(region_code: str, **extra: Any) -> tuple[Resident, User]:
    """A resident of the base data with a linked portal account (role resident at the village)."""
    n = next(_seq)
    extra.setdefault("phone", f"139{n:08d}")
    extra.setdefault("name", f"居民{region_code[-4:]}{n}")
    resident = make_resident(region_code, **extra)
    return resident, services.account_for(resident=resident)


def report(user: User, title: str | None = None) -> Event:
    village = services.home_village(user)
    event, _ = event_create(actor=user, data=Intake(title=title or f"报告-{next(_seq)}", category="exposed_garbage",
                                                    region_code=village, source="resident"))
    return event


def close(event: Event) -> Event:
    Event.objects.filter(pk=event.pk).update(status=Status.CLOSED, closed_level=event.level,
                                             closed_at=timezone.now())
    event.refresh_from_db()
    return event


def correction(resident: Resident, user: User, reason: str | None = None) -> CorrectionRequest:
    return CorrectionRequest.objects.create(
        resident=resident, requested_by=user, field="address", current=resident.address,
        requested=f"更正路{next(_seq)}号", reason=reason or f"理由-{resident.region_code}-{next(_seq)}",
        region_code=resident.region_code)


def notice(region_code: str, title: str | None = None) -> Notice:
    return Notice.objects.create(title=title or f"通知-{region_code}-{next(_seq)}", body="正文",
                                 published_at=timezone.now(), region_code=region_code)
