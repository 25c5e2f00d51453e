"""``POST /api/v2/alerts``: re-sends that only move ``endsAt`` take the one-statement fast path, without an audit
row; everything else (new, resolved, reopened, status or content changed) takes the full path and is audited."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from shanzhi.alerts import handling, services
from shanzhi.alerts.models import Alert, AlertStatus, InhibitRule
from shanzhi.core.models import AuditEntry
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db
V1 = "330902008201"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    handling.invalidate_suppression()
    handling.forget_known()
    yield
    handling.invalidate_suppression()
    handling.forget_known()


@pytest.fixture
def token(tree: factories.Tree) -> str:
    return factories.make_token(factories.make_user("town_admin", tree.town_a1a))


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def alert(name: str, ends: dt.datetime, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"labels": {"alertname": name, "region": V1, "severity": "critical"},
                            "annotations": {"summary": f"{name} 水位超限"},
                            "startsAt": iso(ends - dt.timedelta(hours=1)), "endsAt": iso(ends),
                            "generatorURL": "http://prom/graph"}
    body.update(extra)
    return body


def post(token: str, alerts: list[dict[str, Any]]) -> Any:
    answer = Client().post("/api/v2/alerts", data=json.dumps(alerts), content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.content
    return answer


def ingests() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="alerts.alert.ingest").order_by("seq"))


def test_refresh_moves_ends_at_without_audit(token: str) -> None:
    t = timezone.now() + dt.timedelta(minutes=5)
    post(token, [alert("HighWater", t), alert("Smoke", t)])
    [created] = ingests()
    assert created.after is not None and created.after["created"]["count"] == 2
    later = t + dt.timedelta(minutes=1)
    post(token, [alert("HighWater", later), alert("Smoke", later)])
    assert len(ingests()) == 1  # a heartbeat, not a change
    assert set(Alert.objects.values_list("ends_at", flat=True)) == {later}
    assert Alert.objects.count() == 2 and set(Alert.objects.values_list("status", flat=True)) == {"firing"}


def test_refresh_takes_two_statements(token: str, django_assert_max_num_queries: Any, settings: Any) -> None:
    settings.SHANZHI_MEMO_SECONDS = 5  # the token is remembered, as in production (core.memo)
    settings.SHANZHI_ALERTS_ENDS_AT_SLACK = 0  # every re-send written
    t = timezone.now() + dt.timedelta(minutes=5)
    post(token, [alert(f"A{i}", t) for i in range(40)])
    post(token, [alert(f"A{i}", t + dt.timedelta(seconds=1)) for i in range(40)])  # token and cache warm
    with django_assert_max_num_queries(1):  # without the slack, no generation is read
        post(token, [alert(f"A{i}", t + dt.timedelta(seconds=2)) for i in range(40)])
    assert set(Alert.objects.values_list("ends_at", flat=True)) == {t + dt.timedelta(seconds=2)}
    settings.SHANZHI_ALERTS_ENDS_AT_SLACK = 0.125
    with django_assert_max_num_queries(2):  # the generation, the refresh
        post(token, [alert(f"A{i}", t + dt.timedelta(seconds=3)) for i in range(40)])
    assert set(Alert.objects.values_list("ends_at", flat=True)) == {t + dt.timedelta(seconds=3)}


# --- heartbeats within the slack (ADR 0014): these run outside a test transaction, as in production, since the
# intake remembers only what is committed
def _ends(fp: str) -> dt.datetime | None:
    return Alert.objects.get(fingerprint=fp).ends_at


def _fp(name: str) -> str:
    return services.parse_postable([alert(name, timezone.now() + dt.timedelta(minutes=5))],
                                   now=timezone.now())[0].fingerprint


@pytest.mark.django_db(transaction=True)
def test_heartbeat_within_the_slack_is_not_written(tree: factories.Tree, django_assert_max_num_queries: Any,
                                                   settings: Any) -> None:
    settings.SHANZHI_MEMO_SECONDS = 5  # the token is remembered, as in production (core.memo)
    token = factories.make_token(factories.make_user("town_admin", tree.town_a1a))
    t = timezone.now() + dt.timedelta(minutes=40)
    post(token, [alert("A", t), alert("B", t)])  # created (full path)
    post(token, [alert("A", t + dt.timedelta(seconds=1)), alert("B", t + dt.timedelta(seconds=1))])  # learned
    assert _ends(_fp("A")) == t + dt.timedelta(seconds=1)
    with django_assert_max_num_queries(1):  # only the generation is read
        post(token, [alert("A", t + dt.timedelta(seconds=30)), alert("B", t + dt.timedelta(seconds=30))])
    assert _ends(_fp("A")) == t + dt.timedelta(seconds=1)  # within 1/8 of the 40 minutes left: not written
    post(token, [alert("A", t + dt.timedelta(minutes=6)), alert("B", t + dt.timedelta(seconds=40))])
    assert _ends(_fp("A")) == t + dt.timedelta(minutes=6)  # beyond the slack: written
    assert _ends(_fp("B")) == t + dt.timedelta(seconds=1)
    post(token, [alert("B", t)])  # an earlier endsAt is always written (full path, no audit row: not a change)
    assert _ends(_fp("B")) == t
    assert [e.after and list(e.after) for e in ingests()] == [["created"]]


@pytest.mark.django_db(transaction=True)
def test_a_change_by_another_process_ends_the_memory(tree: factories.Tree) -> None:
    token = factories.make_token(factories.make_user("town_admin", tree.town_a1a))
    t = timezone.now() + dt.timedelta(minutes=40)
    post(token, [alert("A", t)])
    post(token, [alert("A", t + dt.timedelta(seconds=1))])  # learned
    # another process resolves it: its full path moves the generation (this process's memory is not told)
    Alert.objects.filter(fingerprint=_fp("A")).update(status=AlertStatus.RESOLVED,
                                                      ends_at=timezone.now() - dt.timedelta(seconds=1))
    handling.move_counter()
    post(token, [alert("A", t + dt.timedelta(seconds=2))])  # within the slack, but the memory is no longer valid
    stored = Alert.objects.get()
    assert stored.status == AlertStatus.FIRING and stored.ends_at == t + dt.timedelta(seconds=2)
    assert list(ingests()[-1].after or {}) == ["reopened"]


@pytest.mark.django_db(transaction=True)
def test_changes_in_this_process_end_the_memory(tree: factories.Tree) -> None:
    token = factories.make_token(factories.make_user("town_admin", tree.town_a1a))
    t = timezone.now() + dt.timedelta(minutes=40)
    post(token, [alert("A", t)])
    post(token, [alert("A", t + dt.timedelta(seconds=1))])  # learned
    post(token, [alert("A", timezone.now() - dt.timedelta(seconds=1))])  # resolved (full path)
    post(token, [alert("A", t + dt.timedelta(seconds=2))])
    assert Alert.objects.get().status == AlertStatus.FIRING
    post(token, [alert("A", t + dt.timedelta(seconds=3))])  # learned again
    post(token, [alert("A", t + dt.timedelta(seconds=4), annotations={"summary": "new"})])  # content: not skipped
    assert Alert.objects.get().annotations == {"summary": "new"}
    post(token, [alert("A", t + dt.timedelta(seconds=5), annotations={"summary": "new"})])  # learned
    desk = factories.make_user("dispatcher", V1)
    services.alert_acknowledge(actor=desk, alert_id=Alert.objects.get().pk, comment="seen")  # a save
    assert handling._Known.entries == {}
    post(token, [alert("A", t + dt.timedelta(seconds=6), annotations={"summary": "new"})])
    stored = Alert.objects.get()
    assert stored.status == AlertStatus.ACKNOWLEDGED and stored.ends_at == t + dt.timedelta(seconds=6)
    assert [list(e.after or {}) for e in ingests()] == [["created"], ["resolved"], ["reopened"], ["content"]]


@pytest.mark.django_db(transaction=True)
def test_a_silence_is_never_skipped_over(tree: factories.Tree) -> None:
    token = factories.make_token(factories.make_user("town_admin", tree.town_a1a))
    t = timezone.now() + dt.timedelta(minutes=40)
    post(token, [alert("Smoke", t)])
    post(token, [alert("Smoke", t + dt.timedelta(seconds=1))])  # learned
    answer = Client().post("/api/v2/silences", data=json.dumps({
        "matchers": [{"name": "alertname", "value": "Smoke", "isRegex": False}, {"name": "region", "value": V1}],
        "startsAt": iso(timezone.now()), "endsAt": iso(t + dt.timedelta(hours=1)), "comment": "drill",
        "createdBy": "test"}), content_type="application/json", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.content
    post(token, [alert("Smoke", t + dt.timedelta(seconds=2))])
    stored = Alert.objects.get()
    assert stored.status == AlertStatus.SILENCED and stored.ends_at == t + dt.timedelta(seconds=2)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_refresh_is_not_remembered(tree: factories.Tree) -> None:
    user = factories.make_user("town_admin", tree.town_a1a)
    t = timezone.now() + dt.timedelta(minutes=40)
    services.ingest_external(actor=user, body=[alert("A", t)])
    with pytest.raises(RuntimeError), transaction.atomic():
        services.ingest_external(actor=user, body=[alert("A", t + dt.timedelta(seconds=1))])
        raise RuntimeError
    assert handling._Known.entries == {}
    services.ingest_external(actor=user, body=[alert("A", t + dt.timedelta(seconds=2))])
    assert _ends(_fp("A")) == t + dt.timedelta(seconds=2)


@pytest.mark.django_db(transaction=True)
def test_a_deleted_alert_is_created_again(tree: factories.Tree) -> None:
    token = factories.make_token(factories.make_user("town_admin", tree.town_a1a))
    t = timezone.now() + dt.timedelta(minutes=40)
    post(token, [alert("A", t)])
    post(token, [alert("A", t + dt.timedelta(seconds=1))])  # learned
    Alert.objects.all().delete()
    post(token, [alert("A", t + dt.timedelta(seconds=2))])
    assert _ends(_fp("A")) == t + dt.timedelta(seconds=2)


def test_fast_path_reports_what_it_wrote(tree: factories.Tree) -> None:
    now = timezone.now()
    items = services.parse_postable([alert("A", now + dt.timedelta(minutes=5)),
                                     alert("B", now + dt.timedelta(minutes=5))], now=now)
    assert handling.refresh(items, now=now) == (set(), items)  # nothing stored yet
    handling.upsert(items[:1], now=now)
    done, rest = handling.refresh(items, now=now)
    assert done == {items[0].fingerprint} and rest == items[1:]


def test_changes_take_the_full_path_and_are_audited(token: str) -> None:
    t = timezone.now() + dt.timedelta(minutes=5)
    post(token, [alert("HighWater", t)])
    post(token, [alert("HighWater", t, annotations={"summary": "changed"})])
    assert Alert.objects.get().annotations == {"summary": "changed"}
    assert ingests()[-1].after == {"content": {"count": 1, "fingerprints": [Alert.objects.get().fingerprint]}}
    post(token, [alert("HighWater", timezone.now() - dt.timedelta(seconds=1))])  # resolved
    assert Alert.objects.get().status == AlertStatus.RESOLVED
    assert list(ingests()[-1].after or {}) == ["resolved"]
    post(token, [alert("HighWater", t + dt.timedelta(minutes=1))])  # fires again
    assert Alert.objects.get().status == AlertStatus.FIRING
    assert list(ingests()[-1].after or {}) == ["reopened"]
    assert len(ingests()) == 4


def test_acknowledged_alert_stays_acknowledged_when_refreshed(token: str, tree: factories.Tree) -> None:
    t = timezone.now() + dt.timedelta(minutes=5)
    post(token, [alert("Smoke", t)])
    desk = factories.make_user("dispatcher", V1)
    services.alert_acknowledge(actor=desk, alert_id=Alert.objects.get().pk, comment="on my way")
    post(token, [alert("Smoke", t + dt.timedelta(minutes=1))])
    stored = Alert.objects.get()
    assert stored.status == AlertStatus.ACKNOWLEDGED and stored.ends_at == t + dt.timedelta(minutes=1)
    assert len(ingests()) == 1


def test_silence_applies_to_refreshes_even_with_a_stale_cache(token: str, monkeypatch: Any) -> None:
    t = timezone.now() + dt.timedelta(minutes=5)
    post(token, [alert("Smoke", t)])
    stale = handling.cached_suppression(timezone.now())  # no silence in it
    answer = Client().post("/api/v2/silences", data=json.dumps({
        "matchers": [{"name": "alertname", "value": "Smoke", "isRegex": False}, {"name": "region", "value": V1}],
        "startsAt": iso(timezone.now()), "endsAt": iso(t + dt.timedelta(hours=1)), "comment": "drill",
        "createdBy": "test"}), content_type="application/json", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.content
    assert Alert.objects.get().status == AlertStatus.SILENCED
    # another process's cache would not know the silence yet: the guard sends the alert to the full path
    monkeypatch.setattr(handling, "cached_suppression", lambda now: stale)
    post(token, [alert("Smoke", t + dt.timedelta(minutes=1))])
    stored = Alert.objects.get()
    assert stored.status == AlertStatus.SILENCED and stored.ends_at == t + dt.timedelta(minutes=1)
    monkeypatch.undo()
    post(token, [alert("Smoke", t + dt.timedelta(minutes=2))])
    assert Alert.objects.get().status == AlertStatus.SILENCED


def test_inhibition_follows_its_source(token: str) -> None:
    InhibitRule.objects.create(name="typhoon", equal=["town"],
                               source_matchers=[{"name": "alertname", "value": "TownTyphoon"}],
                               target_matchers=[{"name": "alertname", "value": "VesselWeather"}])
    t = timezone.now() + dt.timedelta(minutes=5)
    vessel = alert("VesselWeather", t)
    vessel["labels"]["town"] = "T1"
    typhoon = alert("TownTyphoon", t)
    typhoon["labels"]["town"] = "T1"
    post(token, [vessel])
    post(token, [typhoon])
    assert Alert.objects.get(labels__alertname="VesselWeather").status == AlertStatus.INHIBITED
    vessel["endsAt"] = iso(t + dt.timedelta(minutes=1))
    post(token, [vessel])  # refresh keeps the inhibition
    assert Alert.objects.get(labels__alertname="VesselWeather").status == AlertStatus.INHIBITED
    typhoon["endsAt"] = iso(timezone.now() - dt.timedelta(seconds=1))
    post(token, [typhoon])
    assert Alert.objects.get(labels__alertname="VesselWeather").status == AlertStatus.FIRING
    vessel["endsAt"] = iso(t + dt.timedelta(minutes=2))
    post(token, [vessel])
    assert Alert.objects.get(labels__alertname="VesselWeather").status == AlertStatus.FIRING


def test_revoked_token_is_refused_at_once(token: str) -> None:
    t = timezone.now() + dt.timedelta(minutes=5)
    post(token, [alert("Smoke", t)])
    from shanzhi.accounts.models import ApiToken

    row = ApiToken.objects.get()
    row.revoked_at = timezone.now()
    row.save()
    answer = Client().post("/api/v2/alerts", data=json.dumps([alert("Smoke", t)]), content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_fast_path_outside_a_transaction(tree: factories.Tree) -> None:
    """As in production: the refresh statement runs on its own (asynchronous commit on PostgreSQL)."""
    user = factories.make_user("town_admin", tree.town_a1a)
    now = timezone.now()
    first = services.parse_postable([alert("A", now + dt.timedelta(minutes=5))], now=now)
    services.ingest_external(actor=user, body=[alert("A", now + dt.timedelta(minutes=5))])
    later = now + dt.timedelta(minutes=6)
    done, rest = handling.refresh(services.parse_postable([alert("A", later)], now=now), now=now)
    assert done == {first[0].fingerprint} and not rest
    assert Alert.objects.get().ends_at == later


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_move_by_another_connection_is_heard(tree: factories.Tree, django_assert_max_num_queries: Any,
                                               settings: Any) -> None:
    """PostgreSQL: while nothing moves, the intake reads nothing but the batch; another process's move arrives as a
    notification on the listening connection."""
    import psycopg
    from django.db import connection

    settings.SHANZHI_MEMO_SECONDS = 5  # the token is remembered, as in production (core.memo)

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    token = factories.make_token(factories.make_user("town_admin", tree.town_a1a))
    t = timezone.now() + dt.timedelta(minutes=40)
    post(token, [alert("A", t)])
    post(token, [alert("A", t + dt.timedelta(seconds=1))])  # learned (and listening)
    with django_assert_max_num_queries(0):
        post(token, [alert("A", t + dt.timedelta(seconds=2))])
    Alert.objects.filter(fingerprint=_fp("A")).update(status=AlertStatus.RESOLVED,
                                                      ends_at=timezone.now() - dt.timedelta(seconds=1))
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("WITH u AS (UPDATE alerts_intakegeneration SET value = value + 1 WHERE id = 1 "
                      "RETURNING value) SELECT pg_notify('shanzhi_alerts_generation', value::text) FROM u")
    post(token, [alert("A", t + dt.timedelta(seconds=3))])
    assert Alert.objects.get().status == AlertStatus.FIRING
    assert list(ingests()[-1].after or {}) == ["reopened"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lost_connection_fails_one_batch_then_recovers(tree: factories.Tree) -> None:
    import psycopg
    from django.db import close_old_connections, connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    token = factories.make_token(factories.make_user("town_admin", tree.town_a1a))
    t = timezone.now() + dt.timedelta(minutes=40)
    post(token, [alert("A", t)])
    post(token, [alert("A", t + dt.timedelta(seconds=1))])  # learned, listening
    pid = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    client = Client(raise_request_exception=False)
    statuses = []
    for ends in (t + dt.timedelta(seconds=2), t + dt.timedelta(minutes=10), t + dt.timedelta(minutes=10)):
        answer = client.post("/api/v2/alerts", data=json.dumps([alert("A", ends)]),
                             content_type="application/json", headers={"Authorization": f"Bearer {token}"})
        statuses.append(answer.status_code)
        close_old_connections()  # what the server does after each request (the test client does not)
    # the batch that meets the lost connection fails (the sender sends it again), the next ones get a new one
    assert statuses.count(500) == 1 and statuses[-1] == 200, statuses
    assert _ends(_fp("A")) == t + dt.timedelta(minutes=10)


def test_a_transaction_moves_the_counter_once(token: str, django_capture_on_commit_callbacks: Any) -> None:
    t = timezone.now() + dt.timedelta(minutes=5)
    post(token, [alert(f"A{i}", t) for i in range(5)])
    with django_capture_on_commit_callbacks() as callbacks:
        Alert.objects.all().delete()  # one signal per alert
    assert len(callbacks) == 1
