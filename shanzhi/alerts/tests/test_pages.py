"""Pages: the wall and its htmx partial, list filters and query counts, detail actions, silences, rules, map."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shanzhi.alerts.handling import AlertInput, upsert
from shanzhi.alerts.models import Alert, AlertRule, AlertStatus, Silence, WeatherSignal
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db
V1 = "330902008201"


def fire(name: str, severity: str = "warning", **labels: str) -> Alert:
    now = timezone.now()
    upsert([AlertInput(labels={"alertname": name, "region": V1, **labels}, region_code=V1, starts_at=now,
                       severity=severity, annotations={"summary": f"{name} summary"})], now=now)
    return Alert.objects.get(labels__alertname=name)


@pytest.fixture
def desk(tree: factories.Tree) -> Client:
    client = Client()
    client.force_login(factories.make_user("dispatcher", V1))
    return client


@pytest.fixture
def admin(tree: factories.Tree) -> Client:
    client = Client()
    client.force_login(factories.make_user("town_admin", tree.town_a1a))
    return client


def test_wall_and_partial(desk: Client, django_assert_max_num_queries: Any) -> None:
    for i in range(20):
        fire(f"Alert{i}", severity="critical" if i % 2 else "info")
    page = desk.get(reverse("alerts:wall"))
    html = page.content.decode()
    assert page.status_code == 200 and 'hx-trigger="every 5s"' in html and "wall.js" in html
    assert html.index("Alert19") < html.index("Alert18")  # critical before info
    with django_assert_max_num_queries(8):
        partial = desk.get(reverse("alerts:wall_items"))
    assert partial.status_code == 200 and "<html" not in partial.content.decode()
    assert partial.content.decode().count('class="alert-tile') == 20


def test_list_filters_and_query_count(desk: Client, django_assert_max_num_queries: Any) -> None:
    for i in range(30):
        fire(f"Row{i}", severity="critical" if i < 5 else "warning")
    with django_assert_max_num_queries(9):
        assert desk.get(reverse("alerts:list")).content.decode().count("Row") == 60  # name and summary
    with django_assert_max_num_queries(9):
        page = desk.get(reverse("alerts:list"), {"severity": "critical"})
    html = page.content.decode()
    assert html.count("Row") == 10
    assert "Row7" in desk.get(reverse("alerts:list"), {"q": "Row7"}).content.decode()
    assert desk.get(reverse("alerts:list"), {"region": "33020"}).status_code == 404  # not a division code
    assert desk.get(reverse("alerts:list"), {"region": "330203001201"}).status_code == 404  # out of scope


def test_detail_acknowledge_silence_convert(desk: Client) -> None:
    alert = fire("Smoke", lat="30.1", lng="122.1")
    detail = desk.get(reverse("alerts:detail", args=[alert.pk]))
    assert detail.status_code == 200 and "exposed_garbage" in detail.content.decode()
    desk.post(reverse("alerts:acknowledge", args=[alert.pk]), {"comment": "看到了"})
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.ACKNOWLEDGED
    answer = desk.post(reverse("alerts:silence_alert", args=[alert.pk]), {"hours": "abc", "comment": "x"})
    assert answer.status_code == 302 and not Silence.objects.exists()
    desk.post(reverse("alerts:silence_alert", args=[alert.pk]), {"hours": "1", "comment": "维修"})
    assert Alert.objects.get(pk=alert.pk).status == AlertStatus.SILENCED
    desk.post(reverse("alerts:convert", args=[alert.pk]), {"category": "exposed_garbage"})
    assert Alert.objects.get(pk=alert.pk).event is not None
    assert desk.post(reverse("alerts:acknowledge", args=[999999])).status_code == 404


def test_auditor_sees_but_cannot_handle(tree: factories.Tree) -> None:
    client = Client()
    client.force_login(factories.make_user("auditor", V1))
    alert = fire("Smoke")
    assert client.get(reverse("alerts:wall")).status_code == 200
    assert "Acknowledge" not in client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert client.post(reverse("alerts:acknowledge", args=[alert.pk])).status_code == 404
    assert Alert.objects.get(pk=alert.pk).acknowledged_at is None


def test_silence_pages(desk: Client) -> None:
    fire("HighWater")
    assert desk.get(reverse("alerts:silence_new")).status_code == 200
    bad = desk.post(reverse("alerts:silence_new"), {"matchers": "alertname", "hours": "1", "comment": "c"})
    assert bad.status_code == 400 and not Silence.objects.exists()
    bad = desk.post(reverse("alerts:silence_new"), {"matchers": 'alertname="HighWater"', "hours": "1",
                                                    "comment": ""})
    assert bad.status_code == 400 and not Silence.objects.exists()
    ok = desk.post(reverse("alerts:silence_new"), {"matchers": 'alertname="HighWater"', "hours": "1",
                                                   "comment": "检修", "region": V1})
    assert ok.status_code == 302
    silence = Silence.objects.get()
    assert "检修" in desk.get(reverse("alerts:silences")).content.decode()
    desk.post(reverse("alerts:silence_expire", args=[silence.pk]))
    assert Silence.objects.get().ends_at <= timezone.now()
    assert Alert.objects.get().status == AlertStatus.FIRING


def test_rule_pages(admin: Client) -> None:
    rule = AlertRule.objects.create(name="water", kind="threshold", region_prefix=V1,
                                    parameters={"metric": "water_level", "op": ">", "value": 3})
    assert "water" in admin.get(reverse("alerts:rules")).content.decode()
    bad = admin.post(reverse("alerts:rule_edit", args=[rule.pk]), {"parameters": "{not json", "for_seconds": "0",
                                                                   "severity": "warning"})
    assert bad.status_code == 400
    bad = admin.post(reverse("alerts:rule_edit", args=[rule.pk]), {"parameters": '{"metric": "w", "value": "x"}',
                                                                   "for_seconds": "0", "severity": "warning"})
    assert bad.status_code == 400 and "value" in bad.content.decode()
    bad = admin.post(reverse("alerts:rule_edit", args=[rule.pk]), {"parameters": "{}", "for_seconds": "-1",
                                                                   "severity": "warning"})
    assert bad.status_code == 400
    assert AlertRule.objects.get().parameters["value"] == 3
    ok = admin.post(reverse("alerts:rule_edit", args=[rule.pk]), {
        "parameters": json.dumps({"metric": "water_level", "op": ">=", "value": 4.5}), "for_seconds": "60",
        "severity": "critical", "enabled": "1"})
    assert ok.status_code == 302
    rule.refresh_from_db()
    assert rule.parameters["value"] == 4.5 and rule.for_seconds == 60 and rule.severity == "critical"


def test_weather_page(admin: Client, tree: factories.Tree) -> None:
    admin.post(reverse("alerts:weather"), {"region": tree.town_a1a, "level": "orange", "note": "台风“梅花”"})
    signal = WeatherSignal.objects.get()
    assert signal.level == "orange" and "梅花" in admin.get(reverse("alerts:weather")).content.decode()
    admin.post(reverse("alerts:weather"), {"region": "abc", "level": "red"})
    assert WeatherSignal.objects.count() == 1


def test_map_data(desk: Client) -> None:
    fire("Located", lat="30.05", lng="122.2")
    fire("Nowhere")
    assert desk.get(reverse("alerts:map")).status_code == 200
    data = desk.get(reverse("alerts:map_data")).json()
    assert [f["properties"]["name"] for f in data["features"]] == ["Located"]
    assert data["features"][0]["geometry"]["coordinates"] == [122.2, 30.05]


def test_anonymous_is_sent_to_login(tree: factories.Tree) -> None:
    answer = Client().get(reverse("alerts:wall"))
    assert answer.status_code == 302 and "/accounts/login" in answer["Location"]

