"""Group commit of event intake: reports arriving together in one process share one transaction.

Every report is validated, placed, scope-checked, routed and given its deadlines on its own request thread
(:func:`services.prepare_create`); only the writing is shared.  The first thread to find no batch being written
becomes the leader: it takes every report queued so far (at most ``SHANZHI_INTAKE_BATCH``) and writes them with
:func:`services.write_created` in one transaction on its own database connection, while the others wait; then
the next waiting thread leads the reports that queued meanwhile.  Alone, a report is a batch of one, written as
before; under load the batches grow by themselves and the commits, the chain head of the audit log and the
rollup upserts are shared (ADR 0015).

Nobody answers before their report is committed.  If a batch fails, each of its reports is written again alone,
so that one bad report (a duplicate number, an Idempotency-Key raced by another request) fails only itself.
A caller already inside a transaction writes its report in that transaction (no batching).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from .services import Prepared, write_created


@dataclass(eq=False)
class _Slot:
    item: Prepared
    done: bool = False
    error: BaseException | None = None


@dataclass
class Stats:
    """Counters of this process: batches written, reports in them, the largest batch, batches retried alone."""

    batches: int = 0
    reports: int = 0
    largest: int = 0
    retried: int = 0


stats = Stats()
_cond = threading.Condition()
_queue: list[_Slot] = []
_writing = False


def _limit() -> int:
    return max(1, int(getattr(settings, "SHANZHI_INTAKE_BATCH", 200)))


def commit(item: Prepared) -> None:
    """Write one prepared report, sharing the transaction with reports that arrive at the same time."""
    if connection.in_atomic_block or _limit() == 1:
        with transaction.atomic():
            write_created([item])
        return
    global _writing
    slot = _Slot(item)
    with _cond:
        _queue.append(slot)
        while not slot.done:
            if _writing:
                _cond.wait()
                continue
            _writing = True
            batch = _queue[:_limit()]
            del _queue[:len(batch)]
            _cond.release()
            try:
                write_batch(batch)
            finally:
                _cond.acquire()
                _writing = False
                _cond.notify_all()
    if slot.error is not None:
        raise slot.error


def write_batch(batch: list[_Slot]) -> None:
    """Write ``batch`` in one transaction; if that fails, each report alone (its own error to its own caller)."""
    try:
        try:
            with transaction.atomic():
                write_created([s.item for s in batch])
        except Exception as exc:
            if len(batch) == 1:
                _forget_keys(batch[0].item)
                batch[0].error = exc
                return
            stats.retried += 1
            for slot in batch:
                _forget_keys(slot.item)
                try:
                    with transaction.atomic():
                        write_created([slot.item])
                except Exception as one:
                    _forget_keys(slot.item)
                    slot.error = one
        else:
            stats.batches += 1
            stats.reports += len(batch)
            stats.largest = max(stats.largest, len(batch))
    finally:
        for slot in batch:
            slot.done = True


def _forget_keys(item: Prepared) -> None:
    """After a rolled-back write the event must look unsaved again (a bulk insert gave it a primary key)."""
    item.event.pk = None
    item.event._state.adding = True


def make_slot(item: Prepared) -> _Slot:
    """A slot for :func:`write_batch` (tests write a batch directly)."""
    return _Slot(item)
