"""``shanzhi people import FILE --kind K [--dry-run] [--as USER]`` and ``shanzhi people export FILE.xlsx --kind K
[--prefix P]`` (masked)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shanzhi.core import imports
from shanzhi.core.errors import ShanzhiError


class Command(BaseCommand):
    help = "Import or export real-name base data (residents, households, houses, organisations, vessels)."

    def add_arguments(self, parser: CommandParser) -> None:
        from shanzhi.people.importers import KINDS

        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a .xlsx or .csv file (all rows or none)")
        imp.add_argument("file")
        imp.add_argument("--kind", required=True, choices=sorted(KINDS))
        imp.add_argument("--dry-run", action="store_true", help="validate only; write nothing")
        imp.add_argument("--as", dest="username", default="",
                         help="act as this user (rows must lie in their people.import scope)")
        exp = sub.add_parser("export", help="export to .xlsx (personal data masked)")
        exp.add_argument("file")
        exp.add_argument("--kind", required=True, choices=sorted(KINDS))
        exp.add_argument("--prefix", default="", help="only rows under this region-code prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            self._import(options)
        else:
            self._export(options)

    def _import(self, options: dict[str, Any]) -> None:
        from shanzhi.accounts.models import User
        from shanzhi.people.importers import KINDS

        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        actor = None
        if options["username"]:
            actor = User.objects.filter(username=options["username"], is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {options['username']!r}")
        try:
            report = imports.run_import(
                imports.get_importer(KINDS[options["kind"]]), path.read_bytes(), filename=path.name, actor=actor,
                dry_run=options["dry_run"], progress=imports.text_progress(sys.stderr, options["kind"]),
            )
        except ShanzhiError as exc:
            raise CommandError(str(exc.message)) from None
        for issue in report.errors:
            self.stderr.write(f"row {issue.row}, {issue.column}: {issue.reason}")
        if not report.ok:
            raise CommandError(f"{len(report.errors)} error(s); nothing was imported")
        if report.dry_run:
            self.stdout.write(f"dry run: {report.valid} of {report.total} rows are valid; nothing was written")
        else:
            self.stdout.write(f"imported {report.total} rows: {report.counts}")

    def _export(self, options: dict[str, Any]) -> None:
        from shanzhi.people.importers import export_rows

        prefix = options["prefix"]
        if prefix and not prefix.isdigit():
            raise CommandError("--prefix takes digits of a division code")
        headers, rows = export_rows(options["kind"], None, prefix)
        count = imports.write_xlsx(options["file"], headers, rows, title=options["kind"])
        self.stdout.write(f"exported {count} {options['kind']} (masked) to {options['file']}")
