"""The Alertmanager v2 API: object shapes from the OpenAPI specification, filters, silences, scope, bad input."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from shanzhi.alerts.models import Alert, AlertStatus, InhibitRule, Silence
from shanzhi.core.models import AuditEntry
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db
V1 = "330902008201"
V2 = "330902008202"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def town_token(tree: factories.Tree) -> str:
    return factories.make_token(factories.make_user("town_admin", tree.town_a1a))


@pytest.fixture
def v1_token(tree: factories.Tree) -> str:
    return factories.make_token(factories.make_user("dispatcher", V1))


def call(method: str, path: str, token: str | None, body: Any = None, **query: Any) -> Any:
    client = Client()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return client.get(path, query, headers=headers)
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.generic(method, path, data=data, content_type="application/json", headers=headers)


def post_alerts(token: str, alerts: list[dict[str, Any]]) -> Any:
    return call("POST", "/api/v2/alerts", token, alerts)


def alert(name: str, region: str = V1, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "region": region, **labels},
            "annotations": {"summary": f"{name} summary"}, "generatorURL": "http://prom/graph?g0.expr=up"}


GETTABLE_ALERT_KEYS = {"annotations", "endsAt", "fingerprint", "receivers", "startsAt", "status", "updatedAt",
                       "generatorURL", "labels"}


def test_post_then_get_alerts_has_the_spec_shape(town_token: str) -> None:
    answer = post_alerts(town_token, [alert("HighWater", severity="critical"), alert("Smoke", V2)])
    assert answer.status_code == 200 and answer.content == b""
    answer = call("GET", "/api/v2/alerts", town_token)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    body = answer.json()
    assert {a["labels"]["alertname"] for a in body} == {"HighWater", "Smoke"}
    for item in body:
        assert set(item) == GETTABLE_ALERT_KEYS
        assert set(item["status"]) == {"state", "silencedBy", "inhibitedBy"}
        assert item["status"]["state"] == "active"
        assert item["receivers"] == [{"name": "shanzhi"}]
        for key in ("startsAt", "endsAt", "updatedAt"):
            assert RFC3339.match(item[key]), item[key]
        assert len(item["fingerprint"]) == 64
    # deduplicated by fingerprint: posting again keeps one alert per label set
    post_alerts(town_token, [alert("HighWater", severity="critical")])
    assert Alert.objects.count() == 2
    assert Alert.objects.get(labels__alertname="HighWater").severity == "critical"


def test_alert_with_ends_at_in_the_past_is_resolved_and_not_listed(town_token: str) -> None:
    now = timezone.now()
    post_alerts(town_token, [alert("Gone") | {"startsAt": iso(now - dt.timedelta(hours=1)),
                                              "endsAt": iso(now - dt.timedelta(minutes=1))}])
    assert Alert.objects.get().status == AlertStatus.RESOLVED
    assert call("GET", "/api/v2/alerts", town_token).json() == []


@pytest.mark.parametrize(("flt", "expected"), [
    ('alertname="HighWater"', {"HighWater"}),
    ("alertname=HighWater", {"HighWater"}),
    ('severity=~"crit.*"', {"HighWater"}),
    ('severity!~"crit.*"', {"Smoke", "Fog"}),
    ('alertname!="Smoke"', {"HighWater", "Fog"}),
    ('{alertname=~"Smoke|Fog",severity="warning"}', {"Smoke"}),
])
def test_filters(town_token: str, flt: str, expected: set[str]) -> None:
    post_alerts(town_token, [alert("HighWater", severity="critical"), alert("Smoke", severity="warning"),
                             alert("Fog", severity="info")])
    answer = call("GET", "/api/v2/alerts", town_token, filter=flt)
    assert answer.status_code == 200, answer.content
    assert {a["labels"]["alertname"] for a in answer.json()} == expected


def test_repeated_filters_combine(town_token: str) -> None:
    post_alerts(town_token, [alert("A", severity="critical"), alert("A", V2, severity="info")])
    client = Client()
    answer = client.get(f"/api/v2/alerts?filter=alertname%3D%22A%22&filter=region%3D%22{V2}%22",
                        headers={"Authorization": f"Bearer {town_token}"})
    assert [a["labels"]["region"] for a in answer.json()] == [V2]


@pytest.mark.parametrize("bad", ['alertname=="x"', "=x", 'x=~"("', "alertname", '9bad="x"'])
def test_bad_matcher_syntax_is_400(town_token: str, bad: str) -> None:
    answer = call("GET", "/api/v2/alerts", town_token, filter=bad)
    assert answer.status_code == 400
    assert isinstance(answer.json(), str)


def test_silence_lifecycle_and_shapes(town_token: str) -> None:
    post_alerts(town_token, [alert("HighWater", severity="critical"), alert("Smoke")])
    now = timezone.now()
    body = {"matchers": [{"name": "alertname", "value": "High.*", "isRegex": True, "isEqual": True}],
            "startsAt": iso(now - dt.timedelta(seconds=1)), "endsAt": iso(now + dt.timedelta(hours=2)),
            "createdBy": "值班员", "comment": "维修中"}
    answer = call("POST", "/api/v2/silences", town_token, body)
    assert answer.status_code == 200, answer.content
    sid = answer.json()["silenceID"]
    assert set(answer.json()) == {"silenceID"}
    silence = call("GET", f"/api/v2/silence/{sid}", town_token).json()
    assert set(silence) == {"id", "status", "updatedAt", "matchers", "startsAt", "endsAt", "createdBy", "comment"}
    assert silence["status"] == {"state": "active"} and silence["createdBy"] == "值班员"
    listed = call("GET", "/api/v2/silences", town_token).json()
    assert [s["id"] for s in listed] == [sid]
    alerts = {a["labels"]["alertname"]: a for a in call("GET", "/api/v2/alerts", town_token).json()}
    assert alerts["HighWater"]["status"] == {"state": "suppressed", "silencedBy": [sid], "inhibitedBy": []}
    assert Alert.objects.get(labels__alertname="HighWater").status == AlertStatus.SILENCED
    assert {a["labels"]["alertname"] for a in call("GET", "/api/v2/alerts", town_token, silenced="false").json()} \
        == {"Smoke"}
    # update keeps the id
    body["id"] = sid
    body["comment"] = "维修延长"
    assert call("POST", "/api/v2/silences", town_token, body).json() == {"silenceID": sid}
    assert Silence.objects.get().comment == "维修延长"
    # expire
    assert call("DELETE", f"/api/v2/silence/{sid}", town_token).status_code == 200
    assert call("GET", f"/api/v2/silence/{sid}", town_token).json()["status"]["state"] == "expired"
    assert Alert.objects.get(labels__alertname="HighWater").status == AlertStatus.FIRING
    assert AuditEntry.objects.filter(action__startswith="alerts.silence").count() == 3


def test_inhibition_town_typhoon_inhibits_vessel_weather(town_token: str) -> None:
    InhibitRule.objects.create(
        name="typhoon", equal=["town"],
        source_matchers=[{"name": "alertname", "value": "TownTyphoon", "isRegex": False, "isEqual": True}],
        target_matchers=[{"name": "alertname", "value": "VesselWeather", "isRegex": False, "isEqual": True}])
    post_alerts(town_token, [alert("VesselWeather", town="T1", vessel="浙岱渔01"),
                             alert("VesselWeather", town="T2", vessel="浙岱渔02")])
    post_alerts(town_token, [alert("TownTyphoon", town="T1")])
    states = {a.labels.get("vessel", "town"): a.status for a in Alert.objects.all()}
    assert states == {"浙岱渔01": AlertStatus.INHIBITED, "浙岱渔02": AlertStatus.FIRING, "town": AlertStatus.FIRING}
    got = {a["labels"].get("vessel"): a for a in call("GET", "/api/v2/alerts", town_token).json()}
    source_fp = Alert.objects.get(labels__alertname="TownTyphoon").fingerprint
    assert got["浙岱渔01"]["status"]["inhibitedBy"] == [source_fp]
    assert "浙岱渔01" not in {a["labels"].get("vessel") for a in call(
        "GET", "/api/v2/alerts", town_token, inhibited="false").json()}
    # the source ends: the target fires again
    now = timezone.now()
    post_alerts(town_token, [alert("TownTyphoon", town="T1") | {"endsAt": iso(now - dt.timedelta(seconds=1)),
                                                                 "startsAt": iso(now - dt.timedelta(hours=1))}])
    assert Alert.objects.get(labels__vessel="浙岱渔01").status == AlertStatus.FIRING


def test_groups_and_status(town_token: str) -> None:
    post_alerts(town_token, [alert("A"), alert("A", severity="x"), alert("B")])
    groups = call("GET", "/api/v2/alerts/groups", town_token).json()
    assert sorted((g["labels"]["alertname"], len(g["alerts"])) for g in groups) == [("A", 2), ("B", 1)]
    assert all(set(g) == {"labels", "receiver", "alerts"} for g in groups)
    status = call("GET", "/api/v2/status", town_token).json()
    assert set(status) == {"cluster", "versionInfo", "config", "uptime"}
    assert status["cluster"]["status"] == "ready" and status["cluster"]["peers"] == []
    assert set(status["versionInfo"]) == {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}
    assert "route:" in status["config"]["original"] and RFC3339.match(status["uptime"])
    assert call("GET", "/api/v2/receivers", town_token).json() == [{"name": "shanzhi"}]


# --- scope and bad input ------------------------------------------------------------------------------------------
def test_scope_lists_exclude_and_posts_refuse(town_token: str, v1_token: str, tree: factories.Tree) -> None:
    post_alerts(town_token, [alert("Mine"), alert("Theirs", V2)])
    assert [a["labels"]["alertname"] for a in call("GET", "/api/v2/alerts", v1_token).json()] == ["Mine"]
    answer = post_alerts(v1_token, [alert("Sneaky", V2)])
    assert answer.status_code == 404
    assert not Alert.objects.filter(labels__alertname="Sneaky").exists()
    # out-of-scope region label in a batch: nothing of the batch is stored
    answer = post_alerts(v1_token, [alert("Fine"), alert("Sneaky", tree.city_b)])
    assert answer.status_code == 404 and not Alert.objects.filter(labels__alertname="Fine").exists()
    now = timezone.now()
    theirs = {"matchers": [{"name": "region", "value": V2, "isRegex": False}], "startsAt": iso(now),
              "endsAt": iso(now + dt.timedelta(hours=1)), "createdBy": "x", "comment": "x"}
    sid = call("POST", "/api/v2/silences", town_token, theirs).json()["silenceID"]
    assert call("GET", f"/api/v2/silence/{sid}", v1_token).status_code == 404
    assert call("DELETE", f"/api/v2/silence/{sid}", v1_token).status_code == 404
    assert call("GET", "/api/v2/silences", v1_token).json() == []
    assert call("POST", "/api/v2/silences", v1_token, theirs).status_code == 404
    assert Silence.objects.count() == 1


def test_auditor_may_read_but_not_write(tree: factories.Tree) -> None:
    token = factories.make_token(factories.make_user("auditor", V1))
    assert call("GET", "/api/v2/alerts", token).status_code == 200
    assert post_alerts(token, [alert("X")]).status_code == 403


@pytest.mark.parametrize("header", ["Bearer sz_forged_secret", "Bearer nonsense", "Basic abc", "Bearer "])
def test_forged_or_missing_token_is_401(tree: factories.Tree, header: str) -> None:
    answer = Client().get("/api/v2/alerts", headers={"Authorization": header})
    assert answer.status_code == 401
    answer = Client().post("/api/v2/alerts", data="[]", content_type="application/json",
                           headers={"Authorization": header})
    assert answer.status_code == 401
    assert Client().get("/api/v2/alerts").status_code == 401


def test_session_reads_but_never_writes(tree: factories.Tree) -> None:
    client = Client()
    client.force_login(factories.make_user("town_admin", tree.town_a1a))
    assert client.get("/api/v2/alerts").status_code == 200
    answer = client.post("/api/v2/alerts", data=json.dumps([alert("X")]), content_type="application/json")
    assert answer.status_code == 403 and not Alert.objects.exists()


@pytest.mark.parametrize(("body", "fragment"), [
    (b"{not json", "not valid JSON"),
    ({"labels": {"a": "b"}}, "array"),
    ([{"annotations": {}}], "labels"),
    ([{"labels": {}}], "labels"),
    ([{"labels": {"bad-name": "x", "region": V1}}], "label name"),
    ([{"labels": {"a": 1, "region": V1}}], "string"),
    ([{"labels": {"alertname": "x", "region": "33"}} | {"startsAt": "yesterday"}], "RFC 3339"),
    ([{"labels": {"alertname": "x", "region": V1}, "startsAt": "2026-01-02T00:00:00Z",
       "endsAt": "2026-01-01T00:00:00Z"}], "endsAt"),
    ([{"labels": {"alertname": "x", "region": "12345"}}], "region"),
    ([{"labels": {"alertname": "x"}}], "region"),
    (["x"], "object"),
    # wrong types, bad times, strict JSON
    ([{"labels": ["alertname", "x"]}], "labels"),
    ([{"labels": {"alertname": {"nested": "x"}, "region": V1}}], "string"),
    ([{"labels": {"alertname": "x", "region": V1}, "annotations": ["summary"]}], "annotations"),
    ([{"labels": {"alertname": "x", "region": V1}, "annotations": {"summary": 3}}], "annotations"),
    ([{"labels": {"alertname": "x", "region": V1}, "generatorURL": 42}], "generatorURL"),
    ([{"labels": {"alertname": "x", "region": V1}, "startsAt": 1700000000}], "RFC 3339"),
    ([{"labels": {"alertname": "x", "region": V1}, "endsAt": "2026-13-45T00:00:00Z"}], "RFC 3339"),
    ([{"labels": {"alertname": "x", "region": V1}, "endsAt": "2026-01-01T00:00:00"}], "time zone"),
    (b'[{"labels": {"alertname": "x", "region": "330902008201"}, "value": NaN}]', "not valid JSON"),
    (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
    (b'[{"labels": {"alertname": "\xff"}}]', "not valid JSON"),
])
def test_malformed_alerts_are_400_and_change_nothing(town_token: str, body: Any, fragment: str) -> None:
    answer = post_alerts(town_token, body)
    assert answer.status_code == 400, answer.content
    assert fragment in answer.json()
    assert not Alert.objects.exists()


@pytest.mark.parametrize("size", [6 * 1024 * 1024, 17 * 1024 * 1024])
def test_enormous_body_is_413_and_changes_nothing(town_token: str, size: int, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None if size > 16 * 1024 * 1024 else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    filler = "x" * 1000
    one = json.dumps(alert("Big") | {"annotations": {"summary": filler}})
    body = "[" + ",".join([one] * (size // len(one) + 1)) + "]"
    answer = call("POST", "/api/v2/alerts", town_token, body)
    assert answer.status_code == 413, answer.content[:200]
    assert "too large" in answer.json()
    assert not Alert.objects.exists()


def test_default_region_for_alerts_without_a_region_label(town_token: str, settings: Any) -> None:
    settings.SHANZHI_ALERTS_DEFAULT_REGION = V1
    assert post_alerts(town_token, [{"labels": {"alertname": "NoRegion"}}]).status_code == 200
    assert Alert.objects.get().region_code == V1


def test_huge_batch_is_refused(town_token: str, settings: Any) -> None:
    settings.SHANZHI_ALERTS_MAX_BATCH = 5
    answer = post_alerts(town_token, [alert(f"A{i}") for i in range(6)])
    assert answer.status_code == 413 and not Alert.objects.exists()
    assert post_alerts(town_token, [alert(f"A{i}") for i in range(5)]).status_code == 200


@pytest.mark.parametrize(("change", "fragment"), [
    ({"endsAt": "START"}, "endsAt"),
    ({"matchers": []}, "matchers"),
    ({"matchers": [{"name": "a", "value": "(", "isRegex": True}]}, "regular expression"),
    ({"comment": ""}, "comment"),
    ({"startsAt": "soon"}, "RFC 3339"),
])
def test_bad_silences_are_400(town_token: str, change: dict[str, Any], fragment: str) -> None:
    now = timezone.now()
    body = {"matchers": [{"name": "alertname", "value": "x", "isRegex": False}], "startsAt": iso(now),
            "endsAt": iso(now + dt.timedelta(hours=1)), "createdBy": "me", "comment": "ok"}
    body.update(change)
    if body["endsAt"] == "START":
        body["endsAt"] = iso(now - dt.timedelta(hours=1))
    answer = call("POST", "/api/v2/silences", town_token, body)
    assert answer.status_code == 400, answer.content
    assert fragment in answer.json()
    assert not Silence.objects.exists()


def test_unknown_silence_ids(town_token: str) -> None:
    assert call("GET", "/api/v2/silence/not-a-uuid", town_token).status_code == 400
    assert call("GET", "/api/v2/silence/00000000-0000-4000-8000-000000000000", town_token).status_code == 404
    assert call("PUT", "/api/v2/alerts", town_token, []).status_code == 405


def test_list_query_count_is_flat(town_token: str, django_assert_max_num_queries: Any) -> None:
    post_alerts(town_token, [alert(f"A{i}") for i in range(30)])
    with django_assert_max_num_queries(6):
        assert len(call("GET", "/api/v2/alerts", town_token).json()) == 30
