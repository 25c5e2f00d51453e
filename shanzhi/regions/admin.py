from django.contrib import admin

from .models import Centre, DepartmentType, Grid, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name", "level", "parent", "urban_rural"]
    list_filter = ["level", "urban_rural"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]
    list_select_related = ["parent"]


@admin.register(Grid)
class GridAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "number", "kind", "region", "leader"]
    list_filter = ["kind"]
    search_fields = ["name", "number", "region_code"]
    raw_id_fields = ["region", "leader"]
    filter_horizontal = ["members"]
    list_select_related = ["region", "leader"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        obj.region_code = obj.region_id
        super().save_model(request, obj, form, change)


@admin.register(Centre)
class CentreAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "kind", "department_type", "region", "phone"]
    list_filter = ["kind", "department_type"]
    search_fields = ["name", "region_code"]
    raw_id_fields = ["region"]
    list_select_related = ["region", "department_type"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        obj.region_code = obj.region_id
        super().save_model(request, obj, form, change)


@admin.register(DepartmentType)
class DepartmentTypeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]
