"""The interface between the device gateways and the early-warning centre.

Gateways (``shanzhi.devices``) turn what devices send into :class:`Reading` and :class:`DeviceAlarm` values and
hand them to the alert engine in batches; the engine (``shanzhi.alerts``) evaluates the rules and fires,
groups, silences and inhibits alerts.  Neither side imports the other's models through this module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reading:
    """One telemetry value (water level, smoke density, a wearable's activity …)."""

    device_id: str
    metric: str
    value: float
    at: dt.datetime
    region_code: str
    grid_id: int | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceAlarm:
    """An alarm a device raised itself (GB/T 28181 Alarm NOTIFY, an MQTT alarm message)."""

    device_id: str
    kind: str  # e.g. "motion", "intrusion", "smoke", "fall", "offline"
    at: dt.datetime
    region_code: str
    severity: str = "warning"  # info, warning, critical
    grid_id: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
