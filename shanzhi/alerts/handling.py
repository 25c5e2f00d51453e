"""The write path every alert goes through: deduplicate by fingerprint, compute silences and inhibitions, store.

:func:`upsert` takes a batch of :class:`AlertInput` (from the rule engine, from device alarms, from the
Alertmanager API) and writes it with one read and at most two bulk writes.  The status of an alert is computed
on write: ``resolved`` once ``ends_at`` has passed, else ``silenced`` when an active silence in its region
matches it, else ``inhibited`` when an inhibition rule's firing source matches, else ``acknowledged`` or
``firing``.  :func:`recompute` refreshes the status of stored alerts after silences or sources changed.

:func:`refresh` is the fast path for the common case of the Alertmanager API: Prometheus re-sends every firing
alert on each evaluation, and most of those re-sends change nothing but ``endsAt``.  It writes a whole batch of
them with one SQL statement, guarded so that it only ever touches an alert whose stored state (status, silences,
inhibitions, annotations …) is exactly what the full path would leave; everything else goes through
:func:`upsert`.  The silences and inhibitions it checks against come from a per-process cache
(:func:`cached_suppression`); the guard makes a stale cache cost speed, never correctness.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from shanzhi.core.codes import in_scope, prefix_of

from . import matchers
from .matchers import Matcher
from .models import Alert, AlertStatus, InhibitRule, IntakeGeneration, Silence

GROUP_BY_DEFAULT = ("alertname", "region")


@dataclass
class AlertInput:
    labels: dict[str, str]
    region_code: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None  # None: firing until resolved
    annotations: dict[str, str] = field(default_factory=dict)
    severity: str = "warning"
    source: str = "rule"
    rule_id: int | None = None
    generator_url: str = ""
    subject: str = ""

    _fingerprint: str = field(default="", init=False, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """Computed once (the labels of an input are not changed after it is made)."""
        if not self._fingerprint:
            self._fingerprint = matchers.fingerprint(self.labels)
        return self._fingerprint


def group_by() -> tuple[str, ...]:
    return tuple(getattr(settings, "SHANZHI_ALERTS_GROUP_BY", GROUP_BY_DEFAULT))


@dataclass
class _Inhibition:
    name: str
    source: list[Matcher]
    target: list[Matcher]
    equal: list[str]
    keys: dict[tuple[str, ...], set[str]] = field(default_factory=dict)  # equal-values -> source fingerprints

    def key(self, labels: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(labels.get(name, "")) for name in self.equal)

    def add_source(self, fp: str, labels: dict[str, Any]) -> None:
        if matchers.match_all(self.source, labels):
            self.keys.setdefault(self.key(labels), set()).add(fp)

    def drop_source(self, fp: str) -> None:
        for fps in self.keys.values():
            fps.discard(fp)


def _equality_q(ms: Sequence[Matcher]) -> Q:
    q = Q()
    for m in ms:
        if m.is_equal and not m.is_regex and m.value:
            q &= Q(**{f"labels__{m.name}": m.value})
    return q


def active_q(now: dt.datetime) -> Q:
    return Q(ends_at__isnull=True) | Q(ends_at__gt=now)


class Suppression:
    """The silences and inhibitions in force at ``now`` (loaded once per batch)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        # until when this view holds: the next start or end of a silence, the earliest end of a source alert
        self.valid_until = dt.datetime.max.replace(tzinfo=dt.UTC)
        self.silences: list[tuple[str, str, list[Matcher]]] = []
        for s in Silence.objects.filter(ends_at__gt=now).only("uuid", "region_code", "matchers", "starts_at",
                                                                "ends_at"):
            if s.starts_at > now:  # pending
                self.valid_until = min(self.valid_until, s.starts_at)
                continue
            try:
                self.silences.append((str(s.uuid), prefix_of(s.region_code), matchers.from_dicts(s.matchers)))
            except (matchers.MatcherError, ValueError):
                continue
            self.valid_until = min(self.valid_until, s.ends_at)
        self.inhibitions: list[_Inhibition] = []
        for rule in InhibitRule.objects.filter(enabled=True):
            try:
                inh = _Inhibition(rule.name, matchers.from_dicts(rule.source_matchers),
                                  matchers.from_dicts(rule.target_matchers), [str(e) for e in rule.equal])
            except matchers.MatcherError:
                continue
            sources = Alert.objects.filter(active_q(now) & _equality_q(inh.source)).values_list(
                "fingerprint", "labels", "ends_at")
            for fp, labels, ends_at in sources:
                inh.add_source(fp, labels)
                if ends_at is not None and matchers.match_all(inh.source, labels):
                    self.valid_until = min(self.valid_until, ends_at)
            self.inhibitions.append(inh)

    def note(self, fp: str, labels: dict[str, Any], active: bool) -> bool:
        """Record a source alert of this batch; return whether it is the source of any inhibition."""
        hit = False
        for inh in self.inhibitions:
            if matchers.match_all(inh.source, labels):
                hit = True
                if active:
                    inh.add_source(fp, labels)
                else:
                    inh.drop_source(fp)
        return hit

    def silenced_by(self, region_code: str, labels: dict[str, Any]) -> list[str]:
        return [uid for uid, prefix, ms in self.silences
                if region_code.startswith(prefix) and matchers.match_all(ms, labels)]

    def inhibited_by(self, fp: str, labels: dict[str, Any]) -> list[str]:
        result: list[str] = []
        for inh in self.inhibitions:
            if not inh.keys or not matchers.match_all(inh.target, labels):
                continue
            sources = inh.keys.get(inh.key(labels), set()) - {fp}
            result.extend(sorted(sources))
        return result

    def expected(self, fp: str, region_code: str, labels: dict[str, Any]) -> tuple[str, list[str], list[str]]:
        """(status, silenced_by, inhibited_by) of an active, unacknowledged alert (``firing`` stands for
        ``acknowledged`` too)."""
        silenced = self.silenced_by(region_code, labels)
        inhibited = self.inhibited_by(fp, labels)
        status = AlertStatus.SILENCED if silenced else AlertStatus.INHIBITED if inhibited else AlertStatus.FIRING
        return str(status), silenced, inhibited

    def status_of(self, alert: Alert) -> bool:
        """Set ``silenced_by``, ``inhibited_by`` and ``status`` of an alert; return whether anything changed."""
        before = (alert.status, alert.silenced_by, alert.inhibited_by)
        if alert.ends_at is not None and alert.ends_at <= self.now:
            alert.silenced_by, alert.inhibited_by = [], []
            alert.status = AlertStatus.RESOLVED
        else:
            alert.silenced_by = self.silenced_by(alert.region_code, alert.labels)
            alert.inhibited_by = self.inhibited_by(alert.fingerprint, alert.labels)
            if alert.silenced_by:
                alert.status = AlertStatus.SILENCED
            elif alert.inhibited_by:
                alert.status = AlertStatus.INHIBITED
            elif alert.acknowledged_at is not None:
                alert.status = AlertStatus.ACKNOWLEDGED
            else:
                alert.status = AlertStatus.FIRING
        return before != (alert.status, alert.silenced_by, alert.inhibited_by)


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    resolved: int = 0
    refreshed: int = 0  # by the fast path (:func:`refresh`): only ``endsAt`` moved
    alerts: list[Alert] = field(default_factory=list)
    # the real changes, for the audit: (alert, "created" | "resolved" | "reopened" | "status" | "content");
    # a re-send that only moved endsAt (a heartbeat) is not listed
    changes: list[tuple[Alert, str]] = field(default_factory=list)


