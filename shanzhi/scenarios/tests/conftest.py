"""Fixtures of the scenario-pack tests: the packs synced, an administrator of city A who enabled them there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from shanzhi.alerts.contracts import DeviceAlarm, Reading
from shanzhi.alerts.engine import reset_engine
from shanzhi.scenarios import loader, services

VILLAGE = "330902008201"  # in town A1a, county A1, city A
OTHER_TOWN_VILLAGE = "330902100201"  # town A1b
CITY_B_VILLAGE = "330203001201"


@pytest.fixture(autouse=True)
def _fresh_engine() -> Iterator[None]:
    reset_engine()
    yield
    reset_engine()


@pytest.fixture
def synced(tree: Any) -> Any:
    result = services.sync_all(actor="system")
    assert not result.refused, result.refused
    return result


@pytest.fixture
def admin(tree: Any, make_user: Any) -> Any:
    return make_user("city_admin", tree.city_a)


@pytest.fixture
def enabled(synced: Any, admin: Any, tree: Any) -> Any:
    """Every pack enabled for city A by its administrator."""
    for code in loader.packs():
        services.pack_enable(actor=admin, pack_code=code, region_code=tree.city_a)
    reset_engine()
    return admin


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.t0 = start

    def at(self, seconds: float) -> dt.datetime:
        return self.t0 + dt.timedelta(seconds=seconds)

    def reading(self, device: str, metric: str, value: float, seconds: float = 0, region: str = VILLAGE,
                grid_id: int | None = None, **labels: str) -> Reading:
        return Reading(device_id=device, metric=metric, value=value, at=self.at(seconds), region_code=region,
                       grid_id=grid_id, labels=labels)

    def alarm(self, device: str, kind: str, seconds: float = 0, region: str = VILLAGE, severity: str = "warning",
              **labels: str) -> DeviceAlarm:
        return DeviceAlarm(device_id=device, kind=kind, at=self.at(seconds), region_code=region, severity=severity,
                           labels=labels)


@pytest.fixture
def clock() -> Clock:
    return Clock(timezone.now() - dt.timedelta(hours=2))
