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

from shanzhi.events.tests.authz_spec_mediation import ROUTES as _MEDIATION_ROUTES  # noqa: E402, I001
ROUTES += _MEDIATION_ROUTES
