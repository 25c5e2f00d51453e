"""``shanzhi worker``: the background loop — deadline sweep (warnings, overdue, auto-escalation), queued tasks
of Django's Tasks API (database backend) and periodic outbound delivery; the apps' periodic steps
(:mod:`shanzhi.core.periodic`) run on a thread of their own so that none of them can delay a due deadline.  Run
as many workers as you like: they coordinate through row locks (SKIP LOCKED on PostgreSQL), never through process
memory."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django.utils import timezone

from shanzhi.core import periodic
from shanzhi.events.deadlines import sweep
from shanzhi.events.outbound import deliver_due


def _run_queued_tasks(limit: int) -> int:
    """Run up to ``limit`` ready tasks of the database task backend (none when another backend is set)."""
    from django.conf import settings

    if settings.TASKS["default"]["BACKEND"] != "django_tasks_db.DatabaseBackend":
        return 0
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=limit, worker_id=f"shanzhi-{os.getpid()}", excluded_queue_names=[])
    worker.run()
    return int(worker._run_tasks)

log = logging.getLogger("shanzhi.worker")


def _periodic_loop(stop: threading.Event, interval: float) -> None:
    """The periodic steps (alert rules, grouping, notifications …) on their own thread and database connection,
    so a slow step (event-count rules over a large history) never delays the deadline sweep."""
    try:
        while not stop.is_set():
            close_old_connections()
            periodic.run_due(timezone.now())
            stop.wait(interval)
    finally:
        connection.close()


class Command(BaseCommand):
    help = "Run the background worker (deadlines, escalations, outbound messages, periodic steps)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="run until nothing is due, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds to sleep when idle")
        parser.add_argument("--batch", type=int, default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        inline = options["once"] or connection.in_atomic_block  # tests and --once: one thread, in order
        stop_periodic = threading.Event()
        periodic_thread = None
        if not inline:
            periodic_thread = threading.Thread(target=_periodic_loop, args=(stop_periodic, 0.5),
                                               name="periodic", daemon=True)
            periodic_thread.start()
        totals = {"warned": 0, "overdue": 0, "escalated": 0, "sent": 0}
        while not stopping:
            if not connection.in_atomic_block:  # never inside a caller's transaction (tests)
                close_old_connections()
            result = sweep(batch=options["batch"])
            sent = deliver_due()
            tasks_run = _run_queued_tasks(50)
            if inline:
                periodic.run_due(timezone.now())
            totals["warned"] += result.warned
            totals["overdue"] += result.overdue
            totals["escalated"] += result.escalated
            totals["sent"] += sent
            if result.total or sent or tasks_run:
                log.info("sweep: %s warned, %s overdue, %s escalated; %s sent",
                         result.warned, result.overdue, result.escalated, sent)
                continue
            if options["once"]:
                break
            time.sleep(options["interval"])
        stop_periodic.set()
        if periodic_thread is not None:
            periodic_thread.join(timeout=30)
        self.stdout.write(f"worker stopped: {totals}")
