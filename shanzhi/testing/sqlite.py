"""Helpers for the SQLite append-only triggers of the audit log (tests only)."""

from __future__ import annotations

import importlib

from django.db import connection

_migration = importlib.import_module("shanzhi.core.migrations.0002_audit_append_only")


def ensure_audit_triggers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS core_auditentry_no_update")
        cursor.execute("DROP TRIGGER IF EXISTS core_auditentry_no_delete")
        for sql in _migration.SQLITE_UP:
            cursor.execute(sql)


def drop_audit_triggers() -> None:
    with connection.cursor() as cursor:
        for sql in _migration.SQLITE_DOWN:
            cursor.execute(sql)
