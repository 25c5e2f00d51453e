"""The native events API: intake with Idempotency-Key, errors, queues, transitions, statistics, attachments."""

from __future__ import annotations

import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shanzhi.events.models import Attachment, Event
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def client_for(client, user):
    token = factories.make_token(user)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def test_create_get_and_replay(client, ev):
    client_for(client, ev.grid_worker)
    body = {"title": "垃圾堆放", "category": "exposed_garbage", "grid_id": ev.grid.pk, "lat": 30.0, "lng": 122.1,
            "reporter_name": "张三", "reporter_phone": "13812345678"}
    first = post(client, "/api/v1/events", body, **{"Idempotency-Key": "abc-1"})
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["status"] == "reported" and data["centre"]["name"].endswith("中心")
    assert data["reporter_phone"] == "138****5678" and data["reporter_name"] == "张*"
    assert "13812345678" not in first.content.decode()
    again = post(client, "/api/v1/events", body, **{"Idempotency-Key": "abc-1"})
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    changed = post(client, "/api/v1/events", {**body, "title": "别的"}, **{"Idempotency-Key": "abc-1"})
    assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"
    assert Event.objects.count() == 1
    got = client.get(f"/api/v1/events/{data['id']}")
    assert got.status_code == 200 and "accept" not in got.json()["actions"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "unknown"}, "category"),
        ({"lat": 91, "lng": 0}, "lat"),
        ({"title": 5}, None),
        ({"grid_id": "x"}, None),
        ({"custom": "not an object"}, None),
        ({"region_code": "33090200820"}, None),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(client, ev, body, field):
    client_for(client, ev.grid_worker)
    answer = post(client, "/api/v1/events", {"title": "t", "category": "exposed_garbage",
                                             "region_code": ev.village, **body})
    assert answer.status_code == 422
    payload = answer.json()
    assert set(payload) == {"code", "message", "detail"}
    if field:
        assert field in json.dumps(payload["detail"])
    assert Event.objects.count() == 0


def test_out_of_scope_region_is_not_found(client, ev):
    client_for(client, ev.grid_worker)
    answer = post(client, "/api/v1/events", {"title": "t", "category": "exposed_garbage",
                                             "region_code": ev.tree.village_b1})
    assert answer.status_code == 404 and Event.objects.count() == 0


def test_forged_token_and_huge_payload(client, ev):
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer sz_deadbeef0000_forged"
    assert client.get("/api/v1/events").status_code == 401
    client_for(client, ev.grid_worker)
    answer = post(client, "/api/v1/events", {"title": "x" * 10, "category": "exposed_garbage",
                                             "region_code": ev.village, "description": "长" * 6000})
    assert answer.status_code == 422


def test_transitions_and_errors(client, ev):
    client_for(client, ev.grid_worker)
    created = post(client, "/api/v1/events", {"title": "t", "category": "exposed_garbage", "region_code": ev.village})
    event_id = created.json()["id"]
    client_for(client, ev.village_desk)
    ok = post(client, f"/api/v1/events/{event_id}/transitions", {"action": "accept"})
    assert ok.status_code == 200 and ok.json()["status"] == "accepted" and "dispatch" in ok.json()["actions"]
    wrong = post(client, f"/api/v1/events/{event_id}/transitions", {"action": "close"})
    assert wrong.status_code == 409 and wrong.json()["code"] == "transition_not_allowed"
    unknown = post(client, f"/api/v1/events/{event_id}/transitions", {"action": "fly"})
    assert unknown.status_code == 422
    no_reason = post(client, f"/api/v1/events/{event_id}/transitions", {"action": "escalate"})
    assert no_reason.status_code == 422
    timeline = client.get(f"/api/v1/events/{event_id}/timeline").json()
    assert [row["action"] for row in timeline] == ["report", "accept"]
    client_for(client, ev.other_desk)
    assert client.get(f"/api/v1/events/{event_id}").status_code == 404
    assert post(client, f"/api/v1/events/{event_id}/transitions", {"action": "dispatch"}).status_code == 404


def test_list_query_count_does_not_grow(client, ev):
    client_for(client, ev.grid_worker)
    for i in range(3):
        post(client, "/api/v1/events", {"title": f"t{i}", "category": "exposed_garbage", "region_code": ev.village})
    client_for(client, ev.county_desk)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/v1/events?limit=50").json()["count"] == 3
    for i in range(12):
        client_for(client, ev.grid_worker)
        post(client, "/api/v1/events", {"title": f"u{i}", "category": "exposed_garbage", "region_code": ev.village})
    client_for(client, ev.county_desk)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/api/v1/events?limit=50").json()["count"] == 15
    assert len(many.captured_queries) == len(few.captured_queries) <= 6


def test_queues_and_filters(client, ev):
    client_for(client, ev.grid_worker)
    post(client, "/api/v1/events", {"title": "a", "category": "exposed_garbage", "region_code": ev.village})
    client_for(client, ev.village_desk)
    assert client.get("/api/v1/events?queue=centre").json()["count"] == 1
    assert client.get("/api/v1/events?queue=mine").json()["count"] == 0
    assert client.get("/api/v1/events?status=closed").json()["count"] == 0
    assert client.get("/api/v1/events?status=bogus").status_code == 422
    assert client.get("/api/v1/events?queue=bogus").status_code == 422
    assert client.get("/api/v1/events?category=environment").json()["count"] == 1


def test_statistics(client, ev):
    client_for(client, ev.grid_worker)
    post(client, "/api/v1/events", {"title": "a", "category": "exposed_garbage", "region_code": ev.village})
    client_for(client, ev.city_desk)
    stats = client.get("/api/v1/events/statistics").json()
    assert stats["created"] == 1 and stats["by_status"] == {"reported": 1}
    assert stats["by_category"][0]["code"] == "environment"
    assert client.get(f"/api/v1/events/statistics?region={ev.tree.city_b}").status_code == 404
    assert client.get("/api/v1/events/statistics?region=123").status_code == 422
    drill = client.get(f"/api/v1/events/statistics?region={ev.tree.town_a1a}").json()
    assert drill["by_child"][0]["region"] == ev.village


def test_attachments_are_checked_by_content(client, ev):
    client_for(client, ev.grid_worker)
    event_id = post(client, "/api/v1/events", {"title": "a", "category": "exposed_garbage",
                                               "region_code": ev.village}).json()["id"]
    good = client.post(f"/api/v1/events/{event_id}/attachments", {"file": _upload("photo.png", PNG)})
    assert good.status_code == 201, good.content
    fake = client.post(f"/api/v1/events/{event_id}/attachments", {"file": _upload("photo.png", b"MZ\x90\x00")})
    assert fake.status_code == 422
    assert Attachment.objects.count() == 1
    client_for(client, ev.other_desk)
    other = client.post(f"/api/v1/events/{event_id}/attachments", {"file": _upload("p.png", PNG)})
    assert other.status_code == 404 and Attachment.objects.count() == 1


def test_oversized_attachment(client, ev, settings):
    settings.SHANZHI_MAX_ATTACHMENT_BYTES = 100
    client_for(client, ev.grid_worker)
    event_id = post(client, "/api/v1/events", {"title": "a", "category": "exposed_garbage",
                                               "region_code": ev.village}).json()["id"]
    big = client.post(f"/api/v1/events/{event_id}/attachments", {"file": _upload("big.png", PNG + b"0" * 200)})
    assert big.status_code == 413 and Attachment.objects.count() == 0


def _upload(name, data):
    f = io.BytesIO(data)
    f.name = name
    return f