_UPDATE_FIELDS = ["labels", "annotations", "severity", "status", "starts_at", "ends_at", "generator_url",
                  "silenced_by", "inhibited_by", "acknowledged_by", "acknowledged_at", "ack_comment",
                  "escalated_level", "escalation_count", "escalated_at", "event", "group_key", "updated_at",
                  "region_code", "rule", "subject", "source"]


def upsert(items: Sequence[AlertInput], *, now: dt.datetime) -> UpsertResult:
    """Store a batch of alerts (deduplicated by fingerprint); the last item of a fingerprint wins."""
    result = UpsertResult()
    if not items:
        return result
    latest: dict[str, AlertInput] = {}
    for item in items:
        latest[item.fingerprint] = item
    by = group_by()
    with transaction.atomic():
        # locked in a fixed order, so two batches sharing alerts cannot deadlock
        existing = {a.fingerprint: a for a in Alert.objects.select_for_update().filter(
            fingerprint__in=sorted(latest)).order_by("pk")}
        suppression = Suppression(now)
        source_changed = False
        new: list[Alert] = []
        changed: list[Alert] = []
        before: dict[str, tuple[Any, ...]] = {}
        kinds: dict[str, str] = {}
        for fp, item in latest.items():
            active = item.ends_at is None or item.ends_at > now
            alert = existing.get(fp)
            if alert is None:
                if not item.labels or (not active and item.source == "rule"):
                    continue  # resolving something never stored
                alert = Alert(fingerprint=fp, labels=item.labels, region_code=item.region_code,
                              starts_at=item.starts_at, created_at=now)
                new.append(alert)
                source_changed |= suppression.note(fp, item.labels, active)
            else:
                before[fp] = _values(alert)
                was_active = alert.ends_at is None or alert.ends_at > now
                if active and not was_active:  # a new occurrence of a resolved alert
                    kinds[fp] = "reopened"
                    alert.starts_at = item.starts_at
                    alert.acknowledged_by, alert.acknowledged_at, alert.ack_comment = None, None, ""
                    alert.escalated_level, alert.escalation_count, alert.escalated_at = 0, 0, None
                    alert.event = None
                elif item.starts_at < alert.starts_at:
                    alert.starts_at = item.starts_at
                if was_active != active:
                    source_changed |= suppression.note(fp, alert.labels, active)
                    if not active:
                        result.resolved += 1
                        kinds[fp] = "resolved"
                changed.append(alert)
            alert.ends_at = item.ends_at
            alert.updated_at = now
            if not item.labels:  # a resolution by fingerprint: keep what the alert said
                continue
            alert.annotations = item.annotations
            alert.severity = item.severity
            alert.generator_url = item.generator_url
            alert.source = item.source
            alert.rule_id = item.rule_id
            alert.subject = item.subject
            alert.region_code = item.region_code
            alert.group_key = matchers.group_key(item.labels, by)
        for alert in new + changed:
            suppression.status_of(alert)
        if new:
            Alert.objects.bulk_create(new, batch_size=500)
        if changed:
            for fp, kind in _write_changes(changed, before, now).items():
                kinds.setdefault(fp, kind)
        result.created, result.updated = len(new), len(changed)
        result.alerts = new + changed
        result.changes = [(a, "created") for a in new] + [(a, kinds[a.fingerprint]) for a in changed
                                                           if a.fingerprint in kinds]
        if source_changed:
            invalidate_suppression()
            recompute(now=now, exclude=set(latest))
        if any(a.source == "external" or before[a.fingerprint][_SOURCE] == "external" for a in changed):
            bump_generation()  # an external alert changed (or moved its endsAt back) behind the intake memories
    return result


