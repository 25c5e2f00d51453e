"""``shanzhi ingest mqtt [--url URL] [--duration S]``: the MQTT device gateway."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Run a device gateway: 'mqtt' subscribes to shanzhi/v1/devices/+/+ and processes what devices send."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="protocol", required=True)
        mqtt = sub.add_parser("mqtt", help="MQTT gateway (broker from SHANZHI_MQTT_URL)")
        mqtt.add_argument("--url", default="", help="broker URL, e.g. mqtt://user:pass@127.0.0.1:1883")
        mqtt.add_argument("--client-id", default="", help="MQTT client id (persistent session)")
        mqtt.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run)")

    def handle(self, *args: Any, **options: Any) -> None:
        from shanzhi.devices.gateway import MqttGateway

        try:
            gateway = MqttGateway(url=options["url"] or None, client_id=options["client_id"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"MQTT gateway {gateway.name} -> {gateway.address.host}:{gateway.address.port}")
        try:
            gateway.run(duration=options["duration"] or None)
        except OSError as exc:
            raise CommandError(f"cannot reach the MQTT broker: {exc}") from None
        except KeyboardInterrupt:
            gateway.stop.set()
        self.stdout.write("stopped")
