"""``shanzhi sip [--host H] [--port P] [--no-sweep] [--duration S]``: the GB/T 28181 signalling gateway."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = ("Run the GB/T 28181 signalling gateway (SIP over UDP): device registration with digest "
            "authentication, keepalives, catalogs and alarms.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="", help="address to listen on (default SHANZHI_SIP_HOST)")
        parser.add_argument("--port", type=int, default=None, help="UDP port (default SHANZHI_SIP_PORT)")
        parser.add_argument("--no-sweep", action="store_true",
                            help="do not judge presence here (another gateway of the deployment does)")
        parser.add_argument("--sweep-seconds", type=float, default=None,
                            help="presence judgement interval (default SHANZHI_SIP_SWEEP_SECONDS)")
        parser.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run)")

    def handle(self, *args: Any, **options: Any) -> None:
        from shanzhi.devices.sip import conf
        from shanzhi.devices.sip.server import SipGateway

        platform_id = conf.platform_id()
        if len(platform_id) != 20 or not platform_id.isdigit():
            raise CommandError(f"SHANZHI_SIP_ID must be a 20-digit GB/T 28181 code, got {platform_id!r}")
        gateway = SipGateway(host=options["host"] or None, port=options["port"], sweep=not options["no_sweep"],
                             sweep_seconds=options["sweep_seconds"])
        self.stdout.write(f"SIP gateway {gateway.name}: udp {gateway.host}:{gateway.port}, domain "
                          f"{gateway.domain}, platform {gateway.platform_id}")
        try:
            asyncio.run(gateway.run(duration=options["duration"] or None))
        except OSError as exc:
            raise CommandError(f"cannot listen on udp {gateway.host}:{gateway.port}: {exc}") from None
        except KeyboardInterrupt:
            gateway.stop.set()
        self.stdout.write("stopped")
