"""The lifecycle through the one transition service: main path, every side path, bad transitions."""

from __future__ import annotations

import pytest

from shanzhi.core import audit
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from shanzhi.core.models import AuditEntry
from shanzhi.events import selectors
from shanzhi.events.models import DailyStat, Event, Notification, Status, TimelineEntry
from shanzhi.events.services import Intake, event_create, event_merge, event_transition

pytestmark = pytest.mark.django_db


def report(ev, **kw):
    data = {"title": "邻居噪音", "category": "neighbour_dispute", "grid_id": ev.grid.pk, "custom": {"parties": 2}}
    data.update(kw)
    event, created = event_create(actor=ev.grid_worker, data=Intake(**data))
    assert created
    return event


def step(ev, event, actor, action, opinion="", **params):
    return event_transition(event_id=event.pk, actor=actor, action=action, opinion=opinion, params=params)


def stat(metric):
    return sum(DailyStat.objects.filter(metric=metric).values_list("value", flat=True))


def test_main_path_village_to_rated(ev):
    event = report(ev, anonymous=False)
    assert event.status == Status.REPORTED and event.level == "village"
    assert event.centre.region_code == ev.village and event.deadline_at and event.step == "accept"
    assert Notification.objects.filter(user=ev.village_desk, event=event).exists()
    event = step(ev, event, ev.village_desk, "accept")
    event = step(ev, event, ev.village_desk, "dispatch", assignee_id=ev.handler.pk)
    assert event.assignee == ev.handler and event.step == "handle"
    event = step(ev, event, ev.handler, "start")
    event = step(ev, event, ev.handler, "handle", "已调解")
    event = step(ev, event, ev.grid_worker, "verify_pass")
    event = step(ev, event, ev.village_desk, "close")
    assert event.closed_level == "village"
    event = step(ev, event, ev.grid_worker, "rate", rating=5, comment="满意")
    assert event.status == Status.RATED and event.rating == 5
    actions = list(TimelineEntry.objects.filter(event=event).values_list("action", flat=True))
    assert actions == ["report", "accept", "dispatch", "start", "handle", "verify_pass", "close", "rate"]
    assert stat("created") == 1 and stat("closed") == 1 and stat("closed_village") == 1
    assert stat("status:rated") == 1 and stat("status:reported") == 0
    assert stat("accept_on_time") == 1
    assert AuditEntry.objects.filter(object_id=str(event.pk)).count() == 8
    assert audit.verify().ok


def test_escalation_goes_one_level_at_a_time_and_lower_centre_loses_the_event(ev):
    event = report(ev)
    event = step(ev, event, ev.village_desk, "escalate", "村级无法调处")
    assert event.status == Status.ESCALATED and event.level == "town"
    with pytest.raises(PermissionDenied):
        step(ev, event, ev.village_desk, "accept")
    with pytest.raises(Conflict):  # no double escalation before the town accepts
        step(ev, event, ev.town_desk, "escalate", "again")
    event = step(ev, event, ev.town_desk, "accept")
    with pytest.raises(ValidationFailed):  # skipping a level needs the category's permission
        step(ev, event, ev.town_desk, "escalate", "to city", to_level="city")
    event = step(ev, event, ev.town_desk, "escalate", "涉及多部门", to_level="county")
    assert event.level == "county" and event.escalation_count == 2


def test_escalate_needs_a_reason(ev):
    event = report(ev)
    with pytest.raises(ValidationFailed):
        step(ev, event, ev.village_desk, "escalate", "")
    event.refresh_from_db()
    assert event.status == Status.REPORTED and TimelineEntry.objects.filter(event=event).count() == 1


def test_hand_down_and_reject(ev):
    event = report(ev, category="land_dispute")  # enters at town level
    assert event.level == "town"
    with pytest.raises(Conflict):  # the village is not competent for land disputes
        step(ev, event, ev.town_desk, "hand_down", "请村里处理")
    event2 = report(ev)
    event2 = step(ev, event2, ev.village_desk, "escalate", "上报")
    event2 = step(ev, event2, ev.town_desk, "hand_down", "村级可处理")
    assert event2.level == "village" and event2.status == Status.REPORTED
    event2 = step(ev, event2, ev.village_desk, "reject", "不属于受理范围")
    assert event2.status == Status.REJECTED


def test_return_extension_suspend_resume_void_reopen(ev):
    event = report(ev)
    step(ev, event, ev.village_desk, "accept")
    event = step(ev, event, ev.village_desk, "dispatch", assignee_id=ev.handler.pk)
    event = step(ev, event, ev.handler, "return", "不属本人职责")
    assert event.status == Status.RETURNED and event.assignee is None
    event = step(ev, event, ev.village_desk, "dispatch", assignee_id=ev.handler.pk)
    later = (event.deadline_at.replace(year=event.deadline_at.year + 1)).isoformat()
    event = step(ev, event, ev.handler, "request_extension", "需要协调", until=later)
    event = step(ev, event, ev.village_desk, "approve_extension")
    assert event.deadline_at.isoformat() == later and event.extension_requested_until is None
    event = step(ev, event, ev.village_desk, "suspend", "等待鉴定")
    assert event.status == Status.SUSPENDED
    event = step(ev, event, ev.village_desk, "resume")
    assert event.status == Status.DISPATCHED
    event = step(ev, event, ev.village_desk, "void", "重复上报")
    assert event.status == Status.VOIDED
    with pytest.raises(Conflict):
        step(ev, event, ev.village_desk, "accept")


