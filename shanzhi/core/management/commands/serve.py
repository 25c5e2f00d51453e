"""``shanzhi serve``: the web server (granian, WSGI) and, next to it, the background worker.

Static files are collected into STATIC_ROOT first and served by WhiteNoise from inside the app, so no
separate web server is needed for a single-machine deployment (a reverse proxy for TLS is still advised).
Every process in ``processes()`` runs in this command's process group and stops with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


def processes(host: str, port: int, workers: int, *, worker: bool = True, simulate: bool = False) -> list[list[str]]:
    """The commands to run side by side: the web server, (unless disabled) one background worker and, for the
    demo, the simulated device fleet (direct calls: no MQTT broker needed; it also judges presence)."""
    commands = [
        [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host, "--port", str(port),
         "--workers", str(workers), "shanzhi.wsgi:application"],
    ]
    if worker:
        commands.append([sys.executable, "-m", "shanzhi.cli", "worker"])
    if simulate:
        commands.append([sys.executable, "-m", "shanzhi.cli", "devices", "simulate", "--direct"])
    return commands


class Command(BaseCommand):
    help = "Serve the web application with granian (WSGI) and run the background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="granian worker processes")
        parser.add_argument("--no-collectstatic", action="store_true", help="skip collectstatic")
        parser.add_argument("--no-worker", action="store_true",
                            help="do not start a background worker beside the web server")
        parser.add_argument("--simulate", action="store_true",
                            help="also run the simulated device fleet (the demo's living perception network)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_collectstatic"]:
            call_command("collectstatic", interactive=False, verbosity=0)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE",
                                                                      "shanzhi.settings"),
               "SHANZHI_DATA_DIR": str(settings.DATA_DIR)}
        children = [subprocess.Popen(cmd, env=env) for cmd in  # noqa: S603 - our own interpreter
                    processes(options["host"], options["port"], max(1, options["workers"]),
                              worker=not options["no_worker"], simulate=options.get("simulate", False))]
        stopping = False

        def stop(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        code = 0
        try:
            while not stopping:
                finished = [c for c in children if c.poll() is not None]
                if finished:  # one process died: stop the others too
                    code = finished[0].returncode or 1
                    break
                time.sleep(0.5)
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
        if code:
            sys.exit(code)
