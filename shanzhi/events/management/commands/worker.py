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

# any constant: the key of the PostgreSQL session advisory lock held by the one worker that runs the periodic steps
_PERIODIC_LOCK_KEY = 0x5A4E_9E71


def _runs_periodic(held: dict[str, Any]) -> bool:
    """Whether this worker runs the periodic steps now.  On PostgreSQL only the worker whose connection holds a
    session advisory lock does (one alert tick per interval however many workers run, not one per worker: with
    event-count rules over 10^6 events each tick takes seconds of the database's CPU); another worker takes over
    when that connection goes.  Elsewhere (SQLite: one worker) always."""
    if connection.vendor != "postgresql":
        return True
    connection.ensure_connection()
    raw = connection.connection
    if raw is not None and held.get("connection") is raw:
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_PERIODIC_LOCK_KEY])
        row = cursor.fetchone()
    held["connection"] = raw if row and row[0] else None
    return held["connection"] is not None


def _periodic_loop(stop: threading.Event, interval: float) -> None:
    """The periodic steps (alert rules, grouping, notifications …) on their own thread and database connection,
    so a slow step (event-count rules over a large history) never delays the deadline sweep; of several workers,
    one runs them (:func:`_runs_periodic`)."""
    held: dict[str, Any] = {}
    try:
        while not stop.is_set():
            close_old_connections()
            try:
                if _runs_periodic(held):
                    periodic.run_due(timezone.now())
            except Exception:  # the database went away: try again next time
                log.exception("periodic steps")
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
