"""``shanzhi demo``: set up the database, build the deterministic demo city and serve it.

Order of the build: regions, grids, centres and departments (``shanzhi.regions.demo_city``), the demo users
(``shanzhi.accounts.demo_users``), then the ``demo.build(ctx)`` hook of every other Shanzhi app in
INSTALLED_APPS order.  Everything runs in one transaction: a failed build leaves no half city.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import random
import sys
import time
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from shanzhi.core.demo import SIZES, DemoContext

T = TypeVar("T")
SEED = 20260101
# Built by the command itself, before the hooks of the other apps.
OWN_BUILDERS = {"shanzhi.core", "shanzhi.regions", "shanzhi.accounts"}
MARKER_USER = "city_admin"


def text_progress(stream: Any) -> Any:
    """A progress bar on ``stream`` (stderr): redrawn in place on a terminal, one final line otherwise."""

    def progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
        tty = bool(getattr(stream, "isatty", lambda: False)())
        done = 0
        step = max(1, (total or 0) // 50)
        for item in items:
            yield item
            done += 1
            if tty and total and (done % step == 0 or done == total):
                filled = int(30 * done / total)
                stream.write(f"\r  {label:<10} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
                stream.flush()
        if tty:
            stream.write("\n")
        else:
            stream.write(f"  {label:<10} {done}" + (f"/{total}" if total else "") + "\n")
        stream.flush()

    return progress


def _width(text: str) -> int:
    """Columns taken on a terminal: CJK characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def demo_present() -> bool:
    from shanzhi.accounts.models import User

    return User.objects.filter(username=MARKER_USER).exists()


def build(size: str, *, today: dt.date | None = None, progress: Any = None, log: Any = None) -> DemoContext:
    """Build the demo city of ``size`` into the (empty) database and return its context."""
    from shanzhi.accounts import demo_users
    from shanzhi.regions import demo_city

    if size not in SIZES:
        raise CommandError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    day = today or timezone.localdate()
    now = timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0)))
    ctx = DemoContext(size=size, rng=random.Random(f"{SEED}-{size}"), now=now,  # noqa: S311
                      progress=progress)
    if log is not None:
        ctx.log = log
    with transaction.atomic():
        ctx.log("regions, grids, centres …")
        built = demo_city.build(ctx)
        ctx.log("users …")
        demo_users.build(ctx, built)
        for config in apps.get_app_configs():
            if not config.name.startswith("shanzhi.") or config.name in OWN_BUILDERS:
                continue
            module_name = f"{config.name}.demo"
            if importlib.util.find_spec(module_name) is None:
                continue
            ctx.log(f"{config.label} …")
            importlib.import_module(module_name).build(ctx)
    return ctx


class Command(BaseCommand):
    help = "Set up the demo city (SQLite under the data directory by default) and serve it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", choices=SIZES, default="city")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="build only, do not start the server")
        parser.add_argument("--reset", action="store_true", help="throw the demo database away and rebuild it")
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None,
                            help="the demo's 'today' (YYYY-MM-DD); default: the real date")

    def handle(self, *args: Any, **options: Any) -> None:
        err = self.stderr
        started = time.monotonic()
        if options["reset"]:
            self._reset()
        err.write(f"Database: {connection.settings_dict['NAME']}")
        call_command("migrate", interactive=False, verbosity=0)
        if demo_present():
            err.write("The demo is already in this database; reusing it (use --reset to rebuild).")
            logins = self._logins()
        else:
            from shanzhi.regions.models import Region

            if Region.objects.exists():
                raise CommandError("The database holds regions but no demo: use an empty database or --reset.")
            err.write(f"Building the demo city (size {options['size']}) …")
            ctx = build(options["size"], today=options["today"], progress=text_progress(sys.stderr),
                        log=lambda msg: err.write(f"  {msg}"))
            logins = [(u, p, *d.partition(" · ")[::2]) for u, p, d in ctx.logins]
            err.write(f"Built in {time.monotonic() - started:.1f} s: {len(ctx.villages)} villages, "
                      f"{len(ctx.land_grids)} land grids, {len(ctx.sea_grids)} sea grids, {len(ctx.users)} users.")
        self._print_logins(logins, options)
        if not options["no_serve"]:
            call_command("serve", host=options["host"], port=options["port"], simulate=True)

    def _reset(self) -> None:
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.sqlite3":
            raise CommandError("--reset only throws away a SQLite demo database; drop other databases yourself.")
        connection.close()
        path = Path(str(db["NAME"]))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        self.stderr.write(f"Removed {path}.")

    def _logins(self) -> list[tuple[str, str, str, str]]:
        """The printed table for a demo that already exists: the headline users, read back."""
        from shanzhi.accounts.demo_users import DEMO_PASSWORD, HEADLINE_COUNTY, HEADLINE_TOWN
        from shanzhi.accounts.models import RoleAssignment
        from shanzhi.accounts.roles import ROLE_LABELS, Role

        rows = []
        seen = set()
        wanted = ("330900000000", HEADLINE_COUNTY, HEADLINE_TOWN)
        assignments = (RoleAssignment.objects.filter(region_code__startswith=HEADLINE_TOWN[:9])
                       | RoleAssignment.objects.filter(region_code__in=wanted)).select_related("user", "region")
        for a in assignments.order_by("user_id"):
            key = (a.role, a.region_code if a.region_code in wanted else "village")
            if key in seen:
                continue
            seen.add(key)
            rows.append((a.user.username, DEMO_PASSWORD, str(ROLE_LABELS[Role(a.role)]), a.region.name))
        return rows

    def _print_logins(self, rows: list[tuple[str, str, str, str]], options: dict[str, Any]) -> None:
        out = self.stdout
        url = f"http://{options['host']}:{options['port']}/"
        out.write("")
        out.write(f"Shanzhi demo: {url}")
        header = ("username", "password", "role", "region")
        widths = [max(_width(str(r[i])) for r in [header, *rows]) for i in range(4)]
        for row in [header, tuple("-" * w for w in widths), *rows]:
            out.write("  ".join(str(c) + " " * (w - _width(str(c))) for c, w in zip(row, widths, strict=True)))
        out.write("")
