"""Authorization-matrix routes of the events app."""

from __future__ import annotations

from shanzhi.events.models import Event, Status
from shanzhi.events.services import Intake, event_create
from shanzhi.testing import factories
from shanzhi.testing.authz import Built, Route

UNSCOPED = {"events_list_categories": "the category dictionary is the same for every region"}


def _event(region_code: str) -> Built:
    reporter = factories.make_user("grid_worker", region_code)
    event, _ = event_create(actor=reporter, data=Intake(title=f"事件 {region_code}", category="exposed_garbage",
                                                        region_code=region_code))
    return Built(kwargs={"event_id": event.pk}, marker=event.number, obj=event)


def _status_changed(built: Built) -> bool:
    return bool(Event.objects.get(pk=built.obj.pk).status != Status.REPORTED)


def _events_in_region(built: Built) -> bool:
    return bool(Event.objects.filter(region_code=built.obj.region_code).count() != 1)


ROUTES = [
    Route("events_list_events", "list", _event, api=True),
    Route("events_get_event", "detail", _event, api=True),
    Route("events_event_timeline", "detail", _event, api=True),
    Route("events_list_attachments", "detail", _event, api=True),
    Route("events_event_statistics", "detail", _event, api=True,
          query=lambda x, _y: {"region": x.obj.region_code}),
    Route("events_create_event", "action", _event, api=True, method="POST",
          payload=lambda b: {"title": "越界上报", "category": "exposed_garbage", "region_code": b.obj.region_code},
          changed=_events_in_region),
    Route("events_transition_event", "action", _event, api=True, method="POST",
          payload=lambda b: {"action": "accept"}, changed=_status_changed),
    Route("events_merge_event", "action", _event, api=True, method="POST",
          payload=lambda b: {"into": _event(b.obj.region_code).obj.pk}, changed=_status_changed),
    Route("events_add_attachment", "action", _event, api=True, method="POST", payload=lambda b: {},
          changed=lambda b: b.obj.attachments.exists()),
]

UNSCOPED.update({
    "open311:discovery": "the Open311 endpoint description",
    "open311:services": "the public service dictionary",
    "open311:service": "the public service definition",
})


def _with_fmt(built: Built) -> Built:
    return Built(kwargs={"fmt": "json"}, marker=built.marker, obj=built.obj)


def _request_detail(region_code: str) -> Built:
    built = _event(region_code)
    return Built(kwargs={"fmt": "json", "request_id": built.obj.number}, marker=built.marker, obj=built.obj)


ROUTES += [
    Route("open311:requests", "list", lambda code: _with_fmt(_event(code)), api_key=True),
    Route("open311:request", "detail", _request_detail, api_key=True),
    Route("open311:requests", "action", lambda code: _with_fmt(_event(code)), api_key=True, method="POST",
          payload=lambda b: {"service_code": "exposed_garbage", "jurisdiction_id": b.obj.region_code,
                             "lat": "30.0", "long": "122.0"},
          changed=_events_in_region),
]


# --- pages (views.py) ---------------------------------------------------------------------------------
UNSCOPED.update({
    "events:report_fields": "the custom-field inputs of a category: the dictionary is the same everywhere",
    "events:notifications": "the caller's own notifications (filtered by user, not by region)",
    "events:notifications_read": "marks the caller's own notifications read",
    "events:categories": "the global category dictionary (events.configure anywhere)",
    "events:category_new": "the global category dictionary (events.configure anywhere)",
    "events:category_edit": "the global category dictionary (events.configure anywhere)",
    "events:calendar": "the one official working calendar (events.configure anywhere)",
})


def _page_event(region_code: str) -> Built:
    built = _event(region_code)
    return Built(kwargs={"event_id": built.obj.pk}, marker=built.marker, obj=built.obj)


def _located_event(region_code: str) -> Built:
    reporter = factories.make_user("grid_worker", region_code)
    event, _ = event_create(actor=reporter, data=Intake(title=f"定位事件 {region_code}", category="exposed_garbage",
                                                        region_code=region_code, lat=30.0, lng=122.0))
    return Built(kwargs={}, marker=event.number, obj=event)


def _action_event(region_code: str) -> Built:
    built = _event(region_code)
    return Built(kwargs={"event_id": built.obj.pk, "action": "accept"}, marker=built.marker, obj=built.obj)


def _with_attachment(region_code: str) -> Built:
    import hashlib

    from django.core.files.base import ContentFile

    from shanzhi.events.models import Attachment

    built = _event(region_code)
    data = b"\x89PNG\r\n\x1a\n" + region_code.encode()
    row = Attachment(event=built.obj, name=f"{region_code}.png", content_type="image/png", size=len(data),
                     sha256=hashlib.sha256(data).hexdigest())
    row.file.save(f"{region_code}.png", ContentFile(data), save=True)
    return Built(kwargs={"event_id": built.obj.pk, "attachment_id": row.pk}, marker=region_code, obj=built.obj)


def _grid_of(region_code: str) -> Built:
    from shanzhi.regions.models import Grid

    grid = Grid.objects.filter(region_code=region_code).first()
    if grid is None:
        grid = Grid.objects.create(region_id=region_code, region_code=region_code, kind="land", number="09",
                                   name=f"网格{region_code}")
    reporter = factories.make_user("grid_worker", region_code)
    event, _ = event_create(actor=reporter, data=Intake(title=f"事件 {region_code}", category="exposed_garbage",
                                                        region_code=region_code))
    return Built(kwargs={}, marker=grid.name, obj=event)


ROUTES += [
    Route("events:queue", "list", lambda code: Built(kwargs={}, marker=_event(code).marker),
          query=lambda _a, _b: {"queue": "all"}),
    Route("events:queue", "list", lambda code: Built(kwargs={}, marker=_event(code).marker),
          query=lambda _a, _b: {"queue": "all", "q": "事件", "status": "open"}),
    Route("events:detail", "detail", _page_event),
    Route("events:attachment", "detail", _with_attachment),
    Route("events:act", "action", _action_event, method="POST", payload=lambda b: {"accept-opinion": "越界"},
          changed=_status_changed),
    Route("events:merge", "action", _page_event, method="POST",
          payload=lambda b: {"into": _event(b.obj.region_code).obj.pk}, changed=_status_changed),
    Route("events:attachment_add", "action", _page_event, method="POST", payload=lambda b: {},
          changed=lambda b: b.obj.attachments.exists()),
    Route("events:report", "list", _grid_of),
    Route("events:report", "action", _grid_of, method="POST",
          payload=lambda b: {"category": "exposed_garbage", "title": "越界上报", "grid": b.obj.grid_id or "",
                             "region": b.obj.region_code, "idempotency_key": f"authz-{b.obj.pk}"},
          changed=_events_in_region),
    Route("events:stats", "list", _located_event),
    Route("events:stats", "detail", lambda code: Built(kwargs={}, marker=code, obj=_event(code).obj),
          query=lambda x, _y: {"region": x.obj.region_code}),
    Route("events:stats_export", "detail", lambda code: Built(kwargs={}, marker=code, obj=_event(code).obj),
          query=lambda x, _y: {"region": x.obj.region_code}),
]

from shanzhi.events.tests.authz_spec_mediation import ROUTES as _MEDIATION_ROUTES  # noqa: E402, I001
ROUTES += _MEDIATION_ROUTES
