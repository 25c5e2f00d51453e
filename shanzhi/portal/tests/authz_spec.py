"""Authorization-matrix routes of the residents' portal.

Public pages need no scope.  A resident's pages are scoped by the caller's own identity (reporter / requester
= the logged-in user): the spec logs in the resident who owns A's object and checks B's answers 404.  Staff
pages are scoped by region (people.change for correction requests, affairs.manage or regions.change for the
village settings).
"""

from __future__ import annotations

from collections.abc import Callable

from shanzhi.events.models import Event
from shanzhi.portal.models import CorrectionRequest, Notice, PortalSettings
from shanzhi.testing.authz import Built, Route
from shanzhi.testing.factories import NAMES

from . import helpers

PUBLIC_PAGE = "public portal page"
UNSCOPED = {
    "portal:index": PUBLIC_PAGE,
    "portal:village": PUBLIC_PAGE,
    "portal:village_search": PUBLIC_PAGE,
    "portal:notice": PUBLIC_PAGE,
    "portal:login": "the resident login page (answers the same whatever the phone)",
    "portal:login_code": "the second step of the caller's own login",
    "portal:login_password": "the resident login page",
    "portal:logout": "ends the caller's own session",
    "portal:rate_token": "public rating link: the unguessable one-time token of one event is the credential",
    "portal:report_new": "writes only into the caller's own home village (no region in the request)",
}

RESIDENT = {"role_at": {"village": "resident"}, "levels": ("village",)}


def _own_report(region_code: str) -> Built:
    _resident, user = helpers.resident_user(region_code)
    event = helpers.report(user, title=f"我的报告-{region_code}")
    return Built(kwargs={"pk": event.pk}, marker=event.title, obj=event)


def _own_closed_report(region_code: str) -> Built:
    built = _own_report(region_code)
    helpers.close(built.obj)
    return built


def _own_record(region_code: str) -> Built:
    resident, _user = helpers.resident_user(region_code)
    return Built(kwargs={}, marker=resident.name, obj=resident)


def _own_correction(region_code: str) -> Built:
    resident, user = helpers.resident_user(region_code)
    row = helpers.correction(resident, user)
    return Built(kwargs={"pk": row.pk}, marker=row.requested, obj=row)


def _listed(build: Callable[[str], Built]) -> Callable[[str], Built]:
    def wrapped(region_code: str) -> Built:
        built = build(region_code)
        return Built(kwargs={}, marker=built.marker, obj=built.obj)

    return wrapped


def _reporter(built: Built) -> object:
    return built.obj.reporter


def _requester(built: Built) -> object:
    return built.obj.requested_by


def _account(built: Built) -> object:
    return built.obj.portal_account.user


def _correction_for_staff(region_code: str) -> Built:
    resident, user = helpers.resident_user(region_code)
    row = helpers.correction(resident, user)
    return Built(kwargs={"pk": row.pk}, marker=row.reason, obj=row)


def _village(region_code: str) -> Built:
    return Built(kwargs={"code": region_code}, marker=NAMES[region_code], obj=region_code)


def _notice(region_code: str) -> Built:
    row = helpers.notice(region_code)
    return Built(kwargs={"pk": row.pk}, marker=row.title, obj=row)


