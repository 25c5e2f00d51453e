"""``shanzhi events generate --count N [--days D] [--seed S] [--database-url URL]``: bulk test volume.

Writes N events with their timelines and rollups through :mod:`shanzhi.events.generate` (COPY on PostgreSQL,
executemany on SQLite) into the database of ``--database-url`` (default: the configured one).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Event tools: 'generate' writes test volume (events, timelines, rollups)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        gen = sub.add_parser("generate", help="write N generated events with their timelines and rollups")
        gen.add_argument("--count", type=int, required=True)
        gen.add_argument("--days", type=int, default=180, help="spread over the last D days (default 180)")
        gen.add_argument("--seed", type=int, default=1)
        gen.add_argument("--region", default=None, help="only villages under this code prefix")
        gen.add_argument("--batch", type=int, default=20000)
        gen.add_argument("--open-share", type=float, default=None,
                         help="force this share of open events (0..1); default depends on age")
        gen.add_argument("--no-timeline", action="store_true", help="skip the timeline rows (volume benchmarks)")
        gen.add_argument("--database-url", default=None, help="write into this database instead")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["database_url"]:
            import dj_database_url
            from django.db import connections

            wanted = dj_database_url.parse(options["database_url"])
            current = connections["default"].settings_dict
            if wanted["ENGINE"] != current["ENGINE"]:
                raise CommandError("--database-url must use the configured engine; set DATABASE_URL instead")
            connections["default"].close()
            current.update({k: v for k, v in wanted.items() if k in ("NAME", "USER", "PASSWORD", "HOST", "PORT")})
        from shanzhi.events.generate import generate

        try:
            result = generate(count=options["count"], days=options["days"], seed=options["seed"],
                              region_prefix=options["region"], timeline=not options["no_timeline"],
                              batch=options["batch"], open_share=options["open_share"],
                              log=lambda msg: self.stderr.write(f"  {msg}"))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{result.events} events, {result.timeline} timeline rows, {result.rollup_rows} rollup "
                          f"upserts in {result.seconds:.1f} s ({result.rate:.0f} events/s); "
                          f"ids {result.first_id}..{result.last_id}")
        self.stdout.write("by status: " + ", ".join(f"{k}={v}" for k, v in sorted(result.by_status.items())))
