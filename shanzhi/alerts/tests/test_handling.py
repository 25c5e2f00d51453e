"""Grouping and notification, escalation, weather signals, event counts, acknowledgement and conversion."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from shanzhi.alerts import services, tasks
from shanzhi.alerts.handling import AlertInput, recompute, upsert
from shanzhi.alerts.models import Alert, AlertRule, AlertStatus, InhibitRule, NotificationGroup
from shanzhi.core.errors import Conflict, NotFound, ValidationFailed
from shanzhi.core.models import AuditEntry
from shanzhi.events.models import Event, Notification
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db
V1 = "330902008201"
V2 = "330902008202"
TOWN = "330902008000"


def fire(name: str, region: str = V1, now: dt.datetime | None = None, **labels: str) -> Alert:
    now = now or timezone.now()
    upsert([AlertInput(labels={"alertname": name, "region": region, **labels}, region_code=region, starts_at=now,
                       annotations={"summary": f"{name}!"}, severity=labels.get("severity", "warning"))], now=now)
    return Alert.objects.get(labels__alertname=name, region_code=region, **{
        f"labels__{k}": v for k, v in labels.items()})


def test_group_wait_interval_and_repeat(tree: factories.Tree, settings: Any) -> None:
    settings.SHANZHI_ALERTS_GROUP_WAIT = 30
    settings.SHANZHI_ALERTS_GROUP_INTERVAL = 300
    settings.SHANZHI_ALERTS_REPEAT_INTERVAL = 3600
    desk = factories.make_user("dispatcher", V1)
    t0 = timezone.now()
    fire("HighWater", now=t0, device_id="a")
    fire("HighWater", now=t0, device_id="b")
    assert tasks.notify(t0 + dt.timedelta(seconds=10)).groups_sent == 0  # group_wait
    sent = tasks.notify(t0 + dt.timedelta(seconds=31))
    assert sent.groups_sent == 1 and sent.notifications == 1
    note = Notification.objects.get(user=desk)
    assert note.kind == "alert_group" and "HighWater" in note.text and "2" in note.text
    fire("HighWater", now=t0, device_id="c")  # same group, new alert
    assert tasks.notify(t0 + dt.timedelta(seconds=100)).groups_sent == 0  # group_interval not over
    assert tasks.notify(t0 + dt.timedelta(seconds=332)).groups_sent == 1
    assert tasks.notify(t0 + dt.timedelta(seconds=1000)).groups_sent == 0  # nothing new, repeat not due
    assert tasks.notify(t0 + dt.timedelta(seconds=332 + 3600)).groups_sent == 1  # repeat_interval
    assert Notification.objects.filter(user=desk).count() == 3


def test_silenced_alerts_are_not_notified_and_resolved_groups_say_so(tree: factories.Tree) -> None:
    factories.make_user("dispatcher", V1)
    t0 = timezone.now()
    alert = fire("Smoke", now=t0)
    tasks.notify(t0 + dt.timedelta(minutes=1))
    assert Notification.objects.filter(kind="alert_group").count() == 1
    Alert.objects.filter(pk=alert.pk).update(ends_at=t0 + dt.timedelta(minutes=2))
    recompute(now=t0 + dt.timedelta(minutes=3))
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.RESOLVED
    tasks.notify(t0 + dt.timedelta(minutes=10))
    assert Notification.objects.filter(kind="alert_group_resolved").count() == 1
    assert not NotificationGroup.objects.exists()


def test_notification_goes_up_to_the_first_centre_with_dispatchers(tree: factories.Tree) -> None:
    town_desk = factories.make_user("dispatcher", TOWN)
    t0 = timezone.now()
    fire("Fall", now=t0)
    tasks.notify(t0 + dt.timedelta(minutes=5))
    assert Notification.objects.get().user == town_desk


def test_escalation_when_not_acknowledged(tree: factories.Tree, settings: Any) -> None:
    settings.SHANZHI_ALERT_ACK_MINUTES = 10
    village_desk = factories.make_user("dispatcher", V1)
    town_desk = factories.make_user("dispatcher", TOWN)
    county_desk = factories.make_user("dispatcher", tree.county_a1)
    t0 = timezone.now()
    alert = fire("Fall", now=t0)
    acked = fire("Fall2", now=t0)
    services.alert_acknowledge(actor=village_desk, alert_id=acked.pk, comment="on my way")
    assert tasks.escalate_unacknowledged(t0 + dt.timedelta(minutes=5)) == 0
    assert tasks.escalate_unacknowledged(t0 + dt.timedelta(minutes=11)) == 1
    alert.refresh_from_db()
    assert alert.escalated_level == 1 and alert.escalation_count == 1
    assert Notification.objects.get(kind="alert_escalated").user == town_desk
    assert tasks.escalate_unacknowledged(t0 + dt.timedelta(minutes=15)) == 0  # the town's clock starts now
    assert tasks.escalate_unacknowledged(t0 + dt.timedelta(minutes=22)) == 1
    assert Notification.objects.filter(kind="alert_escalated", user=county_desk).count() == 1
    assert AuditEntry.objects.filter(action="alerts.alert.escalate").count() == 2


def test_acknowledge_and_errors(tree: factories.Tree) -> None:
    desk = factories.make_user("dispatcher", V1)
    other = factories.make_user("dispatcher", V2)
    alert = fire("Smoke")
    with pytest.raises(NotFound):
        services.alert_acknowledge(actor=other, alert_id=alert.pk, comment="")
    with pytest.raises(ValidationFailed):
        services.alert_acknowledge(actor=desk, alert_id=alert.pk, comment="x" * 501)
    services.alert_acknowledge(actor=desk, alert_id=alert.pk, comment="已处置")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.ack_comment == "已处置"
    with pytest.raises(Conflict):
        services.alert_acknowledge(actor=desk, alert_id=alert.pk, comment="")
    assert AuditEntry.objects.filter(action="alerts.alert.acknowledge").count() == 1


def test_alert_to_event_links_both_ways(tree: factories.Tree) -> None:
    desk = factories.make_user("dispatcher", V1)
    alert = fire("Smoke", lat="30.1", lng="122.2", grid=str(tree.grids[V1].pk))
    event = services.alert_to_event(alert, desk, "exposed_garbage")
    assert event.source == "early_warning" and event.alert_ref == alert.fingerprint
    assert event.grid_id == tree.grids[V1].pk and event.lat == 30.1
    alert.refresh_from_db()
    assert alert.event_id == event.pk and alert.status == AlertStatus.ACKNOWLEDGED
    with pytest.raises(Conflict):
        services.alert_to_event(alert, desk, "exposed_garbage")
    other = fire("Other")
    with pytest.raises(ValidationFailed):
        services.alert_to_event(other, desk, "no-such-category")
    assert Event.objects.count() == 1 and Alert.objects.get(pk=other.pk).event_id is None


def test_weather_signal_fires_for_vessels_and_grids_and_inhibits(tree: factories.Tree) -> None:
    admin = factories.make_user("town_admin", TOWN)
    AlertRule.objects.create(name="typhoon-town", kind="weather", region_prefix="3309",
                             parameters={"kind": "typhoon", "min_level": "blue", "targets": ["region"]})
    AlertRule.objects.create(name="typhoon-grid", kind="weather", region_prefix="3309",
                             parameters={"kind": "typhoon", "min_level": "yellow", "targets": ["grids"]})
    InhibitRule.objects.create(
        name="town-over-grid", equal=["town"],
        source_matchers=[{"name": "alertname", "value": "typhoon-town", "isRegex": False}],
        target_matchers=[{"name": "alertname", "value": "typhoon-grid", "isRegex": False}])
    services.weather_signal_set(actor=admin, region_code=TOWN, level="blue")
    now = timezone.now()
    tasks.evaluate_periodic(now)
    assert list(Alert.objects.values_list("labels__alertname", flat=True)) == ["typhoon-town"]
    services.weather_signal_set(actor=admin, region_code=TOWN, level="orange")
    tasks.evaluate_periodic(now)
    grid_alerts = Alert.objects.filter(labels__alertname="typhoon-grid", ends_at__isnull=True)
    assert grid_alerts.count() == 2  # the two village grids of the town
    assert all(a.status == AlertStatus.INHIBITED and a.severity == "critical" for a in grid_alerts)
    services.weather_signal_set(actor=admin, region_code=TOWN, level="")
    tasks.evaluate_periodic(now + dt.timedelta(seconds=1))
    assert not Alert.objects.exclude(status=AlertStatus.RESOLVED).exists()
    with pytest.raises(NotFound):
        services.weather_signal_set(actor=admin, region_code=tree.town_a1b, level="red")
    with pytest.raises(ValidationFailed):
        services.weather_signal_set(actor=admin, region_code=TOWN, level="purple")


def test_event_count_rule(tree: factories.Tree) -> None:
    from shanzhi.events.services import Intake, event_create

    AlertRule.objects.create(name="garbage-cluster", kind="count_window", region_prefix="3309",
                             parameters={"source": "event", "categories": ["exposed_garbage"], "count": 3,
                                         "window_seconds": 86400, "per": "grid"},
                             annotations={"summary": "{count} reports in one grid"})
    worker = factories.make_user("grid_worker", V1)
    grid = tree.grids[V1]
    for i in range(3):
        event_create(actor=worker, data=Intake(title=f"垃圾 {i}", category="exposed_garbage", grid_id=grid.pk))
        tasks.evaluate_periodic(timezone.now())
    alert = Alert.objects.get()
    assert alert.labels["grid"] == str(grid.pk) and alert.annotations["summary"] == "3 reports in one grid"


def test_event_count_window_follows_arrivals_and_departures(tree: factories.Tree, settings: Any,
                                                            django_assert_max_num_queries: Any) -> None:
    """Between full counts a tick reads only the events created since the last one and those that left the
    window; a full count every SHANZHI_ALERTS_COUNT_RECOUNT_SECONDS corrects what increments cannot see."""
    import datetime as dt

    from shanzhi.events.models import Event
    from shanzhi.events.services import Intake, event_create

    rule = AlertRule.objects.create(name="garbage-cluster", kind="count_window", region_prefix="3309",
                                    parameters={"source": "event", "categories": ["exposed_garbage"], "count": 2,
                                                "window_seconds": 3600, "per": "grid"},
                                    annotations={"summary": "{count} reports"})
    worker = factories.make_user("grid_worker", V1)
    grid = tree.grids[V1]

    def report(minutes_ago: float) -> Event:
        event, _created = event_create(actor=worker, data=Intake(title="垃圾", category="exposed_garbage",
                                                                 grid_id=grid.pk))
        Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - dt.timedelta(minutes=minutes_ago))
        return event

    def firing() -> list[str]:
        return [a.annotations["summary"] for a in Alert.objects.filter(rule=rule)
                .exclude(status=AlertStatus.RESOLVED)]

    now = timezone.now()
    report(50)
    tasks.evaluate_periodic(now)  # full count: 1
    assert firing() == []
    report(0.5)
    with django_assert_max_num_queries(20) as captured:
        tasks.evaluate_periodic(now + dt.timedelta(minutes=1))  # arrival: 2
    assert not [q for q in captured.captured_queries if "COUNT(" in q["sql"].upper() and "events_event" in q["sql"]]
    assert firing() == ["2 reports"]
    tasks.evaluate_periodic(now + dt.timedelta(minutes=2))  # nothing new: still 2 (the overlap is not counted twice)
    assert firing() == ["2 reports"]
    tasks.evaluate_periodic(now + dt.timedelta(minutes=11))  # the first report left the window: 1
    assert firing() == []
    late = report(0)
    late.delete()  # a change the increments do not see ...
    report(0)
    tasks.evaluate_periodic(now + dt.timedelta(minutes=12))
    settings.SHANZHI_ALERTS_COUNT_RECOUNT_SECONDS = 0  # ... until the next full count
    tasks.evaluate_periodic(now + dt.timedelta(minutes=13))
    assert firing() == ["2 reports"]


def test_tick_command(tree: factories.Tree, capsys: Any) -> None:
    fire("Smoke")
    call_command("alerts", "tick")
    assert "alerts tick:" in capsys.readouterr().out


def test_rule_update_validates(tree: factories.Tree) -> None:
    admin = factories.make_user("county_admin", tree.county_a1)
    rule = AlertRule.objects.create(name="w", kind="threshold", region_prefix=V1,
                                    parameters={"metric": "water_level", "op": ">", "value": 3})
    with pytest.raises(ValidationFailed) as info:
        services.rule_update(actor=admin, rule_id=rule.pk, parameters={"metric": "water_level", "op": "?",
                                                                       "value": 3})
    assert info.value.detail == {"op": "one of ['!=', '<', '<=', '==', '>', '>=']"}
    services.rule_update(actor=admin, rule_id=rule.pk, enabled=False)
    assert not AlertRule.objects.get().enabled
    village = factories.make_user("village_admin", V2)
    with pytest.raises(NotFound):
        services.rule_update(actor=village, rule_id=rule.pk, enabled=True)