_SOURCE = _UPDATE_FIELDS.index("source")


def _values(alert: Alert) -> tuple[Any, ...]:
    return tuple(getattr(alert, f if f != "event" and f != "rule" and f != "acknowledged_by" else f + "_id")
                 for f in _UPDATE_FIELDS)


def _write_changes(changed: list[Alert], before: dict[str, tuple[Any, ...]], now: dt.datetime) -> dict[str, str]:
    """Write updated alerts with as little SQL as possible; return the kind of change of the others than
    refreshes (``status`` or ``content``) by fingerprint.

    Re-sent alerts (Prometheus re-sends every firing alert each evaluation) usually change nothing but
    ``endsAt``: those are written with one ``UPDATE … WHERE id IN`` per distinct ``endsAt``; the others with a
    ``bulk_update`` of just the fields that changed."""
    refresh: dict[Any, list[int]] = defaultdict(list)
    rest: list[Alert] = []
    fields: set[str] = set()
    quiet = {"ends_at", "updated_at", "starts_at"}
    kinds: dict[str, str] = {}
    for alert in changed:
        old, new = before[alert.fingerprint], _values(alert)
        diff = {name for name, a, b in zip(_UPDATE_FIELDS, old, new, strict=True) if a != b}
        if diff <= quiet and "starts_at" not in diff:
            refresh[alert.ends_at].append(alert.pk)
        else:
            rest.append(alert)
            fields |= diff
            if diff & _STATE_FIELDS:
                kinds[alert.fingerprint] = "status"
            elif not diff <= quiet:
                kinds[alert.fingerprint] = "content"
    for ends_at, ids in refresh.items():
        Alert.objects.filter(pk__in=ids).update(ends_at=ends_at, updated_at=now)
    if rest:
        Alert.objects.bulk_update(rest, sorted(fields | {"ends_at", "updated_at"}), batch_size=500)
    return kinds


