"""Hand readings and device alarms to the early-warning engine (``shanzhi.alerts.engine.feed``).

The engine is imported lazily; where it does not exist (yet), values are logged and counted instead so that a
gateway runs on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from shanzhi.alerts.contracts import DeviceAlarm, Reading

from .counters import COUNTERS

log = logging.getLogger("shanzhi.devices.sink")

_engine: Callable[..., Any] | None = None
_looked_up = False


def _engine_feed() -> Callable[..., Any] | None:
    global _engine, _looked_up
    if not _looked_up:
        try:
            from shanzhi.alerts.engine import feed as engine_feed  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            log.info("shanzhi.alerts.engine is not available: device values are counted and logged only")
        else:
            _engine = engine_feed
        _looked_up = True
    return _engine


def feed(*, readings: Sequence[Reading] = (), alarms: Sequence[DeviceAlarm] = ()) -> None:
    if not readings and not alarms:
        return
    engine = _engine_feed()
    COUNTERS.add("sink_readings", len(readings))
    COUNTERS.add("sink_alarms", len(alarms))
    if engine is None:
        COUNTERS.add("sink_unhandled", len(readings) + len(alarms))
        if alarms:
            kinds: dict[str, int] = {}
            for alarm in alarms:
                kinds[alarm.kind] = kinds.get(alarm.kind, 0) + 1
            log.info("no alert engine: %d readings and device alarms %s counted only", len(readings), kinds)
        return
    engine(readings=list(readings), alarms=list(alarms))
