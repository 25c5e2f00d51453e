"""Admin: read-only lists (changes go through the services, pages and gateways); plates masked, no secrets."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Channel, ChannelShare, CheckpointPass, Device, DeviceStatusChange, Gateway


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Device)
class DeviceAdmin(ReadOnly):
    list_display = ("device_id", "name", "kind", "layer", "region_code", "status", "last_seen_at", "flapping")
    list_filter = ("layer", "kind", "status", "transport")
    search_fields = ("device_id", "name")
    fields = ("device_id", "name", "kind", "layer", "transport", "region_code", "grid", "lat", "lng", "owner",
              "status", "last_seen_at", "status_changed_at", "flap_count", "flapping", "keepalive_seconds",
              "expires_seconds", "attributes", "parent")


@admin.register(Channel)
class ChannelAdmin(ReadOnly):
    list_display = ("channel_id", "name", "device", "region_code", "status")
    search_fields = ("channel_id", "name")


@admin.register(ChannelShare)
class ChannelShareAdmin(ReadOnly):
    list_display = ("channel", "region_code", "created_by", "created_at")


@admin.register(DeviceStatusChange)
class StatusChangeAdmin(ReadOnly):
    list_display = ("device", "from_status", "to_status", "at", "reason")


@admin.register(CheckpointPass)
class CheckpointPassAdmin(ReadOnly):
    list_display = ("device", "plate_masked", "passed_at", "direction", "lane")
    fields = ("device", "region_code", "passed_at", "direction", "lane", "message_id")


@admin.register(Gateway)
class GatewayAdmin(ReadOnly):
    list_display = ("name", "kind", "host", "pid", "reported_at")
