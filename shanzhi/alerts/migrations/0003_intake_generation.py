"""Alerts: the intake generation counter (one row), which tells each process's memory of stored external alerts
whether anything but a heartbeat changed them since (ADR 0014)."""

from typing import Any

from django.db import migrations, models


def _first_row(apps: Any, schema_editor: Any) -> None:
    apps.get_model("alerts", "IntakeGeneration").objects.get_or_create(pk=1, defaults={"value": 0})


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_alert_ends_at_not_indexed"),
    ]

    operations = [
        migrations.CreateModel(
            name="IntakeGeneration",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "intake generation",
                "verbose_name_plural": "intake generations",
            },
        ),
        migrations.RunPython(_first_row, migrations.RunPython.noop),
    ]
