"""Conformance with Open311 GeoReport v2, written from the specification (wiki.open311.org/GeoReport_v2)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from shanzhi.events.models import Event, Status
from shanzhi.regions.models import Region
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db

REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}


@pytest.fixture
def key(ev):
    return factories.make_token(ev.resident)


def test_discovery(client):
    data = client.get("/open311/v2/discovery.json").json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(data)
    endpoint = data["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert {"application/json", "text/xml"} <= set(endpoint["formats"])
    root = ET.fromstring(client.get("/open311/v2/discovery.xml").content)
    assert root.tag == "discovery" and root.find("endpoints/endpoint/specification") is not None


def test_services_and_definition(client, ev):
    services = client.get("/open311/v2/services.json", {"jurisdiction_id": ev.village}).json()
    assert services and {"service_code", "service_name", "description", "metadata", "type", "keywords",
                         "group"} == set(services[0])
    dispute = next(s for s in services if s["service_code"] == "neighbour_dispute")
    assert dispute["metadata"] is True and dispute["type"] in {"realtime", "batch", "blackbox"}
    definition = client.get("/open311/v2/services/neighbour_dispute.json").json()
    assert definition["service_code"] == "neighbour_dispute"
    attribute = definition["attributes"][0]
    assert {"variable", "code", "datatype", "required", "datatype_description", "order", "description"} <= set(
        attribute)
    assert attribute["datatype"] in {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
    xml = ET.fromstring(client.get("/open311/v2/services.xml").content)
    assert xml.tag == "services" and xml.find("service/service_code") is not None
    assert client.get("/open311/v2/services/nope.json").status_code == 404
    assert client.get("/open311/v2/services.json", {"jurisdiction_id": "999"}).status_code == 400


def test_post_request_and_read_it_back(client, ev, key):
    answer = client.post("/open311/v2/requests.json", {
        "api_key": key, "jurisdiction_id": ev.village, "service_code": "neighbour_dispute",
        "lat": "30.05", "long": "122.10", "description": "楼上漏水,协商未果", "attribute[parties]": "2",
        "first_name": "三", "last_name": "张", "phone": "13812345678",
    })
    assert answer.status_code == 201, answer.content
    created = answer.json()
    assert isinstance(created, list) and {"service_request_id", "service_notice", "account_id"} == set(created[0])
    number = created[0]["service_request_id"]
    event = Event.objects.get(number=number)
    assert event.source == "resident" and event.custom == {"parties": 2} and event.reporter == ev.resident
    rows = client.get(f"/open311/v2/requests/{number}.json", {"api_key": key}).json()
    assert len(rows) == 1 and set(rows[0]) == REQUEST_FIELDS
    row = rows[0]
    assert row["status"] == "open" and row["agency_responsible"] == event.centre.name
    assert row["expected_datetime"] and row["lat"] == 30.05 and row["long"] == 122.10
    assert "13812345678" not in str(rows)
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{number}.xml", {"api_key": key}).content)
    status = xml.find("request/status")
    assert xml.tag == "service_requests" and status is not None and status.text == "open"


def test_search_filters(client, ev, key):
    desk_key = factories.make_token(ev.village_desk)
    numbers = []
    for _ in range(2):
        answer = client.post("/open311/v2/requests.json", {
            "api_key": key, "jurisdiction_id": ev.village, "service_code": "exposed_garbage",
            "address_string": "村口"})
        numbers.append(answer.json()[0]["service_request_id"])
    Event.objects.filter(number=numbers[0]).update(status=Status.CLOSED)
    listing = client.get("/open311/v2/requests.json", {"api_key": desk_key}).json()
    assert {r["service_request_id"] for r in listing} == set(numbers)
    closed = client.get("/open311/v2/requests.json", {"api_key": desk_key, "status": "closed"}).json()
    assert [r["service_request_id"] for r in closed] == [numbers[0]]
    picked = client.get("/open311/v2/requests.json", {"api_key": desk_key, "service_request_id": numbers[1]}).json()
    assert [r["service_request_id"] for r in picked] == [numbers[1]]
    none = client.get("/open311/v2/requests.json", {"api_key": desk_key, "start_date": "2000-01-01T00:00:00Z",
                                                    "end_date": "2000-02-01T00:00:00Z"}).json()
    assert none == []
    bad = client.get("/open311/v2/requests.json", {"api_key": desk_key, "status": "pending"})
    assert bad.status_code == 400 and bad.json()[0]["code"] == 400


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, 403),  # no api_key
        ({"api_key": "sz_x_forged"}, 403),
        ({"service_code": "nope"}, 400),
        ({"jurisdiction_id": ""}, 400),
        ({"lat": "north"}, 400),
        ({"lat": "", "long": ""}, 400),  # no location at all
        ({"attribute[colour]": "red"}, 400),
        ({"attribute[parties]": "many"}, 400),
    ],
)
def test_post_errors_are_open311_errors_and_change_nothing(client, ev, key, fields, status):
    body = {"api_key": key, "jurisdiction_id": ev.village, "service_code": "neighbour_dispute", "lat": "30",
            "long": "122", "attribute[parties]": "2", **fields}
    body = {k: v for k, v in body.items() if not (k == "api_key" and "api_key" not in fields and fields == {})}
    if fields == {}:
        body.pop("api_key", None)
    answer = client.post("/open311/v2/requests.json", body)
    assert answer.status_code == status
    assert set(answer.json()[0]) == {"code", "description"}
    assert Event.objects.count() == 0


def test_out_of_scope_jurisdiction(client, ev, key):
    answer = client.post("/open311/v2/requests.json", {
        "api_key": key, "jurisdiction_id": ev.tree.village_b1, "service_code": "exposed_garbage", "lat": "30",
        "long": "122"})
    assert answer.status_code == 404 and Event.objects.count() == 0


def test_point_picks_the_village_and_grid_inside_the_jurisdiction(client, ev):
    square = {"type": "Polygon", "coordinates": [[[122.0, 30.0], [122.2, 30.0], [122.2, 30.2], [122.0, 30.2],
                                                  [122.0, 30.0]]]}
    Region.objects.filter(code=ev.village).update(boundary=square)
    ev.grid.polygon = square
    ev.grid.save()
    town_key = factories.make_token(factories.make_user("town_admin", ev.tree.town_a1a))
    answer = client.post("/open311/v2/requests.json", {
        "api_key": town_key, "jurisdiction_id": ev.tree.town_a1a, "service_code": "exposed_garbage",
        "lat": "30.1", "long": "122.1"})
    event = Event.objects.get(number=answer.json()[0]["service_request_id"])
    assert event.region_code == ev.village and event.grid_id == ev.grid.pk and event.source == "hotline"
