"""Group commit of intake (``events/intake.py``) and the hot-path memos (``core/memo.py``).

Concurrent reports share one transaction but each keeps its own rows, actor and request in the audit log; a bad
report in a batch fails alone; a report inside the caller's transaction is not batched; memos forget on change.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from shanzhi.core import audit, context, memo
from shanzhi.core.errors import ValidationFailed
from shanzhi.core.models import AuditEntry
from shanzhi.events import intake, services
from shanzhi.events.models import Category, DailyStat, Event, Notification, TimelineEntry
from shanzhi.testing import factories


def _intake(ev: Any, n: int) -> services.Intake:
    return services.Intake(title=f"上报 {n}", category="exposed_garbage", grid_id=ev.grid.pk,
                           description="路口垃圾", reporter_name="张三", reporter_phone="13812345678")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="threads with their own connections need PostgreSQL")
def test_concurrent_reports_share_transactions_and_keep_their_own_audit_rows(ev: Any, monkeypatch: Any) -> None:
    other = factories.make_user("grid_worker", ev.village, username="gw2")
    actors = [ev.grid_worker, other]
    slow_first = threading.Event()
    real = services.write_created

    def write_slowly(items: list[services.Prepared]) -> None:
        if not slow_first.is_set():  # the first leader lingers so that the others queue behind it
            slow_first.set()
            time.sleep(0.3)
        real(items)

    monkeypatch.setattr(intake, "write_created", write_slowly)
    before = intake.stats.reports, intake.stats.batches
    results: list[tuple[int, int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def report(worker: int) -> None:
        try:
            for i in range(6):
                request_id = f"req-{worker}-{i}"
                token = context.set_current(context.RequestContext(request_id=request_id, ip="10.0.0.9"))
                try:
                    actor = actors[worker % 2]
                    event, created = services.event_create(actor=actor, data=_intake(ev, worker * 100 + i))
                finally:
                    context.reset(token)
                assert created
                with lock:
                    results.append((event.pk, actor.pk, request_id))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=report, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 48 and len({pk for pk, _a, _r in results}) == 48
    reports, batches = intake.stats.reports - before[0], intake.stats.batches - before[1]
    assert reports == 48 and batches < 48, (reports, batches)  # some reports shared a transaction
    assert intake.stats.largest > 1
    # every event has its timeline row, its notifications and exactly one audit row naming its own actor/request
    for pk, actor_id, request_id in results:
        assert TimelineEntry.objects.filter(event_id=pk, action="report").count() == 1
        row = AuditEntry.objects.get(action="events.event.create", object_id=str(pk))
        assert (row.actor_id, row.request_id, row.ip) == (actor_id, request_id, "10.0.0.9")
    assert Notification.objects.filter(event_id__in=[r[0] for r in results], kind="new_event").count() == 48
    created = sum(DailyStat.objects.filter(metric="created").values_list("value", flat=True))
    assert created == Event.objects.count() == 48
    assert audit.verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_bad_report_in_a_batch_fails_alone(ev: Any) -> None:
    items = [services.prepare_create(actor=ev.grid_worker, data=_intake(ev, n)) for n in range(3)]
    items[1].event.number = items[0].event.number  # collides with the first: unique violation
    slots = [intake.make_slot(item) for item in items]
    retried = intake.stats.retried
    intake.write_batch(slots)
    assert intake.stats.retried == retried + 1  # the batch failed, then each report was written alone
    assert all(s.done for s in slots)
    assert slots[0].error is None and slots[2].error is None
    assert isinstance(slots[1].error, IntegrityError)
    assert items[1].event.pk is None  # looks unsaved again
    assert set(Event.objects.values_list("number", flat=True)) == {items[0].event.number, items[2].event.number}
    assert AuditEntry.objects.filter(action="events.event.create").count() == 2
    assert TimelineEntry.objects.count() == 2
    assert sum(DailyStat.objects.filter(metric="created").values_list("value", flat=True)) == 2
    assert audit.verify().ok


@pytest.mark.django_db
def test_inside_a_transaction_the_report_is_written_in_it(ev: Any) -> None:
    before = intake.stats.reports
    with pytest.raises(RuntimeError), transaction.atomic():
        services.event_create(actor=ev.grid_worker, data=_intake(ev, 1))
        assert Event.objects.count() == 1
        raise RuntimeError("roll back")
    assert Event.objects.count() == 0
    assert intake.stats.reports == before  # not through the batcher


@pytest.mark.django_db
def test_batch_of_many_writes_the_same_rows_as_one_by_one(ev: Any) -> None:
    items = [services.prepare_create(actor=ev.grid_worker, data=_intake(ev, n)) for n in range(4)]
    with transaction.atomic():
        services.write_created(items)
    events = [i.event for i in items]
    assert all(e.pk for e in events)
    # each later one sees the earlier ones of its batch as possible duplicates (same grid and category)
    assert events[0].possible_duplicates == [e.number for e in events[1:]]  # type: ignore[attr-defined]
    assert events[3].possible_duplicates == [e.number for e in events[:3]]  # type: ignore[attr-defined]
    dupes = services.find_duplicates(grid_id=ev.grid.pk, region_code=events[3].region_code,
                                     category_id=events[3].category_id, now=events[3].created_at,
                                     exclude=events[3].pk)
    assert [d.number for d in dupes] == events[3].possible_duplicates  # type: ignore[attr-defined]
    assert TimelineEntry.objects.filter(action="report").count() == 4
    assert AuditEntry.objects.filter(action="events.event.create").count() == 4


@pytest.mark.django_db
def test_a_batch_names_each_report_s_own_actor_and_request(ev: Any) -> None:
    other = factories.make_user("grid_worker", ev.village, username="gw3")
    items = []
    for n, actor in enumerate([ev.grid_worker, other, ev.grid_worker]):
        token = context.set_current(context.RequestContext(request_id=f"r{n}", ip=f"10.0.0.{n}"))
        try:
            items.append(services.prepare_create(actor=actor, data=_intake(ev, n)))
        finally:
            context.reset(token)
    with transaction.atomic():
        services.write_created(items)
    rows = {r.object_id: r for r in AuditEntry.objects.filter(action="events.event.create")}
    for n, item in enumerate(items):
        row = rows[str(item.event.pk)]
        assert (row.actor_id, row.request_id, row.ip) == (item.actor.pk, f"r{n}", f"10.0.0.{n}")
    assert audit.verify().ok


@pytest.mark.django_db
def test_memo_forgets_on_save_and_expires(ev: Any, settings: Any) -> None:
    settings.SHANZHI_MEMO_SECONDS = 60
    category = Category.objects.get(code="exposed_garbage")
    data = _intake(ev, 1)
    services.prepare_create(actor=ev.grid_worker, data=data)  # remembered
    Category.objects.filter(pk=category.pk).update(active=False)  # no signal: still remembered
    services.prepare_create(actor=ev.grid_worker, data=data)
    category.active = False
    category.save()  # a save in this process: forgotten at once
    with pytest.raises(ValidationFailed):
        services.prepare_create(actor=ev.grid_worker, data=data)
    Category.objects.filter(pk=category.pk).update(active=True)
    settings.SHANZHI_MEMO_SECONDS = 0  # off: every read goes to the database
    services.prepare_create(actor=ev.grid_worker, data=data)


@pytest.mark.django_db
def test_memo_limit_and_forget_all() -> None:
    m: memo.Memo[int] = memo.Memo("test-limit", [], limit=3)
    from django.test import override_settings

    with override_settings(SHANZHI_MEMO_SECONDS=60):
        for key in range(5):
            m.get(key, lambda k=key: k)  # type: ignore[misc]
        assert len(m) <= 3
        assert m.get(4, lambda: 99) == 4  # remembered
        memo.forget_all()
        assert m.get(4, lambda: 99) == 99


@pytest.mark.django_db
def test_revoked_token_is_refused_at_once_in_this_process(client: Any, ev: Any, settings: Any) -> None:
    settings.SHANZHI_MEMO_SECONDS = 60
    token = factories.make_token(ev.grid_worker)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/me", **headers).status_code == 200
    assert client.get("/api/v1/me", **headers).status_code == 200  # from the memo
    row = ev.grid_worker.api_tokens.get()
    row.revoked_at = row.created_at
    row.save()
    assert client.get("/api/v1/me", **headers).status_code == 401
    forged = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401


@pytest.mark.django_db
def test_a_clashing_event_number_draws_another(ev: Any, monkeypatch: Any) -> None:
    first, _ = services.event_create(actor=ev.grid_worker, data=_intake(ev, 1))
    numbers = iter([first.number, "SJ2026010100000001"])
    monkeypatch.setattr(services, "_new_number", lambda now: next(numbers))
    second, created = services.event_create(actor=ev.grid_worker, data=_intake(ev, 2))
    assert created and second.number == "SJ2026010100000001"
    assert Event.objects.count() == 2
    assert AuditEntry.objects.filter(action="events.event.create").count() == 2