_STATE_FIELDS = {"status", "silenced_by", "inhibited_by"}


def recompute(*, now: dt.datetime, region_prefix: str = "", exclude: Iterable[str] = ()) -> int:
    """Refresh silences/inhibitions/resolution of stored non-resolved alerts; return how many changed."""
    suppression = Suppression(now)
    qs = Alert.objects.exclude(status=AlertStatus.RESOLVED).exclude(fingerprint__in=list(exclude))
    if region_prefix:
        qs = qs.filter(region_code__startswith=region_prefix)
    changed = []
    for alert in qs.iterator(chunk_size=2000):
        if suppression.status_of(alert):
            alert.updated_at = now
            changed.append(alert)
    if changed:
        with transaction.atomic():
            Alert.objects.bulk_update(changed, ["status", "silenced_by", "inhibited_by", "updated_at"],
                                      batch_size=500)
            bump_generation()
    return len(changed)


def in_prefixes(region_code: str, prefixes: Iterable[str]) -> bool:
    return in_scope(region_code, prefixes)


# --- the fast path for re-sent alerts ------------------------------------------------------------------------
class _Cached:
    """The :class:`Suppression` this process last loaded, with when and at which local generation."""

    lock = threading.Lock()
    suppression: Suppression | None = None
    loaded: float = 0.0
    generation = 0
    loaded_generation = -1


def cache_seconds() -> float:
    """How long a process may reuse the silences and inhibitions it loaded (``SHANZHI_ALERTS_CACHE_SECONDS``)."""
    return float(getattr(settings, "SHANZHI_ALERTS_CACHE_SECONDS", 5))


def invalidate_suppression(**_kwargs: Any) -> None:
    """Forget the cached silences and inhibitions of this process (now and again when the transaction commits,
    so a reload inside it cannot keep the old view)."""
    with _Cached.lock:
        _Cached.generation += 1
    if connection.in_atomic_block:
        transaction.on_commit(invalidate_suppression)


for _model in (Silence, InhibitRule):
    post_save.connect(invalidate_suppression, sender=_model, dispatch_uid=f"alerts-cache-{_model.__name__}-save")
    post_delete.connect(invalidate_suppression, sender=_model, dispatch_uid=f"alerts-cache-{_model.__name__}-del")


def cached_suppression(now: dt.datetime) -> Suppression:
    """The silences and inhibitions in force, reloaded when this process changed them, when a silence starts or
    ends or a source alert's ``endsAt`` passes, and at least every :func:`cache_seconds` (for changes made by
    other processes).  Only :func:`refresh` uses it, whose guard falls back to the full path on any
    disagreement with the stored state."""
    with _Cached.lock:
        current = _Cached.suppression
        if (current is not None and _Cached.loaded_generation == _Cached.generation
                and time.monotonic() - _Cached.loaded < cache_seconds() and now < current.valid_until):
            return current
        generation = _Cached.generation
    fresh = Suppression(now)
    with _Cached.lock:
        _Cached.suppression, _Cached.loaded, _Cached.loaded_generation = fresh, time.monotonic(), generation
    return fresh


