"""Shared set-up of the device benchmarks: a throw-away database (SQLite in /tmp unless DATABASE_URL is set)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup() -> None:
    if not os.environ.get("DATABASE_URL"):
        path = Path(tempfile.gettempdir()) / f"shanzhi-bench-devices-{os.getpid()}.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shanzhi.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def villages(count: int = 350) -> list[str]:
    """``count`` village codes in ten towns of one county, created with their parents."""
    from shanzhi.testing.factories import ensure_region

    codes = []
    for i in range(count):
        town, village = divmod(i, 35)
        code = f"330902{town + 1:03d}{village + 201:03d}"
        ensure_region(code)
        codes.append(code)
    return codes


def report(title: str, lines: list[str]) -> None:
    from django.db import connection

    print(f"\n## {title}\n")
    print(f"- database: {connection.vendor}")
    for line in lines:
        print(f"- {line}")
