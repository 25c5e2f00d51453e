"""Alerts: drop the index on ``ends_at`` and leave two thirds of each page free, so that refreshing an alert (Prometheus
re-sends move ``ends_at`` every evaluation) is a HOT update in PostgreSQL: no index entries written, old row
versions pruned in place even between vacuums."""

from typing import Any

from django.db import migrations, models


def _fillfactor(value: int) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE alerts_alert SET (fillfactor = {value})")

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="ends_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="ends at"),
        ),
        migrations.RunPython(_fillfactor(35), _fillfactor(100)),
    ]