ROUTES = [
    # a resident's own things
    Route("portal:me", "list", _listed(_own_report), login_as=_reporter, **RESIDENT),  # type: ignore[arg-type]
    Route("portal:my_reports", "list", _listed(_own_report), login_as=_reporter, **RESIDENT),  # type: ignore[arg-type]
    Route("portal:my_report", "detail", _own_report, login_as=_reporter, **RESIDENT),  # type: ignore[arg-type]
    Route("portal:my_report_rate", "action", _own_closed_report, login_as=_reporter, method="POST",
          payload=lambda b: {"rating": "5"},
          changed=lambda b: Event.objects.get(pk=b.obj.pk).rating is not None, **RESIDENT),  # type: ignore[arg-type]
    Route("portal:my_data", "list", _own_record, login_as=_account, **RESIDENT),  # type: ignore[arg-type]
    Route("portal:my_corrections", "list", _listed(_own_correction), login_as=_requester,
          **RESIDENT),  # type: ignore[arg-type]
    Route("portal:my_correction", "detail", _own_correction, login_as=_requester,
          **RESIDENT),  # type: ignore[arg-type]
    # staff
    Route("portal:staff_corrections", "list", _listed(_correction_for_staff), query=lambda a, b: {"status": ""}),
    Route("portal:staff_correction", "detail", _correction_for_staff),
    Route("portal:staff_correction", "action", _correction_for_staff, method="POST",
          payload=lambda b: {"decision": "accept"},
          changed=lambda b: CorrectionRequest.objects.get(pk=b.obj.pk).status != "pending"),
    Route("portal:staff_villages", "list", _listed(_village)),
    Route("portal:staff_village", "detail", _village),
    Route("portal:staff_village", "action", _village, method="POST",
          payload=lambda b: {"welcome": "越界", "duty_phone": ""},
          changed=lambda b: PortalSettings.objects.filter(region_code=b.obj).exists()),
    Route("portal:staff_notice_new", "action", _village, method="POST",
          payload=lambda b: {"title": "越界通知"},
          changed=lambda b: Notice.objects.filter(region_code=b.obj).exists()),
    Route("portal:staff_notice_withdraw", "action", _notice, method="POST",
          changed=lambda b: Notice.objects.get(pk=b.obj.pk).withdrawn),
]


# --- a resident's votes and plan comments (village affairs on the portal) ---


def _portal_meeting(region_code: str) -> Built:
    import datetime as dt

    from django.utils import timezone

    from shanzhi.affairs import services as affairs

    _resident, user = helpers.resident_user(region_code, birth_date=dt.date(1970, 5, 1))
    now = timezone.now()
    m = affairs.meeting_convene(actor="system", region_code=region_code, kind="villagers",
                                roster_kind="adult_villagers", title=f"网上表决-{region_code}",
                                held_at=now + dt.timedelta(days=8), notice_at=now, items=["修路"],
                                portal_voting=True)
    return Built(kwargs={"pk": m.pk}, marker=m.title, obj=(m, user))


def _published_plan(region_code: str) -> Built:
    import datetime as dt

    from django.utils import timezone

    from shanzhi.affairs.models import Decision, Stage
    from shanzhi.affairs.tests import helpers as affairs_helpers

    _resident, user = helpers.resident_user(region_code)
    d = affairs_helpers.decision(region_code, title=f"公示方案-{region_code}")
    Decision.objects.filter(pk=d.pk).update(stage=Stage.JOINT_MEETING,
                                            plan_published_at=timezone.now() - dt.timedelta(days=1))
    return Built(kwargs={"pk": d.pk}, marker=d.number, obj=(d, user))


def _signed_in(built: Built) -> bool:
    from shanzhi.affairs.models import RosterEntry

    return RosterEntry.objects.filter(meeting=built.obj[0], present=True).exists()


def _commented(built: Built) -> bool:
    from shanzhi.affairs.models import PlanComment

    return PlanComment.objects.filter(decision=built.obj[0]).exists()


def _second(built: Built) -> object:
    return built.obj[1]


ROUTES += [
    Route("portal:vote", "detail", _portal_meeting, login_as=_second, **RESIDENT),  # type: ignore[arg-type]
    Route("portal:vote", "action", _portal_meeting, login_as=_second, method="POST",
          payload=lambda b: {"what": "sign_in"}, changed=_signed_in, **RESIDENT),  # type: ignore[arg-type]
    Route("portal:plan", "detail", _published_plan, login_as=_second, **RESIDENT),  # type: ignore[arg-type]
    Route("portal:plan", "action", _published_plan, login_as=_second, method="POST",
          payload=lambda b: {"text": "越界意见"}, changed=_commented, **RESIDENT),  # type: ignore[arg-type]
]
