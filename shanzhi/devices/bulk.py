"""Bulk updates that stay linear: one prepared ``UPDATE … WHERE id = %s`` run with ``executemany``.

Django's ``bulk_update`` builds ``CASE WHEN id = … THEN …`` for every column, whose cost grows with the square
of the batch size (35,000 rows took minutes on SQLite); a reused prepared statement does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models

BATCH = 2000


def update_rows(model: type[models.Model], rows: Sequence[models.Model], names: Sequence[str]) -> int:
    fields: list[Any] = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(str(model._meta.pk.column))} = %s"  # noqa: S608
    params = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows]
    with connection.cursor() as cursor:
        for start in range(0, len(params), BATCH):
            cursor.executemany(sql, params[start:start + BATCH])
    return len(params)
