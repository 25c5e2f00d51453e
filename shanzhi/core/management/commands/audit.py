"""``shanzhi audit verify``: walk the hash chain and report the first broken or missing row."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shanzhi.core import audit


class Command(BaseCommand):
    help = "Check the audit log: every row present, in order, and unaltered."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="verify the hash chain of the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            result = audit.verify()
            if not result.ok:
                raise CommandError(
                    f"BROKEN at row {result.first_bad_seq}: {result.reason} "
                    f"({result.checked} row(s) before it verified)",
                    returncode=1,
                )
            self.stdout.write(f"OK: {result.checked} rows verified")