# The alerts are found by fingerprint in a LATERAL subquery (LIMIT 1 keeps it a nested loop of index probes
# whatever the table statistics say) and written by their row address (ctid): an alert changed by another
# transaction meanwhile has a new row version, does not match, and goes to the full path.  {relaxed} is the
# place of the asynchronous commit (see :func:`refresh`).
_REFRESH_PG = """
WITH {relaxed} u AS (
  SELECT * FROM json_to_recordset(%s::json)
    AS u(fp text, starts_at timestamptz, ends_at timestamptz, annotations jsonb, generator_url text, severity text,
         region_code text, group_key text, source text, subject text, status text, silenced_by jsonb,
         inhibited_by jsonb)
), t AS MATERIALIZED (
  SELECT a.tid, u.starts_at, u.ends_at FROM u CROSS JOIN LATERAL (
    SELECT ctid AS tid, * FROM alerts_alert WHERE fingerprint = u.fp LIMIT 1) AS a {relaxed_from}
  WHERE a.ends_at > %s AND a.ends_at <= u.ends_at AND a.status <> 'resolved' AND a.rule_id IS NULL
    AND a.source = u.source AND a.subject = u.subject AND a.annotations = u.annotations
    AND a.generator_url = u.generator_url AND a.severity = u.severity AND a.region_code = u.region_code
    AND a.group_key = u.group_key
    AND a.status = CASE WHEN u.status = 'firing' AND a.acknowledged_at IS NOT NULL THEN 'acknowledged'
                        ELSE u.status END
    AND a.silenced_by = u.silenced_by AND a.inhibited_by = u.inhibited_by
)
UPDATE alerts_alert AS a
SET ends_at = t.ends_at, updated_at = %s, starts_at = LEAST(a.starts_at, t.starts_at)
FROM t WHERE a.ctid = t.tid
RETURNING a.fingerprint"""

_REFRESH_SQLITE = """
WITH u(fp, starts_at, ends_at, annotations, generator_url, severity, region_code, group_key, source, subject,
       status, silenced_by, inhibited_by) AS (VALUES {rows})
UPDATE alerts_alert
SET ends_at = u.ends_at, updated_at = %s, starts_at = MIN(alerts_alert.starts_at, u.starts_at)
FROM u
WHERE alerts_alert.fingerprint = u.fp AND alerts_alert.ends_at > %s AND alerts_alert.ends_at <= u.ends_at
  AND alerts_alert.status <> 'resolved'
  AND alerts_alert.rule_id IS NULL AND alerts_alert.source = u.source AND alerts_alert.subject = u.subject
  AND json(alerts_alert.annotations) = json(u.annotations) AND alerts_alert.generator_url = u.generator_url
  AND alerts_alert.severity = u.severity AND alerts_alert.region_code = u.region_code
  AND alerts_alert.group_key = u.group_key
  AND alerts_alert.status = CASE WHEN u.status = 'firing' AND alerts_alert.acknowledged_at IS NOT NULL
                                 THEN 'acknowledged' ELSE u.status END
  AND json(alerts_alert.silenced_by) = json(u.silenced_by) AND json(alerts_alert.inhibited_by) = json(u.inhibited_by)
RETURNING alerts_alert.fingerprint"""


_REFRESH_COLUMNS = ("fp", "starts_at", "ends_at", "annotations", "generator_url", "severity", "region_code",
                    "group_key", "source", "subject", "status", "silenced_by", "inhibited_by")


# --- the memory of stored external alerts (heartbeats within the slack are not written; ADR 0014) -------------
class _Known:
    """The external alerts this process saw stored, by fingerprint: (what the guard compares — annotations,
    generator URL, severity, region, group, source, subject, status, silences, inhibitions —, stored ``startsAt``,
    stored ``endsAt``).  Valid only at ``generation``: when the counter in ``alerts_intakegeneration`` moved (a
    full-path write, a recompute, a save or delete of an alert, in any process), it is dropped."""

    lock = threading.Lock()
    generation: int | None = None
    entries: dict[str, tuple[tuple[Any, ...], dt.datetime, dt.datetime]] = {}
    LIMIT = 200_000


def ends_at_slack() -> float:
    """``SHANZHI_ALERTS_ENDS_AT_SLACK`` (default 0.125; 0 writes every re-send): a re-send whose only change is a
    later ``endsAt``, later than the stored one by at most this fraction of the time left until the new
    ``endsAt``, is not written."""
    return float(getattr(settings, "SHANZHI_ALERTS_ENDS_AT_SLACK", 0.125))


def forget_known() -> None:
    """Drop this process's memory of stored alerts (other processes drop theirs when they see the counter move)."""
    with _Known.lock:
        _Known.entries = {}
        _Known.generation = None


