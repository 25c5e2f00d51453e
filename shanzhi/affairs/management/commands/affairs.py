"""``shanzhi affairs check-disclosures [--prefix P]``: warn the town about every overdue 三务公开 disclosure.

Idempotent: an overdue item is warned once (one DisclosureWarning, one notification per town dispatcher and
admin); run it daily (cron or the worker).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from shanzhi.core.codes import Level


class Command(BaseCommand):
    help = "Village affairs: check-disclosures (warn about overdue disclosures)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check-disclosures", help="warn the town about overdue disclosures (idempotent)")
        check.add_argument("--prefix", default="", help="only villages under this region-code prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        from shanzhi.affairs.calendar import check_disclosures
        from shanzhi.regions.models import Region

        villages = Region.objects.filter(level=Level.VILLAGE.value, code__startswith=options["prefix"])
        codes = list(villages.values_list("code", flat=True))
        total = 0
        for start in range(0, len(codes), 500):
            total += check_disclosures(codes[start:start + 500])
        self.stdout.write(f"{len(codes)} villages checked, {total} new overdue warnings")
