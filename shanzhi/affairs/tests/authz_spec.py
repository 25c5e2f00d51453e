"""Authorization-matrix routes of the village-affairs app."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

from shanzhi.affairs import services
from shanzhi.affairs.models import (
    Decision,
    Disclosure,
    LedgerEntry,
    Meeting,
    PettyPower,
    Stage,
    Statement,
    VillageSettings,
)
from shanzhi.people.tests.helpers import make_resident, village_in
from shanzhi.testing.authz import LEVELS, Built, Route

from . import helpers

_seq = itertools.count(1)
CADRE = {level: "village_cadre" for level in LEVELS}
SUPERVISOR = {level: "supervisor" for level in LEVELS}

_PUBLIC = "public village affairs pages (公开): no login, only published content of one village"
UNSCOPED = {
    "affairs:public_index": _PUBLIC,
    "affairs:public_decisions": _PUBLIC,
    "affairs:public_decision": _PUBLIC,
    "affairs:public_meetings": _PUBLIC,
    "affairs:public_disclosures": _PUBLIC,
    "affairs:public_statements": _PUBLIC,
    "affairs:public_statement": _PUBLIC,
    "affairs:public_statement_pdf": _PUBLIC,
    "affairs:public_powers": _PUBLIC,
    "affairs:public_verify": "public verification of a published record's code (公开)",
    "affairs:public_verify_code": "public verification of a published record's code (公开)",
}


def _decision(code: str) -> Built:
    d = helpers.decision(code, title=f"决策{next(_seq)}-{code}")
    return Built({"decision_id": d.pk}, d.number, d)


def _meeting(code: str) -> Built:
    code = village_in(code)
    for _ in range(3):
        make_resident(code, is_party_member=True, birth_date=dt.date(1980, 1, 1))
    now = dt.datetime.now(dt.UTC)
    m = services.meeting_convene(actor="system", region_code=code, kind="party_assembly",
                                 title=f"会议{next(_seq)}-{code}", held_at=now + dt.timedelta(days=8), notice_at=now)
    return Built({"meeting_id": m.pk}, m.title, m)


def _disclosure(code: str) -> Built:
    d = services.disclosure_publish(actor="system", region_code=village_in(code), category="village",
                                    cadence="quarterly", period="2026-Q1", title=f"公开{next(_seq)}-{code}",
                                    body="内容")
    return Built({"disclosure_id": d.pk}, d.title, d)


def _entry(code: str) -> Built:
    e = services.ledger_add(actor="system", region_code=village_in(code), kind="expense", category="办公",
                            counterparty=f"对方{next(_seq)}-{code}", amount="10", date=dt.date(2026, 1, 5),
                            voucher=helpers.voucher())
    return Built({"entry_id": e.pk}, e.counterparty, e)


def _statement(code: str) -> Built:
    entry = _entry(code)
    s = services.statement_publish(actor="system", region_code=village_in(code), year=2026, month=1)
    return Built({"statement_id": s.pk}, entry.marker, s)


def _decision_region(code: str) -> Built:
    built = _decision(code)
    return Built({}, built.obj.region_code, built.obj)


def _power(code: str) -> Built:
    p = services.power_create(actor="system", region_code=village_in(code), name=f"权力{next(_seq)}-{code}",
                              steps=["申请", "审核"])
    return Built({}, p.name, p)


def _members(code: str) -> Built:
    code = village_in(code)
    r = make_resident(code)
    m = services.committee_member_add(actor="system", region_code=code, resident_id=r.pk, post=f"委员{code}",
                                      elected_on=dt.date(2024, 1, 1))
    return Built({}, m.post, m)


def _nokw(build: Callable[[str], Built]) -> Callable[[str], Built]:
    """The same object for a route whose URL takes no arguments (lists, create actions)."""

    def built(code: str) -> Built:
        b = build(code)
        return Built({}, b.marker, b.obj)

    return built


def _region(built: Built) -> dict[str, str]:
    return {"region": built.obj.region_code}


def _count_in(model: type, built: Built, n: int) -> bool:
    return bool(model._default_manager.filter(region_code=built.obj.region_code).count() != n)  # type: ignore[attr-defined]


def _stage_changed(built: Built) -> bool:
    return bool(Decision.objects.get(pk=built.obj.pk).stage != Stage.PROPOSAL)


def _nothing(built: Built) -> bool:
    return False


ROUTES = [
    Route("affairs:decision_list", "list", _nokw(_decision)),
    Route("affairs:decision_detail", "detail", _decision),
    Route("affairs:decision_create", "action", _nokw(_decision), method="POST",
          payload=lambda b: {"region_code": b.obj.region_code, "title": "越界", "matter_type": "other"},
          changed=lambda b: _count_in(Decision, b, 1)),
    Route("affairs:decision_step", "action", _decision, method="POST", payload=lambda b: {"action": "branch_propose"},
          changed=_stage_changed),
    Route("affairs:decision_attach", "action", _decision, method="POST", payload=lambda b: {},
          changed=lambda b: b.obj.attachments.exists()),
    Route("affairs:meeting_list", "list", _nokw(_meeting)),
    Route("affairs:meeting_detail", "detail", _meeting),
    Route("affairs:meeting_create", "action", _nokw(_meeting), method="POST",
          payload=lambda b: {"region_code": b.obj.region_code, "kind": "party_assembly", "title": "越界",
                             "held_at": "2030-01-10T10:00", "notice_at": "2030-01-01T10:00"},
          changed=lambda b: _count_in(Meeting, b, 1)),
    Route("affairs:meeting_action", "action", _meeting, method="POST",
          payload=lambda b: {"what": "close", "minutes": "x", "signatures": "y"},
          changed=lambda b: Meeting.objects.get(pk=b.obj.pk).status != "convened"),
    Route("affairs:disclosure_calendar", "list", _nokw(_disclosure), query=lambda a, _b: _region(a)),
    Route("affairs:disclosure_detail", "detail", _disclosure),
    Route("affairs:disclosure_publish", "action", _nokw(_disclosure), method="POST",
          payload=lambda b: {"region_code": b.obj.region_code, "category": "party", "cadence": "immediate",
                             "period": "", "title": "越界", "body": "x"},
          changed=lambda b: _count_in(Disclosure, b, 1)),
    Route("affairs:disclosure_revise", "action", _disclosure, method="POST",
          payload=lambda b: {"title": "改", "body": "改", "reason": "越界"},
          changed=lambda b: _count_in(Disclosure, b, 1)),
    Route("affairs:ledger", "list", _nokw(_entry), role_at=CADRE),
    Route("affairs:ledger_add", "action", _nokw(_entry), method="POST", role_at=CADRE,
          payload=lambda b: {"region_code": b.obj.region_code, "kind": "income", "category": "x",
                             "counterparty": "y", "amount": "1", "date": "2026-01-02"},
          changed=lambda b: _count_in(LedgerEntry, b, 1)),
    Route("affairs:ledger_import", "action", _nokw(_entry), method="POST", role_at=CADRE,
          payload=lambda b: {"region_code": b.obj.region_code},
          changed=lambda b: _count_in(LedgerEntry, b, 1)),
    Route("affairs:ledger_sign", "action", _entry, method="POST", role_at=SUPERVISOR,
          payload=lambda b: {"as": "supervisor"},
          changed=lambda b: LedgerEntry.objects.get(pk=b.obj.pk).cosigned_at is not None),
    Route("affairs:statement_publish", "action", _nokw(_entry), method="POST", role_at=CADRE,
          payload=lambda b: {"region_code": b.obj.region_code, "month": "2026-01"},
          changed=lambda b: Statement.objects.filter(region_code=b.obj.region_code).exists()),
    Route("affairs:statement_detail", "detail", _statement, role_at=CADRE),
    Route("affairs:statement_pdf", "detail", _statement, role_at=CADRE),
    Route("affairs:power_list", "list", _power),
    Route("affairs:power_action", "action", _power, method="POST",
          payload=lambda b: {"what": "create", "region_code": b.obj.region_code, "name": "越界", "steps": "a"},
          changed=lambda b: _count_in(PettyPower, b, 1)),
    Route("affairs:members", "list", _members, query=lambda a, _b: _region(a)),
    Route("affairs:members_action", "action", _members, method="POST",
          payload=lambda b: {"what": "settings", "region_code": b.obj.region_code, "large_amount": "1",
                             "plan_publish_days": "20", "result_publish_days": "5", "notice_lead_days": "7"},
          changed=lambda b: VillageSettings.objects.filter(region_code=b.obj.region_code).exists()),
    Route("affairs:stats", "list", _decision_region),
    Route("affairs:stats_export", "list", _decision_region),
]


# --- moderation of residents' comments on published plans (affairs.moderate) ---


def _plan_comment(code: str) -> Built:
    from shanzhi.affairs.models import PlanComment
    from shanzhi.testing.factories import make_user

    village = village_in(code)
    d = helpers.decision(village, title=f"公示{next(_seq)}-{village}")
    resident = make_resident(village)
    row = PlanComment.objects.create(region_code=village, decision=d, resident=resident,
                                     user=make_user("resident", village), text=f"意见{next(_seq)}-{village}")
    return Built({"comment_id": row.pk}, row.text, row)


def _comment_changed(built: Built) -> bool:
    from shanzhi.affairs.models import PlanComment

    return PlanComment.objects.get(pk=built.obj.pk).status != "pending"


ROUTES += [
    Route("affairs:comment_list", "list", _nokw(_plan_comment)),
    Route("affairs:comment_moderate", "action", _plan_comment, method="POST",
          payload=lambda b: {"decision": "approve"}, changed=_comment_changed),
]
