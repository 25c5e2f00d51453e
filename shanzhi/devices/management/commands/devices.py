"""``shanzhi devices import FILE | prune | flush | simulate [--rate N]``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shanzhi.core import imports
from shanzhi.core.errors import ShanzhiError


class Command(BaseCommand):
    help = "Perception network: import devices, prune old records, judge presence, simulate a device fleet."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import devices from .xlsx or .csv (all rows or none)")
        imp.add_argument("file")
        imp.add_argument("--dry-run", action="store_true")
        imp.add_argument("--as", dest="username", default="", help="act as this user (their devices.change scope)")
        sub.add_parser("prune", help="delete checkpoint passes and message ids older than their retention")
        sub.add_parser("flush", help="judge presence once from last-seen times in the database")
        sim = sub.add_parser("simulate", help="keep the demo device fleet sending heartbeats and telemetry")
        sim.add_argument("--rate", type=float, default=0, help="messages per second (0: each device every 30 s)")
        sim.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run)")
        sim.add_argument("--direct", action="store_true",
                         help="call the processing function directly instead of publishing over MQTT")
        sim.add_argument("--no-gb", action="store_true",
                         help="leave GB/T 28181 devices to a running SIP gateway")
        sim.add_argument("--seed", type=int, default=28181)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, "_" + options["action"])(options)

    def _import(self, options: dict[str, Any]) -> None:
        from shanzhi.accounts.models import User

        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        actor = None
        if options["username"]:
            actor = User.objects.filter(username=options["username"], is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {options['username']!r}")
        try:
            report = imports.run_import(imports.get_importer("devices.devices"), path.read_bytes(),
                                        filename=path.name, actor=actor, dry_run=options["dry_run"],
                                        progress=imports.text_progress(sys.stderr, "devices"))
        except ShanzhiError as exc:
            raise CommandError(str(exc.message)) from None
        for issue in report.errors[:200]:
            self.stderr.write(f"row {issue.row}, {issue.column}: {issue.reason}")
        if not report.ok:
            raise CommandError(f"{len(report.errors)} error(s); nothing was imported")
        self.stdout.write(f"{'checked' if report.dry_run else 'imported'} {report.total} rows: {report.counts}")

    def _prune(self, options: dict[str, Any]) -> None:
        from shanzhi.devices.services import prune

        self.stdout.write(f"deleted: {prune()}")

    def _flush(self, options: dict[str, Any]) -> None:
        from shanzhi.devices import presence
        from shanzhi.devices.models import Transport

        result = presence.flush(transports=Transport.values, snapshot=True)
        self.stdout.write(f"checked {result.checked}: {len(result.online)} came online, "
                          f"{len(result.offline)} went offline")

    def _simulate(self, options: dict[str, Any]) -> None:
        from shanzhi.devices.simulator import Simulator

        sim = Simulator(rate=options["rate"], direct=options["direct"], include_gb=not options["no_gb"],
                        seed=options["seed"], log=self.stdout.write)
        try:
            sim.run(duration=options["duration"] or None)
        except OSError as exc:
            raise CommandError(f"cannot reach the MQTT broker (use --direct): {exc}") from None
        except KeyboardInterrupt:
            pass
        self.stdout.write(f"sent {sim.sent} messages")
