import datetime as dt
import threading
from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from shanzhi.core import audit
from shanzhi.core.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def _write(n, action="test.write"):
    for i in range(n):
        with transaction.atomic():
            audit.record(actor=None, action=action, object_type="test", object_id=i, region_code="330902008201",
                         before={"v": i}, after={"v": i + 1, "名": "值"})


def test_chain_verifies():
    _write(5)
    result = audit.verify()
    assert result.ok and result.checked == 5


def test_record_outside_transaction_is_refused():
    with pytest.raises(RuntimeError):
        audit.record(actor=None, action="x")


def test_database_refuses_update_and_delete():
    _write(1)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=1).update(action="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=1).delete()
    assert AuditEntry.objects.get(seq=1).action == "test.write"


def _bypass_triggers():
    """What an attacker with database access would do: disable the append-only triggers."""
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("ALTER TABLE core_auditentry DISABLE TRIGGER USER")
        else:
            c.execute("DROP TRIGGER IF EXISTS core_auditentry_no_update")
            c.execute("DROP TRIGGER IF EXISTS core_auditentry_no_delete")


def _restore_triggers():
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("ALTER TABLE core_auditentry ENABLE TRIGGER USER")
        else:
            from shanzhi.testing.sqlite import ensure_audit_triggers

            ensure_audit_triggers()


@pytest.fixture
def tamperable():
    _bypass_triggers()
    yield
    _restore_triggers()


def test_altered_row_is_caught(tamperable):
    _write(4)
    AuditEntry.objects.filter(seq=3).update(after={"v": 999})
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 3 and "hash" in result.reason


def test_missing_row_is_caught(tamperable):
    _write(4)
    AuditEntry.objects.filter(seq=2).delete()
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 2 and "missing" in result.reason


def test_reordered_rows_are_caught(tamperable):
    _write(4)
    # swap the sequence numbers of rows 2 and 3
    AuditEntry.objects.filter(seq=2).update(seq=-2)
    AuditEntry.objects.filter(seq=3).update(seq=2)
    AuditEntry.objects.filter(seq=-2).update(seq=3)
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_rewritten_hash_breaks_the_next_link(tamperable):
    _write(3)
    row = AuditEntry.objects.get(seq=2)
    row.after = {"v": 42}
    row.hash = audit.compute_hash(row)
    AuditEntry.objects.filter(seq=2).update(after=row.after, hash=row.hash)
    result = audit.verify()
    assert not result.ok and result.first_bad_seq == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel transactions need PostgreSQL")
def test_concurrent_writers_keep_one_linear_chain():
    errors = []

    def worker():
        try:
            _write(25, action="test.parallel")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert AuditEntry.objects.count() == 150
    assert audit.verify().ok


def test_seq_is_unique():
    _write(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEntry.objects.create(seq=1, created_at=AuditEntry.objects.get().created_at, action="x",
                                  prev_hash="0" * 64, hash="f" * 64)


def test_record_many_writes_the_rows_record_would_and_keeps_one_chain():
    import datetime as dt

    from shanzhi.core import context

    _write(2)
    items: list[dict[str, Any]] = [
        {"action": "test.many", "object_type": "test", "object_id": 7, "region_code": "330902008201",
         "before": None, "after": {"when": dt.date(2026, 11, 30), "名": "值", "nested": {"b": 1, "a": [1, "x"]}}},
        {"action": "test.many", "object_type": "test", "object_id": "", "before": {"v": None}, "after": None},
    ]
    token = context.set_current(context.RequestContext(request_id="req-1", ip="10.0.0.1"))
    try:
        with transaction.atomic():
            entries = audit.record_many(actor="system", items=items)
    finally:
        context.reset(token)
    _write(1)
    assert [e.seq for e in entries] == [3, 4]
    stored = {e.seq: e for e in AuditEntry.objects.filter(seq__in=[3, 4])}
    for entry in entries:
        row = stored[entry.seq]
        assert (row.hash, row.prev_hash, row.action, row.object_type, row.object_id, row.region_code) == (
            entry.hash, entry.prev_hash, entry.action, entry.object_type, entry.object_id, entry.region_code)
        assert (row.request_id, row.ip, row.actor_label, row.actor_id) == ("req-1", "10.0.0.1", "system", None)
    assert stored[3].before is None and stored[3].after == {"when": "2026-11-30", "名": "值",
                                                             "nested": {"b": 1, "a": [1, "x"]}}
    assert stored[4].before == {"v": None} and stored[4].after is None
    assert stored[3].prev_hash == AuditEntry.objects.get(seq=2).hash
    assert AuditEntry.objects.get(seq=5).prev_hash == stored[4].hash
    result = audit.verify()
    assert result.ok and result.checked == 5


def test_record_many_hashes_match_the_stored_rows_for_awkward_text_and_a_user_actor():
    from django.contrib.auth import get_user_model

    from shanzhi.core import context

    user = get_user_model().objects.create_user(username='ren "quoted" \\ 人')
    awkward = 'a "q" \\ b\n\t\u2028 中文 \x01'
    token = context.set_current(context.RequestContext(request_id=awkward, ip="::1"))
    try:
        with transaction.atomic():
            entries = audit.record_many(actor=user, items=[
                {"action": "test.awkward", "object_type": awkward, "object_id": awkward, "region_code": "330902",
                 "before": {awkward: [awkward, 1.5, True, None]}, "after": {"z": {"b": 2, "a": 1}, "": ""}},
                {"action": awkward, "object_type": "t", "object_id": "x"},
            ], returning=True)
            assert audit.record_many(actor=user, items=[{"action": "test.none"}], returning=False) == []
    finally:
        context.reset(token)
    stored = list(AuditEntry.objects.order_by("seq"))
    assert [row.hash for row in stored[:2]] == [entry.hash for entry in entries]
    for row in stored:
        row.created_at = row.created_at.astimezone(dt.UTC)
        assert audit.compute_hash(row) == row.hash
        assert row.actor_id == user.pk and row.request_id == awkward
    assert stored[0].object_id == awkward and stored[0].before == {awkward: [awkward, 1.5, True, None]}
    assert stored[1].object_id == "x" and stored[1].before is None and stored[1].after is None
    result = audit.verify()
    assert result.ok and result.checked == 3


def test_record_many_with_an_object_and_outside_a_transaction():
    from shanzhi.core.models import AuditEntry as Model

    with pytest.raises(RuntimeError):
        audit.record_many(actor=None, items=[{"action": "x"}])
    _write(1)
    obj = AuditEntry.objects.get()
    with transaction.atomic():
        audit.record_many(actor=None, items=[{"action": "test.obj", "obj": obj, "after": {"seen": True}}])
    row = AuditEntry.objects.get(seq=2)
    assert (row.object_type, row.object_id, row.region_code) == (Model._meta.label_lower, str(obj.pk), "330902008201")
    assert audit.verify().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel transactions need PostgreSQL")
def test_concurrent_batches_and_single_rows_keep_one_linear_chain():
    errors = []

    def batches():
        try:
            for i in range(10):
                with transaction.atomic():
                    audit.record_many(actor=None, items=[{"action": "test.batch", "object_type": "test",
                                                          "object_id": f"{i}.{j}", "after": {"j": j}}
                                                         for j in range(20)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def singles():
        try:
            _write(20, action="test.single")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=batches), threading.Thread(target=batches), threading.Thread(target=singles)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert AuditEntry.objects.count() == 420
    result = audit.verify()
    assert result.ok and result.checked == 420


def test_snapshot_masks_personal_data_and_leaves_out_blind_indexes_and_timestamps():
    import datetime as dt

    from shanzhi.core.masking import mask
    from shanzhi.events.models import Event

    event = Event(pk=5, reporter_name="张三丰", reporter_phone="13800138000", status="reported",
                  deadline_at=dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC), created_at=dt.datetime.now(dt.UTC))
    picked = audit.snapshot(event, ["reporter_name", "reporter_phone", "status", "deadline_at", "centre"])
    assert picked == {"reporter_name": mask("name", "张三丰"), "reporter_phone": mask("phone", "13800138000"),
                      "status": "reported", "deadline_at": "2026-11-30T08:00:00+00:00", "centre_id": None}
    assert picked["reporter_phone"] != "13800138000"
    full = audit.snapshot(event)
    assert "created_at" not in full and not any(k.endswith("_bidx") for k in full)
    assert full["id"] == 5 and full["reporter_name"] == picked["reporter_name"]
    # the same answer on a second call (the field plan is cached per model and field list)
    assert audit.snapshot(event, ["reporter_name", "reporter_phone", "status", "deadline_at", "centre"]) == picked