def move_counter() -> None:
    """Move the generation counter (on PostgreSQL also notify the processes listening for it); see
    :func:`bump_generation`."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("WITH u AS (UPDATE alerts_intakegeneration SET value = value + 1 WHERE id = 1 "
                           "RETURNING value) SELECT pg_notify('shanzhi_alerts_generation', value::text) FROM u")
        else:
            cursor.execute("UPDATE alerts_intakegeneration SET value = value + 1 WHERE id = 1")


def _bump_now() -> None:
    forget_known()
    move_counter()


def bump_generation(**_kwargs: Any) -> None:
    """A stored alert may have changed other than by a heartbeat: tell every process's intake memory.  Inside a
    transaction, the counter moves right after the commit (one statement, no lock held with the alerts; the caller
    gets its answer only after it); this process forgets at once."""
    forget_known()
    if connection.in_atomic_block:
        # once per transaction (a QuerySet.delete() signals every row); a rollback drops it with the others
        if not any(entry[1] is _bump_now for entry in connection.run_on_commit):
            transaction.on_commit(_bump_now)
    else:
        _bump_now()


post_save.connect(bump_generation, sender=Alert, dispatch_uid="alerts-known-save")
post_delete.connect(bump_generation, sender=Alert, dispatch_uid="alerts-known-delete")


class _Listening:
    """PostgreSQL: the connections this process listens on for moves of the counter, with whether one was seen
    since the counter was last read on it."""

    lock = threading.Lock()
    moved: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _current_generation(cursor: Any) -> int | None:
    """The generation the memory may be used at.  On PostgreSQL without a round trip while nothing moved: the
    connection listens for the counter's notifications (delivered when a mover commits, before the mover
    answers its caller) and the counter is read again only after one arrived or on a new connection.  Elsewhere
    (SQLite; inside a transaction, where a LISTEN would only start at the commit) it is read each time."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return _read_generation(cursor)
    raw = connection.connection
    with _Listening.lock:
        seen = _Listening.moved.get(raw)
    if seen is None:  # a new connection: listen first, then read, so no move falls in between
        ref = weakref.ref(raw)

        def moved(_notify: Any) -> None:
            target = ref()
            if target is not None:
                with _Listening.lock:
                    _Listening.moved[target] = True

        raw.add_notify_handler(moved)
        cursor.execute("LISTEN shanzhi_alerts_generation")
        seen = True
    else:
        pgconn = raw.pgconn
        with connection.wrap_database_errors:  # a broken connection is closed at the end of the request
            pgconn.consume_input()  # what arrived on the socket, without waiting
            while (notify := pgconn.notifies()) is not None:
                if pgconn.notify_handler:
                    pgconn.notify_handler(notify)
        with _Listening.lock:
            seen = bool(_Listening.moved.get(raw))
    if not seen and _Known.generation is not None:
        return _Known.generation
    with _Listening.lock:
        _Listening.moved[raw] = False
    return _read_generation(cursor)


def _read_generation(cursor: Any) -> int | None:
    cursor.execute("SELECT value FROM alerts_intakegeneration WHERE id = 1")
    row = cursor.fetchone()
    if row is None:  # a database made without the migration's first row
        IntakeGeneration.objects.get_or_create(pk=1, defaults={"value": 0})
        return None
    return int(row[0])


