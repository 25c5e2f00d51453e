"""Django admin for accounts: password hashes and token hashes are never shown or editable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, RoleAssignment, User


class RoleAssignmentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = RoleAssignment
    fk_name = "user"
    extra = 0
    fields = ("role", "region", "region_code", "granted_by")
    readonly_fields = ("region_code", "granted_by")
    raw_id_fields = ("region",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "display_name", "is_active", "last_login", "locked_until")
    search_fields = ("username", "display_name")
    list_filter = ("is_active",)
    readonly_fields = ("last_login", "date_joined", "failed_logins", "locked_until", "password_changed_at")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Profile"), {"fields": ("display_name",)}),
        (_("Status"), {"fields": ("is_active", "is_staff", "is_superuser", "failed_logins", "locked_until",
                                  "password_changed_at", "last_login", "date_joined")}),
    )
    inlines = [RoleAssignmentInline]


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "role", "region_code", "granted_by", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "region_code")
    raw_id_fields = ("user", "region", "granted_by")
    readonly_fields = ("region_code",)

    def save_model(self, request: HttpRequest, obj: RoleAssignment, form: Any, change: bool) -> None:
        obj.region_code = obj.region.code
        super().save_model(request, obj, form, change)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    search_fields = ("name", "user__username", "prefix")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = ("user", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a token is created by `shanzhi user token` or on "My account", shown once
