"""Settings of the SIP gateway, each from Django settings or the environment (``SHANZHI_SIP_*``)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "SHANZHI_SIP_HOST": "127.0.0.1",
    "SHANZHI_SIP_PORT": 5060,
    # The platform's own 20-digit ID (type 200, signalling server) and its SIP domain / digest realm,
    # by convention the first 10 digits of the ID.
    "SHANZHI_SIP_ID": "33090200002000000001",
    "SHANZHI_SIP_DOMAIN": "",
    # Platform-wide password for devices that have none of their own (empty: such devices are refused).
    "SHANZHI_SIP_PASSWORD": "",
    # Media server URL for a channel; media itself is out of scope.
    "SHANZHI_SIP_PLAY_URL_TEMPLATE": "",
    "SHANZHI_SIP_NONCE_SECONDS": 300,
    "SHANZHI_SIP_EXPIRES_MAX": 86400,
    "SHANZHI_SIP_EXPIRES_DEFAULT": 3600,
    "SHANZHI_SIP_TRANSACTION_SECONDS": 32,
    "SHANZHI_SIP_CATALOG_WAIT_SECONDS": 30,
    "SHANZHI_SIP_SWEEP_SECONDS": 5,
}


def get(name: str) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    default = DEFAULTS[name]
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return type(default)(raw) if not isinstance(default, str) else raw


def platform_id() -> str:
    return str(get("SHANZHI_SIP_ID"))


def domain() -> str:
    """The SIP domain and digest realm: ``SHANZHI_SIP_DOMAIN`` or the first 10 digits of the platform ID."""
    return str(get("SHANZHI_SIP_DOMAIN") or platform_id()[:10])


def play_url(device_id: str, channel_id: str) -> str:
    """The media-server URL of a channel from ``SHANZHI_SIP_PLAY_URL_TEMPLATE`` ("" when not configured)."""
    template = str(get("SHANZHI_SIP_PLAY_URL_TEMPLATE"))
    if not template:
        return ""
    return template.format(device_id=device_id, channel_id=channel_id)
