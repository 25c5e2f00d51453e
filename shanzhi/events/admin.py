from django.contrib import admin

from .models import CalendarDay, CalendarYear, Category


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "parent", "min_level", "department_type", "auto_escalate", "active")
    list_filter = ("min_level", "active", "is_dispute")
    search_fields = ("code", "name", "name_en")


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("date", "is_workday", "name")
    list_filter = ("is_workday",)


admin.site.register(CalendarYear)
