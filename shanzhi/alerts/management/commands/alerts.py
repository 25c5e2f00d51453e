"""``shanzhi alerts tick [--loop]``: notification grouping, escalation and the periodic rules of the early-warning
centre (see :mod:`shanzhi.alerts.tasks`)."""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from shanzhi.alerts.tasks import tick


class Command(BaseCommand):
    help = "Early-warning centre: 'tick' runs notification grouping, escalation sweeps and periodic rules."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("tick", help="run one tick (or keep ticking with --loop)")
        run.add_argument("--loop", action="store_true", help="tick every --interval seconds until stopped")
        run.add_argument("--interval", type=float, default=5.0)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "tick":
            raise CommandError("unknown action")
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        if options["loop"]:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        while True:
            result = tick()
            self.stdout.write(f"alerts tick: {result.changed} status changes, {result.transitions} rule "
                              f"transitions, {result.notifications} notifications, {result.escalated} escalated")
            if not options["loop"] or stopping:
                break
            time.sleep(options["interval"])
            close_old_connections()
