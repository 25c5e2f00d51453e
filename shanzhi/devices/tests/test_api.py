from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from shanzhi.core.errors import ValidationFailed
from shanzhi.core.models import AuditEntry
from shanzhi.devices import services
from shanzhi.devices.models import (
    Channel,
    ChannelShare,
    CheckpointPass,
    Device,
    DeviceKind,
    DeviceStatusChange,
    Layer,
    MessageSeen,
    Status,
)
from shanzhi.testing.factories import make_token

from .helpers import gb_id, make_channel, make_device

pytestmark = pytest.mark.django_db
API = "/api/v1/devices"


def auth(user: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {make_token(user)}"}


def post(client: Any, url: str, body: Any, **headers: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def now_iso(delta: float = 0) -> str:
    return (timezone.now() + dt.timedelta(seconds=delta)).isoformat()


# --- registry ----------------------------------------------------------------------------------------------


def test_create_device_validates_and_audits(tree: Any, make_user: Any, client: Any) -> None:
    admin = make_user("town_admin", tree.town_a1a)
    body = {"region_code": tree.village_a1a1, "device_id": gb_id(tree.village_a1a1), "kind": "camera",
            "layer": "village_entrance", "name": "村口枪机", "lat": 30.1, "lng": 122.1, "password": "s3cret"}
    r = post(client, f"{API}/devices", body, **auth(admin))
    assert r.status_code == 201, r.content
    d = Device.objects.get(device_id=body["device_id"])
    assert (d.transport, d.status, d.password) == ("gb28181", "offline", "s3cret")
    assert AuditEntry.objects.filter(action="devices.device.create", object_id=str(d.pk)).exists()
    assert "s3cret" not in json.dumps(AuditEntry.objects.get(action="devices.device.create").after)
    again = post(client, f"{API}/devices", body, **auth(admin))
    assert again.status_code == 409


@pytest.mark.parametrize("change, field", [
    ({"device_id": "1234"}, "device_id"),
    ({"device_id": "33090300011317000001"}, "device_id"),  # centre code in another county
    ({"device_id": "33090200011187000001"}, "device_id"),  # an NVR code for a camera
    ({"kind": "toaster"}, "kind"),
    ({"layer": "roof"}, "layer"),
    ({"region_code": "33090200820"}, "region_code"),
    ({"lat": 91}, "lat"),
    ({"name": ""}, "name"),
])
def test_bad_device_input_is_refused(change: dict[str, Any], field: str, tree: Any, make_user: Any,
                                     client: Any) -> None:
    admin = make_user("town_admin", tree.town_a1a)
    body = {"region_code": tree.village_a1a1, "device_id": "33090200011317000001", "kind": "camera",
            "layer": "doorstep", "name": "门口", **change}
    r = post(client, f"{API}/devices", body, **auth(admin))
    assert r.status_code == 422
    assert field in r.json()["detail"]
    assert Device.objects.count() == 0


def test_iot_and_vessel_ids(tree: Any, make_user: Any) -> None:
    admin = make_user("village_admin", tree.village_a1a1)
    data = services.DeviceData(region_code=tree.village_a1a1, device_id="wl-0001", kind="iot_sensor", layer="iot",
                               name="水位计")
    assert services.device_create(actor=admin, data=data).transport == "mqtt"
    bad = services.DeviceData(region_code=tree.village_a1a1, device_id="41200", kind="vessel_transponder",
                              layer="iot", name="船")
    with pytest.raises(ValidationFailed):
        services.device_create(actor=admin, data=bad)


def test_update_disable_and_sibling_scope(tree: Any, make_user: Any, client: Any) -> None:
    admin = make_user("village_admin", tree.village_a1a1)
    mine = make_device(tree.village_a1a1)
    theirs = make_device(tree.village_a1a2)
    r = client.patch(f"{API}/devices/{mine.pk}", json.dumps({"name": "新名字", "enabled": False}),
                     content_type="application/json", **auth(admin))
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "disabled"
    assert DeviceStatusChange.objects.filter(device=mine, to_status="disabled").exists()
    r = client.patch(f"{API}/devices/{theirs.pk}", json.dumps({"name": "x"}), content_type="application/json",
                     **auth(admin))
    assert r.status_code == 404
    r = client.patch(f"{API}/devices/{mine.pk}", json.dumps({"region_code": tree.village_a1a2}),
                     content_type="application/json", **auth(admin))
    assert r.status_code == 404  # moving a device out of one's scope
    assert Device.objects.get(pk=mine.pk).region_code == tree.village_a1a1


def test_list_query_count_is_flat(tree: Any, make_user: Any, client: Any,
                                  django_assert_max_num_queries: Any) -> None:
    nvr = make_device(tree.village_a1a1, kind=DeviceKind.NVR)
    for _ in range(30):
        make_device(tree.village_a1a1, parent=nvr)
    viewer = make_user("dispatcher", tree.town_a1a)
    headers = auth(viewer)
    client.get(f"{API}/devices", **headers)
    with django_assert_max_num_queries(6):
        r = client.get(f"{API}/devices", {"page_size": 100}, **headers)
    assert r.json()["count"] == 31
    with django_assert_max_num_queries(6):
        assert client.get(f"{API}/offline", **headers).json()["count"] == 31


def test_shared_channels_are_seen_in_the_target_scope(tree: Any, make_user: Any, client: Any) -> None:
    owner = make_user("village_admin", tree.village_a1a1)
    other = make_user("village_admin", tree.village_a1a2)
    ch = make_channel(make_device(tree.village_a1a1, kind=DeviceKind.NVR))
    assert client.get(f"{API}/channels", **auth(other)).json()["count"] == 0
    r = post(client, f"{API}/channels/{ch.pk}/shares", {"region_code": tree.village_a1a2}, **auth(owner))
    assert r.status_code == 201
    seen = client.get(f"{API}/channels", **auth(other)).json()
    assert [c["channel_id"] for c in seen["items"]] == [ch.channel_id]
    # the target may see the channel but not share it on, nor see the device itself
    r = post(client, f"{API}/channels/{ch.pk}/shares", {"region_code": tree.village_a1b1}, **auth(other))
    assert r.status_code == 404
    assert client.get(f"{API}/devices/{ch.device_id}", **auth(other)).status_code == 404
    bad = post(client, f"{API}/channels/{ch.pk}/shares", {"region_code": "12"}, **auth(owner))
    assert bad.status_code == 422
    share = ChannelShare.objects.get()
    assert client.delete(f"{API}/shares/{share.pk}", **auth(other)).status_code == 404
    assert client.delete(f"{API}/shares/{share.pk}", **auth(owner)).status_code == 204
    assert client.get(f"{API}/channels", **auth(other)).json()["count"] == 0


def test_catalog_sync_creates_and_updates_channels(tree: Any) -> None:
    nvr = make_device(tree.village_a1a1, kind=DeviceKind.NVR)
    ids = [gb_id(tree.village_a1a1) for _ in range(3)]
    counts = services.channels_sync(device=nvr, channels=[
        services.ChannelData(channel_id=i, name=f"通道{n}") for n, i in enumerate(ids)
    ] + [services.ChannelData(channel_id="not-a-code")])
    assert counts == {"created": 3, "updated": 0, "skipped": 1}
    counts = services.channels_sync(device=nvr, channels=[services.ChannelData(channel_id=ids[0], name="改")])
    assert counts == {"created": 0, "updated": 1, "skipped": 0}
    assert Channel.objects.get(channel_id=ids[0]).name == "改"


# --- health -------------------------------------------------------------------------------------------------


def test_health_figures_per_layer_and_region(tree: Any, make_user: Any, client: Any,
                                             django_assert_max_num_queries: Any) -> None:
    for status in ("online", "online", "offline"):
        make_device(tree.village_a1a1, layer=Layer.DOORSTEP, status=status)
    make_device(tree.village_a1a2, layer=Layer.HIGH_POINT, status="online")
    make_device(tree.village_a1a2, layer=Layer.HIGH_POINT, status="disabled")
    make_device(tree.village_b1, layer=Layer.HIGH_POINT, status="online")  # other city
    user = make_user("dispatcher", tree.town_a1a)
    headers = auth(user)
    client.get(f"{API}/health", **headers)
    with django_assert_max_num_queries(4):
        r = client.get(f"{API}/health", {"depth": 12}, **headers).json()
    assert (r["total"], r["online"], r["rate"]) == (4, 3, 75.0)
    layers = {row["key"]: row for row in r["layers"]}
    assert (layers["doorstep"]["online"], layers["doorstep"]["total"]) == (2, 3)
    assert layers["high_point"]["rate"] == 100.0
    assert {row["key"]: row["total"] for row in r["regions"]} == {tree.village_a1a1: 3, tree.village_a1a2: 1}


def test_health_and_list_pages(tree: Any, make_user: Any, client: Any) -> None:
    d = make_device(tree.village_a1a1, status="offline", status_changed_at=timezone.now() - dt.timedelta(hours=3))
    client.force_login(make_user("dispatcher", tree.town_a1a))
    page = client.get("/devices/health/")
    assert page.status_code == 200
    text = page.content.decode()
    assert d.name in text and "layer-chart" in text and "3:00" in text
    assert d.name in client.get("/devices/", {"layer": "doorstep", "status": "offline"}).content.decode()
    assert d.name not in client.get("/devices/", {"status": "online"}).content.decode()
    detail = client.get(f"/devices/{d.pk}/").content.decode()
    assert d.device_id in detail
    home = client.get("/").content.decode()
    assert 'data-testid="devices-card"' in home


# --- checkpoint search ---------------------------------------------------------------------------------------


def test_checkpoint_search_is_masked_scoped_and_audited(tree: Any, make_user: Any, client: Any) -> None:
    from shanzhi.devices.processing import Message, process

    cp = make_device(tree.village_a1a1, kind=DeviceKind.CHECKPOINT, layer=Layer.ROAD_CHECKPOINT)
    process([Message(cp.device_id, "checkpoint", {"id": str(i), "ts": now_iso(-i * 60), "plate": plate,
                                                   "direction": "out"})
             for i, plate in enumerate(["浙L12345", "浙L12345", "沪A99999"])])
    handler = make_user("handler", tree.town_a1a)
    r = client.get(f"{API}/checkpoint-passes", {"plate": "浙l-12345", "reason": "交通事故核查"}, **auth(handler))
    assert r.status_code == 200
    items = r.json()
    assert len(items) == 2 and {i["plate"] for i in items} == {"浙L***45"}
    assert "12345" not in r.content.decode()
    entry = AuditEntry.objects.get(action="devices.checkpoint.search")
    assert entry.after is not None
    assert entry.after["reason"] == "交通事故核查" and entry.after["results"] == 2
    assert client.get(f"{API}/checkpoint-passes", {"plate": "浙L12345", "reason": ""},
                      **auth(handler)).status_code == 422
    # a dispatcher may view devices but not search plates; a sibling handler sees nothing
    dispatcher = make_user("dispatcher", tree.town_a1a)
    assert client.get(f"{API}/checkpoint-passes", {"plate": "浙L12345", "reason": "交通事故核查"},
                      **auth(dispatcher)).status_code == 403
    sibling = make_user("handler", tree.town_a1b)
    assert client.get(f"{API}/checkpoint-passes", {"plate": "浙L12345", "reason": "交通事故核查"},
                      **auth(sibling)).json() == []
    client.force_login(handler)
    page = client.get("/devices/checkpoint-search/", {"plate": "浙L12345", "reason": "交通事故核查"})
    assert page.status_code == 200 and page.content.decode().count('data-testid="pass-row"') == 2


def test_prune_respects_retention(tree: Any, settings: Any) -> None:
    settings.SHANZHI_CHECKPOINT_RETENTION_DAYS = 30
    cp = make_device(tree.village_a1a1, kind=DeviceKind.CHECKPOINT, layer=Layer.ROAD_CHECKPOINT)
    now = timezone.now()
    for days in (1, 29, 31, 400):
        CheckpointPass.objects.create(device=cp, region_code=cp.region_code, plate="浙L1", plate_bidx="x",
                                      passed_at=now - dt.timedelta(days=days))
    MessageSeen.objects.create(device_id="a", message_id="1", seen_at=now - dt.timedelta(days=3))
    MessageSeen.objects.create(device_id="a", message_id="2", seen_at=now)
    assert services.prune(now=now) == {"checkpoint_passes": 2, "messages_seen": 1}
    assert CheckpointPass.objects.count() == 2


# --- HTTP intake --------------------------------------------------------------------------------------------


@pytest.fixture
def sensor(tree: Any, make_user: Any) -> tuple[Device, str]:
    d = make_device(tree.village_a1a1, kind=DeviceKind.IOT_SENSOR, layer=Layer.IOT)
    token = services.device_issue_token(actor=make_user("village_admin", tree.village_a1a1), device_pk=d.pk)
    return d, token


def test_http_ingest_batch_with_per_message_results(sensor: tuple[Device, str], client: Any,
                                                   django_capture_on_commit_callbacks: Any, captured: Any) -> None:
    d, token = sensor
    batch = {"messages": [
        {"type": "heartbeat", "id": "h1", "ts": now_iso(-2)},
        {"type": "telemetry", "id": "t1", "ts": now_iso(-1), "metrics": {"water_level": 3.2}},
        {"type": "telemetry", "id": "t1", "ts": now_iso(-1), "metrics": {"water_level": 3.2}},
        {"type": "telemetry", "id": "t2", "ts": now_iso(-90000), "metrics": {"water_level": 1}},
        {"type": "alarm", "id": "a1", "ts": now_iso(), "kind": "smoke"},
        "garbage",
    ]}
    with django_capture_on_commit_callbacks(execute=True):
        r = post(client, f"{API}/ingest", batch, HTTP_AUTHORIZATION=f"Device {token}")
    assert r.status_code == 200, r.content
    body = r.json()
    assert [(x["status"], x["reason"]) for x in body["results"]] == [
        ("accepted", ""), ("accepted", ""), ("duplicate", ""), ("rejected", "too_old"), ("accepted", ""),
        ("rejected", "bad_payload")]
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (3, 1, 2)
    assert [x.value for x in captured.readings] == [3.2] and captured.alarms[0].kind == "smoke"
    d.refresh_from_db()
    assert d.last_seen_at is not None  # written directly by web workers without Redis
    # a replay of the whole batch creates nothing new
    again = post(client, f"{API}/ingest", batch, HTTP_X_DEVICE_TOKEN=token).json()
    assert again["accepted"] == 1 and again["duplicate"] == 3  # only the heartbeat is "accepted" again


def test_http_ingest_refuses_forged_tokens_and_oversized_batches(sensor: tuple[Device, str], client: Any,
                                                                 settings: Any, tree: Any) -> None:
    d, token = sensor
    msg = {"type": "heartbeat", "id": "h", "ts": now_iso()}
    assert post(client, f"{API}/ingest", {"messages": [msg]}).status_code == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert post(client, f"{API}/ingest", {"messages": [msg]}, HTTP_AUTHORIZATION=f"Device {forged}").status_code == 401
    assert post(client, f"{API}/ingest", {"messages": [msg]}, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    settings.SHANZHI_INGEST_BATCH_MAX = 3
    r = post(client, f"{API}/ingest", {"messages": [msg] * 4}, HTTP_AUTHORIZATION=f"Device {token}")
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    r = client.post(f"{API}/ingest", "{nope", content_type="application/json", HTTP_AUTHORIZATION=f"Device {token}")
    assert r.status_code == 422
    # a device may not speak for another device
    other = make_device(tree.village_a1a1, kind=DeviceKind.IOT_SENSOR, layer=Layer.IOT)
    r = post(client, f"{API}/ingest", {"messages": [{**msg, "device_id": other.device_id}]},
             HTTP_AUTHORIZATION=f"Device {token}")
    assert r.json()["results"][0]["reason"] == "forbidden_device"
    # a disabled device's token stops working
    Device.objects.filter(pk=d.pk).update(status=Status.DISABLED)
    assert post(client, f"{API}/ingest", {"messages": [msg]}, HTTP_AUTHORIZATION=f"Device {token}").status_code == 401


def test_ingest_status_counters(sensor: tuple[Device, str], client: Any, make_user: Any, tree: Any) -> None:
    _d, token = sensor
    post(client, f"{API}/ingest", {"messages": [{"type": "heartbeat", "id": "1", "ts": now_iso(-99999)}]},
         HTTP_AUTHORIZATION=f"Device {token}")
    admin = make_user("village_admin", tree.village_a1a1)
    r = client.get(f"{API}/ingest/status", **auth(admin)).json()
    assert r["this_process"]["rejected_too_old"] == 1
    assert client.get(f"{API}/ingest/status", **auth(make_user("dispatcher", tree.town_a1a))).status_code == 403
