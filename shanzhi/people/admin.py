"""Admin: read-only lists with masked personal data (changes go through the services and pages)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from shanzhi.core.masking import mask

from .models import FishingVessel, House, Household, Organisation, Resident


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Resident)
class ResidentAdmin(ReadOnly):
    list_display = ("id", "region_code", "masked_name", "masked_id", "active")
    fields = ("region_code", "sex", "birth_date", "residence_type", "tags", "active")

    @admin.display(description="name")
    def masked_name(self, obj: Resident) -> str:
        return mask("name", obj.name)

    @admin.display(description="ID")
    def masked_id(self, obj: Resident) -> str:
        return mask("id_number", obj.id_number)


@admin.register(Household)
class HouseholdAdmin(ReadOnly):
    list_display = ("id", "region_code", "number", "active")
    fields = ("region_code", "number", "active")


@admin.register(House)
class HouseAdmin(ReadOnly):
    list_display = ("id", "region_code", "house_number", "use", "active")
    fields = ("region_code", "house_number", "use", "area", "active")


@admin.register(Organisation)
class OrganisationAdmin(ReadOnly):
    list_display = ("id", "region_code", "name", "credit_code", "active")
    fields = ("region_code", "name", "credit_code", "kind", "active")


@admin.register(FishingVessel)
class FishingVesselAdmin(ReadOnly):
    list_display = ("id", "region_code", "ship_number", "mmsi", "status", "active")
    fields = ("region_code", "ship_number", "mmsi", "length_m", "power_kw", "home_port", "status", "active")