def _cursor() -> Any:
    """A cursor for the intake's statements.  On PostgreSQL one that binds parameters on the server: the batch's
    JSON goes as one parameter instead of being quoted into the SQL text by psycopg's client-side binding (Django's
    default), which cost more than the statement; it is still Django's cursor wrapper (query logging, wrappers)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg

    # Django's per-request health check (a SELECT 1 round trip) is not made here: after a database restart the
    # first batch fails with 500 and the connection is replaced; Alertmanager clients send it again.
    connection.ensure_connection()
    return connection._prepare_cursor(psycopg.Cursor(connection.connection))  # type: ignore[attr-defined]


def refresh(items: Sequence[AlertInput], *, now: dt.datetime) -> tuple[set[str], list[AlertInput]]:
    """Take the re-sends among ``items`` whose only change is ``endsAt`` (and an earlier ``startsAt``); return
    their fingerprints and the items left for :func:`upsert`.

    An item is a candidate when it is active and not from a rule.  A candidate this process saw stored, unchanged
    since (:class:`_Known`, checked against the generation counter: one small read), with exactly the same
    content, status, silences and inhibitions, whose new ``endsAt`` is later than the stored one by at most
    :func:`ends_at_slack` of the time left until it, is not written at all (ADR 0014).  The others are written
    with one statement, which writes an alert only when the stored alert is active and has the same annotations,
    generator URL, severity, region, group, source and subject, and the status, silences and inhibitions that the
    cached :class:`Suppression` gives it now — so the fast path never changes a status and never needs an audit
    row.  Everything it did not write goes to the full path.

    Outside a transaction, on PostgreSQL, the statement commits asynchronously (``synchronous_commit = off`` for
    this statement only): it does not wait for the WAL flush, which on a busy disk costs more than the write.  A
    database crash may then lose the last fraction of a second of ``endsAt`` refreshes — never a state change,
    those take the full path and commit synchronously — and the next re-send writes them again."""
    latest: dict[str, AlertInput] = {}
    for item in items:
        latest[item.fingerprint] = item
    candidates = [(fp, item) for fp, item in latest.items()
                  if item.labels and item.rule_id is None and item.ends_at is not None and item.ends_at > now]
    if not candidates:
        return set(), list(latest.values())
    candidates.sort(key=lambda pair: pair[0])
    suppression = cached_suppression(now)
    by = group_by()
    slack = ends_at_slack()
    done: set[str] = set()
    rows: list[tuple[Any, ...]] = []
    guards: dict[str, tuple[Any, ...]] = {}
    times: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    with _cursor() as cursor:
        generation = _current_generation(cursor) if slack > 0 else None
        with _Known.lock:
            if generation is None or _Known.generation != generation:
                _Known.entries = {}
                _Known.generation = generation
            known = _Known.entries
        for fp, item in candidates:
            status, silenced, inhibited = suppression.expected(fp, item.region_code, item.labels)
            guard = (item.annotations, item.generator_url, item.severity, item.region_code,
                     matchers.group_key(item.labels, by), item.source, item.subject, status, silenced, inhibited)
            ends = item.ends_at
            assert ends is not None
            entry = known.get(fp)
            if (entry is not None and entry[0] == guard and item.starts_at >= entry[1] and entry[2] <= ends
                    and (ends - entry[2]) <= (ends - now) * slack):
                done.add(fp)  # a heartbeat within the slack: the stored alert already says all of it
                continue
            guards[fp], times[fp] = guard, (item.starts_at, ends)
            rows.append((fp, item.starts_at, ends, *guard))
        if rows:
            written = _write_refresh(cursor, rows, now)
            done.update(written)
            if generation is not None and written:
                # remembered as the item says: the stored startsAt may be earlier (it only moves back), so the
                # memory errs towards writing
                learned = {fp: (guards[fp], *times[fp]) for fp in written}
                if connection.in_atomic_block:  # remembered only once it is really stored
                    transaction.on_commit(lambda: _remember(generation, learned))
                else:
                    _remember(generation, learned)
    return done, [item for fp, item in latest.items() if fp not in done]


def _remember(generation: int, learned: dict[str, tuple[tuple[Any, ...], dt.datetime, dt.datetime]]) -> None:
    with _Known.lock:
        if _Known.generation != generation:
            return
        if len(_Known.entries) + len(learned) > _Known.LIMIT:
            _Known.entries = {}
        _Known.entries.update(learned)


def _write_refresh(cursor: Any, rows: list[tuple[Any, ...]], now: dt.datetime) -> set[str]:
    """The refresh statement; return the written fingerprints."""
    if connection.vendor == "postgresql":
        # one JSON parameter: cheap to send, unlike arrays quoted element by element
        records = [dict(zip(_REFRESH_COLUMNS, row, strict=True)) for row in rows]
        relaxed = not connection.in_atomic_block
        sql = _REFRESH_PG.format(
            relaxed="c AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS v)," if relaxed
            else "", relaxed_from=", c" if relaxed else "")
        cursor.execute(sql, [orjson.dumps(records).decode(), now, now])
    else:
        ops = connection.ops
        params: list[Any] = []
        for row in rows:
            params.extend(ops.adapt_datetimefield_value(v) if j in (1, 2)
                          else json.dumps(v) if j in (3, 11, 12) else v  # as Django stores JSON there
                          for j, v in enumerate(row))
        values = ", ".join(["(" + ", ".join(["%s"] * 13) + ")"] * len(rows))
        cursor.execute(_REFRESH_SQLITE.format(rows=values), [*params, ops.adapt_datetimefield_value(now),
                                                             ops.adapt_datetimefield_value(now)])
    return {row[0] for row in cursor.fetchall()}
