"""Seed the category dictionary and the official working calendar (2004-2026 from chinesecalendar)."""

from django.db import migrations


def seed(apps, schema_editor):
    from shanzhi.events.seed import seed_categories

    Category = apps.get_model("events", "Category")
    DepartmentType = apps.get_model("regions", "DepartmentType")
    seed_categories(Category, DepartmentType)
    CalendarDay = apps.get_model("events", "CalendarDay")
    CalendarYear = apps.get_model("events", "CalendarYear")
    import chinese_calendar

    rows = {}
    for day, name in chinese_calendar.holidays.items():
        rows[day] = CalendarDay(date=day, is_workday=False, name=str(name))
    for day, name in chinese_calendar.workdays.items():
        if day.weekday() >= 5:
            rows[day] = CalendarDay(date=day, is_workday=True, name=f"{name} (调休)")
    CalendarDay.objects.bulk_create(list(rows.values()), ignore_conflicts=True)
    for year in sorted({d.year for d in rows}):
        CalendarYear.objects.get_or_create(year=year, defaults={"source": "chinesecalendar"})


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial"), ("regions", "0002_department_types")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
