"""``shanzhi mediation remind [--date YYYY-MM-DD]``: warn the grids that have not answered a screening campaign
past its due date.  Safe to run from cron as often as you like: each grid is warned at most once a day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Dispute mediation tasks: 'remind' warns the missing grids of every campaign past its due date."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        remind = sub.add_parser("remind", help="warn missing grids of campaigns past due (once per grid and day)")
        remind.add_argument("--date", default="", help="act as if today were this date (YYYY-MM-DD)")

    def handle(self, *args: Any, **options: Any) -> None:
        from shanzhi.events.mediation_services import remind_overdue

        today = None
        if options.get("date"):
            try:
                today = dt.date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError("--date takes YYYY-MM-DD") from None
        totals = remind_overdue(today=today)
        self.stdout.write(f"warned {totals['grids']} grid(s) of {totals['campaigns']} campaign(s): "
                          f"{totals['notifications']} notification(s)")
