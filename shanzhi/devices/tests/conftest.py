from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from shanzhi.devices import presence, processing, sink
from shanzhi.devices.counters import COUNTERS


class Captured:
    def __init__(self) -> None:
        self.readings: list[Any] = []
        self.alarms: list[Any] = []

    def __call__(self, *, readings: list[Any], alarms: list[Any]) -> None:
        self.readings.extend(readings)
        self.alarms.extend(alarms)


@pytest.fixture(autouse=True)
def _english() -> Any:
    """Messages are asserted in English (the msgids); the catalogue is checked by the i18n test."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fresh_gateway_state() -> Any:
    """Each test starts with an empty presence store, device cache and counters."""
    store = presence.MemoryPresence()
    presence.set_store(store)
    processing.CACHE.clear()
    COUNTERS.reset()
    yield store
    presence.set_store(None)
    processing.CACHE.clear()


@pytest.fixture
def captured(monkeypatch: Any) -> Captured:
    """The alert engine as seen by the sink: records what devices hand over."""
    recorder = Captured()
    monkeypatch.setattr(sink, "_engine", recorder)
    monkeypatch.setattr(sink, "_looked_up", True)
    return recorder


@pytest.fixture
def mem(_fresh_gateway_state: presence.MemoryPresence) -> presence.MemoryPresence:
    return _fresh_gateway_state
