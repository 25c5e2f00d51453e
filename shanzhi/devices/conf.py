"""Settings of the perception network, each overridable in Django settings or by an environment variable."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "SHANZHI_MQTT_URL": "mqtt://127.0.0.1:1883",
    "SHANZHI_MQTT_CLIENT_ID": "",
    "SHANZHI_MQTT_CA_FILE": "",
    "SHANZHI_INGEST_MAX_AGE_SECONDS": 3600,
    "SHANZHI_INGEST_MAX_FUTURE_SECONDS": 300,
    "SHANZHI_INGEST_BATCH_MAX": 1000,
    "SHANZHI_MESSAGE_SEEN_RETENTION_HOURS": 48,
    "SHANZHI_CHECKPOINT_RETENTION_DAYS": 180,
    "SHANZHI_PRESENCE_FLUSH_SECONDS": 5,
    "SHANZHI_PRESENCE_SNAPSHOT_SECONDS": 60,
    "SHANZHI_FLAP_WINDOW_SECONDS": 3600,
    "SHANZHI_FLAP_THRESHOLD": 6,
    "REDIS_URL": "",
}

# Keepalive interval per device kind (seconds); a device is offline after min(expires, interval x 3).
KEEPALIVE_DEFAULTS: dict[str, int] = {
    "camera": 60, "ipc": 60, "nvr": 60, "dvr": 60, "checkpoint": 60, "alarm_input": 60,
    "iot_sensor": 300, "vessel_transponder": 180,
}


def get(name: str) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    default = DEFAULTS[name]
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return type(default)(raw) if not isinstance(default, str) else raw


def keepalive_for(kind: str) -> int:
    table = {**KEEPALIVE_DEFAULTS, **getattr(settings, "SHANZHI_DEVICE_KEEPALIVE", {})}
    return int(table.get(kind, 60))


def offline_after(kind: str, keepalive_seconds: int | None, expires_seconds: int | None) -> int:
    """Seconds without a sign of life after which a device counts as offline."""
    limit = 3 * (keepalive_seconds or keepalive_for(kind))
    if expires_seconds:
        limit = min(limit, expires_seconds)
    return limit
