"""The intake front (``events/intake_http.py``): plain bearer-token report posts answered without the page stack,
with the same answer and headers as Django's route; everything else, and every error, answered by Django."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest

from shanzhi.core.models import AuditEntry
from shanzhi.events import intake_http
from shanzhi.events.models import Event
from shanzhi.testing import factories

# the front manages connections as Django does per request (close_old_connections): no wrapping test transaction
pytestmark = pytest.mark.django_db(transaction=True)


def _app() -> Any:
    """A fresh application each time, so that middleware built from settings sees a test's settings."""
    from django.core.handlers.wsgi import WSGIHandler

    return intake_http.wrap(WSGIHandler())


def call(body: bytes | dict[str, Any], token: str | None, **extra: str) -> tuple[int, dict[str, str], Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/events", "SERVER_NAME": "testserver", "SERVER_PORT": "80",
        "HTTP_HOST": "testserver", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(raw),
        "CONTENT_LENGTH": str(len(raw)), "CONTENT_TYPE": "application/json", "QUERY_STRING": "",
        "REMOTE_ADDR": "10.1.2.3", "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": True,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "SERVER_PROTOCOL": "HTTP/1.1",
    }
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    environ.update(extra)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_a: Any) -> None:
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

    chunks = _app()(environ, start_response)
    content = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    is_json = seen["headers"].get("Content-Type", "").startswith("application/json")
    return seen["status"], seen["headers"], json.loads(content) if is_json and content else content


def body(ev: Any, **over: Any) -> dict[str, Any]:
    return {"title": "垃圾堆放", "category": "exposed_garbage", "grid_id": ev.grid.pk, "lat": 30.0, "lng": 122.1,
            "reporter_name": "张三", "reporter_phone": "13812345678", **over}


def test_the_deployed_application_has_the_front() -> None:
    from shanzhi.wsgi import application

    assert application.__qualname__ == "wrap.<locals>.application"


def test_plain_post_is_answered_by_the_front_like_django(ev: Any) -> None:
    token = factories.make_token(ev.grid_worker)
    before = dict(intake_http.stats)
    status, headers, data = call(body(ev), token, HTTP_X_REQUEST_ID="front-1")
    assert status == 201, data
    assert intake_http.stats["front"] == before["front"] + 1
    # the same request through Django (a cookie sends it there)
    status2, headers2, data2 = call(body(ev), token, HTTP_COOKIE="x=1")
    assert status2 == 201 and intake_http.stats["front"] == before["front"] + 1
    assert data.keys() == data2.keys()
    for key in ("status", "category", "centre", "level", "step", "reporter_name", "reporter_phone", "actions",
                "region_code", "status_label", "category_name"):
        assert data[key] == data2[key], key
    assert data["reporter_phone"] == "138****5678" and "13812345678" not in json.dumps(data)
    assert data2["possible_duplicates"] == [data["number"]]  # same grid and category, a moment later
    assert isinstance(data["deadline_at"], str) and data["deadline_at"][:4] == data2["deadline_at"][:4]
    for name in ("Content-Type", "X-Request-ID", "Content-Language", "Vary", "X-Content-Type-Options",
                 "Referrer-Policy", "Cross-Origin-Opener-Policy", "X-Frame-Options", "Content-Length"):
        assert name in headers, name
        if name not in ("X-Request-ID", "Content-Length"):
            assert headers[name] == headers2[name], name
    assert headers["X-Request-ID"] == "front-1"
    row = AuditEntry.objects.get(action="events.event.create", object_id=str(data["id"]))
    assert (row.actor_id, row.request_id, row.ip) == (ev.grid_worker.pk, "front-1", "10.1.2.3")
    assert Event.objects.count() == 2


@pytest.mark.parametrize("case", ["bad_token", "missing_title", "wrong_type", "unknown_category", "not_json",
                                  "out_of_scope", "bad_coordinates"])
def test_errors_are_django_s_answers_and_write_nothing(ev: Any, case: str) -> None:
    token = factories.make_token(ev.grid_worker)
    payload: bytes | dict[str, Any] = body(ev)
    if case == "bad_token":
        token = token[:-3] + "xyz"
    elif case == "missing_title":
        payload = {k: v for k, v in body(ev).items() if k != "title"}
    elif case == "wrong_type":
        payload = body(ev, grid_id="seven")
    elif case == "unknown_category":
        payload = body(ev, category="no_such_thing")
    elif case == "not_json":
        payload = b"{not json"
    elif case == "out_of_scope":
        payload = body(ev, grid_id=ev.tree.grids[ev.tree.village_a1a2].pk)
    elif case == "bad_coordinates":
        payload = body(ev, lat=123.0)
    before = dict(intake_http.stats)
    status, headers, data = call(payload, token)
    assert 400 <= status < 500, (status, data)
    assert set(data) == {"code", "message", "detail"}  # the API's one error shape, from Django's handlers
    assert intake_http.stats["front"] == before["front"]
    assert intake_http.stats["handed_on"] >= before["handed_on"]
    assert "X-Request-ID" in headers
    assert Event.objects.count() == 0
    assert not AuditEntry.objects.filter(action="events.event.create").exists()


@pytest.mark.parametrize("extra", [{"HTTP_IDEMPOTENCY_KEY": "k-1"}, {"QUERY_STRING": "x=1"},
                                   {"HTTP_COOKIE": "sessionid=abc"}, {"CONTENT_TYPE": "text/plain"}])
def test_other_requests_go_to_django_untouched(ev: Any, extra: dict[str, str]) -> None:
    token = factories.make_token(ev.grid_worker)
    before = dict(intake_http.stats)
    status, _headers, data = call(body(ev), token, **extra)
    assert intake_http.stats == before  # the front did not even read the body
    assert status == 201, data  # Django's route takes each of these (ninja reads a text/plain body as JSON too)


def test_enormous_body_goes_to_django_and_is_refused(ev: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    token = factories.make_token(ev.grid_worker)
    before = dict(intake_http.stats)
    status, _headers, _data = call(body(ev, description="长" * 2000), token)
    assert status in (400, 413, 422)
    assert intake_http.stats == before
    assert Event.objects.count() == 0


def test_front_can_be_turned_off(ev: Any, settings: Any) -> None:
    settings.SHANZHI_INTAKE_FRONT = False
    token = factories.make_token(ev.grid_worker)
    before = dict(intake_http.stats)
    status, _headers, _data = call(body(ev), token)
    assert status == 201 and intake_http.stats == before


def test_https_redirect_is_django_s(ev: Any, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    token = factories.make_token(ev.grid_worker)
    status, headers, _data = call(body(ev), token)
    assert status == 301 and headers["Location"].startswith("https://")
    assert Event.objects.count() == 0
