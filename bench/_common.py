"""Shared helpers of the benchmarks: machine facts, a scratch PostgreSQL database, Django set-up, percentiles.

Benchmarks are scripts (``uv run python bench/<name>.py``), not tests.  Each works in its own database
(``sz_bench_<name>`` on the server of ``BENCH_PG``, default ``postgres://postgres@127.0.0.1:5432``), which it
drops and recreates unless ``--keep`` is given.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def db_url(name: str) -> str:
    return f"{PG}/{name}"


def admin_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        conn.execute(sql)


def fresh_database(name: str) -> str:
    """Drop and create database ``name``; return its URL."""
    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_execute(f'CREATE DATABASE "{name}"')
    return db_url(name)


def database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def shanzhi(url: str, *args: str, quiet: bool = True) -> None:
    """Run a ``shanzhi`` command against the database ``url``."""
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0"}
    subprocess.run([sys.executable, "-m", "shanzhi.cli", *args], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL if quiet else None)


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shanzhi.settings")
    import django

    django.setup()


def machine() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    pg = ""
    try:
        import psycopg

        with psycopg.connect(db_url("postgres")) as conn:
            pg = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    except Exception as exc:
        pg = f"unavailable ({exc.__class__.__name__})"
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "postgresql": pg,
        "python": platform.python_version(),
        "load_avg": os.getloadavg(),
    }


def print_machine() -> None:
    facts = machine()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]
