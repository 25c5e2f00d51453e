from django.contrib import admin

from .models import Alert, AlertRule, InhibitRule, NotificationGroup, Silence, WeatherSignal


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "kind", "severity", "enabled", "pack", "region_prefix"]
    list_filter = ["kind", "enabled", "pack"]
    search_fields = ["name", "title"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["fingerprint", "status", "severity", "region_code", "starts_at", "ends_at"]
    list_filter = ["status", "severity", "source"]
    search_fields = ["fingerprint", "subject"]
    raw_id_fields = ["event", "acknowledged_by", "rule"]


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["uuid", "region_code", "starts_at", "ends_at", "created_by", "comment"]


@admin.register(InhibitRule)
class InhibitRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "enabled"]


@admin.register(WeatherSignal)
class WeatherSignalAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["kind", "level", "region_code", "issued_at", "lifted_at"]


admin.site.register(NotificationGroup)
