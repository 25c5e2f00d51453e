"""Periodic steps the background worker runs, contributed by apps in ``AppConfig.ready()``::

    periodic.register("alerts.tick", tick, every=5)

``shanzhi worker`` calls :func:`run_due` on every loop; a step runs when ``every`` seconds have passed since it
last ran in this process.  Steps must be safe to run in several workers at once (they lock rows or are
idempotent), like everything the worker does.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("shanzhi.worker")


@dataclass
class Step:
    name: str
    call: Callable[[dt.datetime], Any]
    every: float
    last: float = 0.0


_steps: dict[str, Step] = {}


def register(name: str, call: Callable[[dt.datetime], Any], *, every: float) -> None:
    _steps[name] = Step(name, call, every)


def steps() -> list[Step]:
    return list(_steps.values())


def run_due(now: dt.datetime, *, clock: Callable[[], float] = time.monotonic) -> int:
    """Run the steps that are due; returns how many ran.  A failing step is logged and retried next time."""
    ran = 0
    for step in _steps.values():
        if step.last and clock() - step.last < step.every:
            continue
        step.last = clock()
        try:
            step.call(now)
        except Exception:
            log.exception("periodic step %s failed", step.name)
        ran += 1
    return ran
