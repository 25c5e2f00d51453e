"""``shanzhi events generate --count N [--days D] [--seed S] [--bulk] [--database-url URL]``: test volume.

Writes N events with their timelines and rollups through :mod:`shanzhi.events.generate` (COPY on PostgreSQL,
executemany on SQLite) into the database of ``--database-url`` (default: the configured one).  ``--bulk``
(PostgreSQL only) generates them set-based on the server instead (:mod:`shanzhi.events.generate_bulk`): tens of
thousands of events per second, no timeline rows.
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
        gen.add_argument("--bulk", action="store_true",
                         help="PostgreSQL only: generate the events set-based on the server (INSERT … SELECT over "
                              "generate_series, rollups by GROUP BY), in chunks of --chunk; much faster, but writes "
                              "NO timeline rows (--no-timeline is implied)")
        gen.add_argument("--chunk", type=int, default=1_000_000,
                         help="with --bulk: events per statement and transaction (default 1000000)")
        gen.add_argument("--rebuild-indexes", action="store_true",
                         help="with --bulk: drop the secondary indexes of the event table before the load and "
                              "recreate them after it (for loads large relative to the table); their definitions "
                              "are printed first: if the run is killed, recreate them from there")

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
        from shanzhi.events.generate_bulk import generate_bulk

        if options["count"] < 1:
            raise CommandError("--count must be at least 1")
        if options["rebuild_indexes"] and not options["bulk"]:
            raise CommandError("--rebuild-indexes needs --bulk")
        log = lambda msg: self.stderr.write(f"  {msg}")  # noqa: E731
        try:
            if options["bulk"]:
                result = generate_bulk(count=options["count"], days=options["days"], seed=options["seed"],
                                       region_prefix=options["region"], chunk=options["chunk"],
                                       open_share=options["open_share"],
                                       rebuild_indexes=options["rebuild_indexes"], log=log)
            else:
                result = generate(count=options["count"], days=options["days"], seed=options["seed"],
                                  region_prefix=options["region"], timeline=not options["no_timeline"],
                                  batch=options["batch"], open_share=options["open_share"], log=log)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{result.events} events, {result.timeline} timeline rows, {result.rollup_rows} rollup "
                          f"upserts in {result.seconds:.1f} s ({result.rate:.0f} events/s); "
                          f"ids {result.first_id}..{result.last_id}")
        self.stdout.write("by status: " + ", ".join(f"{k}={v}" for k, v in sorted(result.by_status.items())))
