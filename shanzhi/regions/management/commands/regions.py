"""``shanzhi regions import FILE [--kind regions|grids] [--dry-run] [--as USER]`` and ``shanzhi regions export``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shanzhi.core.errors import ShanzhiError
from shanzhi.core.imports import get_importer, run_import, text_progress, write_xlsx


class Command(BaseCommand):
    help = "Import regions or grids from CSV/XLSX, or export regions to XLSX."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a .csv or .xlsx file")
        imp.add_argument("file")
        imp.add_argument("--kind", choices=["regions", "grids"], default="regions")
        imp.add_argument("--dry-run", action="store_true", help="check every row, import nothing")
        imp.add_argument("--as", dest="username", default="",
                         help="act as this user (scope-checked); default: the system, unrestricted")
        exp = sub.add_parser("export", help="export regions to .xlsx")
        exp.add_argument("file")
        exp.add_argument("--prefix", default="", help="only regions under this code prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            self._import(options)
        else:
            self._export(options)

    def _import(self, options: dict[str, Any]) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        actor = None
        if options["username"]:
            from shanzhi.accounts.models import User

            actor = User.objects.filter(username=options["username"], is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {options['username']!r}")
        importer = get_importer(f"regions.{options['kind']}")
        try:
            report = run_import(importer, path.read_bytes(), filename=path.name, actor=actor,
                                dry_run=options["dry_run"], progress=text_progress(sys.stderr, "rows"))
        except ShanzhiError as exc:
            raise CommandError(str(exc.message)) from None
        for error in report.errors:
            self.stderr.write(f"row {error.row}, column {error.column or '-'}: {error.reason}")
        if report.errors:
            self.stderr.write(f"{len(report.errors)} bad row(s) in {report.total}: nothing imported")
            sys.exit(1)
        if report.dry_run:
            self.stdout.write(f"{report.total} rows valid; nothing imported (dry run)")
        else:
            counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
            self.stdout.write(f"{report.total} rows imported: {counts}")

    def _export(self, options: dict[str, Any]) -> None:
        from shanzhi.regions.importers import export_rows

        if not options["file"].lower().endswith(".xlsx"):
            raise CommandError("the export file must end in .xlsx")
        headers, rows = export_rows(None, options["prefix"])
        count = write_xlsx(options["file"], headers, rows, title="regions")
        self.stdout.write(f"{count} regions written to {options['file']}")
