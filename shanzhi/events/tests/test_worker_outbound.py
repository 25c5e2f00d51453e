"""The worker command and outbound delivery (a real HTTP peer on loopback)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from shanzhi.events.models import Event, Outbox, Status
from shanzhi.events.outbound import deliver_due
from shanzhi.events.services import Intake, event_create

pytestmark = pytest.mark.django_db


class _Peer(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, object]]] = []
    fail_next = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Peer.fail_next:
            _Peer.fail_next -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Peer.received.append((self.headers["Idempotency-Key"], body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def peer(settings):
    server = HTTPServer(("127.0.0.1", 0), _Peer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Peer.received = []
    _Peer.fail_next = 0
    settings.SHANZHI_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    settings.SHANZHI_WEBHOOK_SECRET = "s3cret"
    yield _Peer
    server.shutdown()


def test_webhook_is_sent_after_commit_retried_and_not_duplicated(ev, peer, django_capture_on_commit_callbacks):
    peer.fail_next = 1
    with django_capture_on_commit_callbacks(execute=False):
        event, _ = event_create(actor=ev.grid_worker, data=Intake(title="t", category="exposed_garbage",
                                                                   region_code=ev.village))
    message = Outbox.objects.get()
    assert message.status == "pending" and message.payload["event"] == event.number
    assert deliver_due(now=timezone.now()) == 0  # the peer answers 503 once
    message.refresh_from_db()
    assert message.attempts == 1 and message.status == "pending" and message.next_attempt_at > timezone.now()
    assert deliver_due(now=timezone.now() + dt.timedelta(hours=1)) == 1
    assert deliver_due(now=timezone.now() + dt.timedelta(hours=2)) == 0  # sent once only
    assert len(peer.received) == 1 and peer.received[0][0] == message.dedupe_key


def test_rolled_back_change_sends_nothing(ev, peer):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        event_create(actor=ev.grid_worker, data=Intake(title="t", category="exposed_garbage", region_code=ev.village))
        raise RuntimeError("abort")
    assert not Outbox.objects.exists() and not Event.objects.exists()


@pytest.mark.django_db(transaction=True)  # the worker manages its own connections, as in production
def test_worker_once_fires_due_deadlines(ev, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    event, _ = event_create(actor=ev.grid_worker, data=Intake(title="t", category="fire_hazard", grid_id=ev.grid.pk))
    Event.objects.filter(pk=event.pk).update(due_at=timezone.now() - dt.timedelta(seconds=1),
                                             deadline_at=timezone.now() - dt.timedelta(seconds=1))
    call_command("worker", "--once")
    event.refresh_from_db()
    assert event.status == Status.ESCALATED


@pytest.mark.django_db(transaction=True)
def test_queued_tasks_run_in_the_worker(ev, settings):
    from django_tasks_db.models import DBTaskResult

    from shanzhi.events.tasks import deliver_outbox

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    deliver_outbox.enqueue()
    assert DBTaskResult.objects.count() == 1
    call_command("worker", "--once")
    assert DBTaskResult.objects.get().status not in ("READY", "RUNNING")


def test_periodic_steps_run_on_their_own_thread(monkeypatch: Any) -> None:
    """A slow periodic step (event-count rules over a long history) must not hold up the deadline sweep: the
    worker runs the steps on a separate thread with its own connection."""
    from shanzhi.core import periodic
    from shanzhi.events.management.commands import worker

    seen: list[str] = []
    ran = threading.Event()

    def step(now: Any) -> None:
        seen.append(threading.current_thread().name)
        ran.set()

    monkeypatch.setattr(periodic, "_steps", {"test": periodic.Step("test", step, every=60)})
    stop = threading.Event()
    thread = threading.Thread(target=worker._periodic_loop, args=(stop, 0.01), name="periodic")
    thread.start()
    assert ran.wait(10)
    stop.set()
    thread.join(10)
    assert not thread.is_alive() and seen == ["periodic"]  # ran once: `every` is respected


def test_one_of_several_workers_runs_the_periodic_steps() -> None:
    """Of several workers only one runs the periodic steps (each alert tick once, not once per worker); when its
    connection goes, another takes over."""
    from django.db import connection

    from shanzhi.events.management.commands import worker

    if connection.vendor != "postgresql":
        assert worker._runs_periodic({})
        return
    first_turn = threading.Event()
    release = threading.Event()
    results: dict[str, list[bool]] = {"a": [], "b": []}

    def holder() -> None:
        held: dict[str, Any] = {}
        try:
            results["a"].append(worker._runs_periodic(held))
            results["a"].append(worker._runs_periodic(held))  # still the same connection: still its turn
            first_turn.set()
            release.wait(10)
        finally:
            connection.close()  # the worker stops: its session lock goes with its connection

    def other() -> None:
        held: dict[str, Any] = {}
        try:
            first_turn.wait(10)
            results["b"].append(worker._runs_periodic(held))
            release.set()
            thread_a.join(10)
            results["b"].append(worker._runs_periodic(held))
        finally:
            connection.close()

    thread_a = threading.Thread(target=holder)
    thread_b = threading.Thread(target=other)
    thread_a.start()
    thread_b.start()
    thread_b.join(20)
    assert results == {"a": [True, True], "b": [False, True]}