def test_failed_verification_and_low_rating_reopen(ev):
    event = report(ev)
    for actor, action, kw in [(ev.village_desk, "accept", {}), (ev.village_desk, "dispatch",
                              {"assignee_id": ev.handler.pk}), (ev.handler, "start", {})]:
        event = step(ev, event, actor, action, **kw)
    event = step(ev, event, ev.handler, "handle", "处理完毕")
    event = step(ev, event, ev.grid_worker, "verify_fail", "现场未整改")
    assert event.status == Status.REOPENED and event.reopen_count == 1
    event = step(ev, event, ev.village_desk, "dispatch", assignee_id=ev.handler.pk)
    event = step(ev, event, ev.handler, "start")
    event = step(ev, event, ev.handler, "handle", "已整改")
    event = step(ev, event, ev.grid_worker, "verify_pass")
    event = step(ev, event, ev.village_desk, "close")
    assert stat("closed") == 1
    event = step(ev, event, ev.grid_worker, "rate", rating=1, comment="没解决")
    assert event.status == Status.REOPENED and event.reopen_count == 2
    assert stat("closed") == 0 and stat("reopened") == 2 and stat("closed_village") == 0


def test_supervise_only_from_above(ev):
    event = report(ev)
    with pytest.raises(PermissionDenied):
        step(ev, event, ev.village_desk, "supervise", "加快")
    event = step(ev, event, ev.town_desk, "supervise", "请三日内办结")
    assert event.supervised and event.supervisions.count() == 1


def test_only_the_reporter_rates(ev):
    event = report(ev)
    event.status = Status.CLOSED
    event.save()
    with pytest.raises(PermissionDenied):
        step(ev, event, ev.village_desk, "rate", rating=4)
    with pytest.raises(ValidationFailed):
        step(ev, event, ev.grid_worker, "rate", rating=9)


def test_out_of_scope_user_gets_not_found(ev):
    event = report(ev)
    with pytest.raises(NotFound):
        step(ev, event, ev.other_desk, "accept")
    with pytest.raises(NotFound):
        selectors.event_get(ev.other_desk, event.pk)


def test_unknown_action_and_wrong_state(ev):
    event = report(ev)
    with pytest.raises(ValidationFailed):
        step(ev, event, ev.village_desk, "teleport")
    with pytest.raises(Conflict) as info:
        step(ev, event, ev.village_desk, "close")
    assert "accept" in info.value.detail["allowed"]


def test_bad_intake_changes_nothing(ev):
    before = Event.objects.count()
    bad: list[dict[str, object]] = [
        {"category": "no_such"},
        {"category": "disputes"},  # a parent, not a leaf
        {"lat": 95.0, "lng": 120.0},
        {"lat": 30.0},
        {"custom": {"parties": "two"}},
        {"custom": {}},
        {"custom": {"parties": 2, "unknown": 1}},
        {"anonymous": True},
        {"title": " "},
        {"source": "pigeon"},
        {"grid_id": ev.tree.grids[ev.tree.village_a1a2].pk},  # a grid outside the worker's scope
    ]
    for extra in bad:
        with pytest.raises((ValidationFailed, NotFound)):
            report(ev, **extra)
    assert Event.objects.count() == before


def test_idempotent_intake(ev):
    data = Intake(title="路灯坏了", category="road_facility", region_code=ev.village)
    first, created = event_create(actor=ev.grid_worker, data=data, idempotency_key="k-1")
    again, created_again = event_create(actor=ev.grid_worker, data=data, idempotency_key="k-1")
    assert created and not created_again and first.pk == again.pk
    with pytest.raises(ValidationFailed):
        event_create(actor=ev.grid_worker, data=Intake(title="别的", category="road_facility",
                                                      region_code=ev.village), idempotency_key="k-1")
    assert Event.objects.filter(idempotency_key="k-1").count() == 1


def test_merge_keeps_both_timelines(ev):
    a = report(ev)
    b = report(ev, title="同一件事")
    event_merge(actor=ev.village_desk, event_id=b.pk, into_id=a.pk)
    b.refresh_from_db()
    assert b.status == Status.VOIDED and b.duplicate_of_id == a.pk
    assert TimelineEntry.objects.filter(event=a, action="merge").exists()
    assert TimelineEntry.objects.filter(event=b, action="void").exists()
