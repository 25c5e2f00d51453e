"""Demo hook: village affairs for the first villages of the demo city.

For each chosen village: a village committee (with a declared relative), a supervisory committee,
representatives; decisions at EVERY stage of 五议两公开 (walked through real meetings and votes; publication
periods compressed to zero for the walk — see ``walk``), one rejected and one returned to the party branch;
ledger entries with vouchers and published monthly statements; quarterly disclosures (some periods left
overdue so the due calendar shows warnings); the petty-power list with recorded uses.  Everything is
written through the services (audited, hash-chained, with verification codes).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.test import override_settings

from shanzhi.core.demo import DemoContext
from shanzhi.people.models import Resident

from . import calendar, services
from .models import CommitteeMember, MeetingKind, Stage
from .walk import advance, vote_meeting

VILLAGES = {"small": 2, "city": 4, "province": 6}
STAGES = [Stage.PROPOSAL, Stage.PARTY_BRANCH, Stage.JOINT_MEETING, Stage.PARTY_ASSEMBLY, Stage.VILLAGERS_MEETING,
          Stage.RESULT_PUBLISHED, Stage.IMPLEMENTATION, Stage.IMPLEMENTATION_PUBLISHED, Stage.EVALUATION,
          Stage.CLOSED]
MATTERS = [
    ("村集体厂房出租", "leasing", "180000"), ("村道硬化工程招投标", "project", "650000"),
    ("2026年度集体收益分配", "income_distribution", "320000"), ("老年食堂建设资金使用", "large_fund", "90000"),
    ("宅基地安排（第三批）", "homestead", "0"), ("高龄老人补贴发放", "allowance", "48000"),
    ("闲置校舍处置", "asset_disposal", "260000"), ("农田水利项目借款", "borrowing", "150000"),
    ("征地补偿款分配", "land_compensation", "1200000"), ("村文化礼堂修缮", "project", "85000"),
]
POWERS = [("村级印章使用", ["申请", "村干部审核", "登记", "用印", "存档"]),
          ("低保、困难补助申请", ["村民申请", "村民代表评议", "公示7天", "上报乡镇"]),
          ("小额工程发包", ["提出需求", "村两委商议", "比选", "公示", "签订合同"])]
INCOME = [("租金收入", "承租企业（演示）"), ("上级补助", "镇财政所（演示）"), ("经营收入", "合作社（演示）")]
EXPENSE = [("道路维修", "某建筑队（演示）"), ("办公费用", "某文具店（演示）"), ("环境整治", "保洁公司（演示）")]


def _voucher(rng: Any) -> ContentFile[bytes]:
    return ContentFile(f"演示凭证 demo voucher {rng.random()}".encode(), name="voucher.txt")


def build(ctx: DemoContext) -> None:
    villages = ctx.villages[: VILLAGES.get(ctx.size, 2)]
    zero = {"plan_publish_days": 0, "result_publish_days": 0}
    with override_settings(SHANZHI_AFFAIRS=zero):
        for village in ctx.track(villages, "village affairs", len(villages)):
            _village(ctx, village.code)
    calendar.check_disclosures([v.code for v in villages])


def _village(ctx: DemoContext, code: str) -> None:
    rng = ctx.rng
    cadre = ctx.users.get(f"village_cadre_{code}") or "system"
    supervisor = ctx.users.get(f"supervisor_{code}") or "system"
    residents = list(Resident.objects.filter(region_code=code, active=True, birth_date__isnull=False,
                                              birth_date__lte=dt.date(ctx.now.year - 18, 1, 1)).order_by("pk"))
    if len(residents) < 16:
        return
    party = [r for r in residents if r.is_party_member] or residents[:8]
    if not any(r.is_party_member for r in residents):
        # the people demo does not mark party members: mark a fixed share (demo data only)
        Resident.objects.filter(pk__in=[r.pk for r in residents[:8]]).update(is_party_member=True)
    others = [r for r in residents if r not in party]
    day = ctx.now.date() - dt.timedelta(days=400)
    for r in party[:3]:
        services.committee_member_add(actor="system", region_code=code, resident_id=r.pk, post="村委委员",
                                      elected_on=day)
    members = list(CommitteeMember.objects.filter(region_code=code))
    services.relative_declare(actor="system", member_id=members[0].pk, resident_id=others[0].pk, relation="配偶")
    for r in others[1:4]:
        services.supervisory_member_add(actor="system", region_code=code, resident_id=r.pk, elected_on=day)
    for r in others[4:12]:
        services.representative_add(actor="system", region_code=code, resident_id=r.pk, since=day)

    # decisions at every stage
    for (title, matter, amount), stage in zip(MATTERS, STAGES, strict=True):
        d = services.decision_create(actor=cadre, region_code=code, title=title, matter_type=matter, amount=amount,
                                     description="演示数据：" + title, proposer="党员群众联名")
        advance(actor=cadre, supervisor=supervisor, decision=d, to=stage, compress=False)
        if stage in (Stage.JOINT_MEETING, Stage.IMPLEMENTATION):
            services.decision_transition(actor=supervisor, decision_id=d.pk, action="opinion",
                                         opinion="村监会意见：请同步公开预算明细（演示）")
    # one rejected by the representatives, one returned by the party assembly
    rejected = services.decision_create(actor=cadre, region_code=code, title="村集体资金出借", matter_type="borrowing",
                                        amount="300000", description="演示数据")
    advance(actor=cadre, supervisor=supervisor, decision=rejected, to=Stage.PARTY_ASSEMBLY, compress=False)
    m = vote_meeting(actor=cadre, decision=rejected, kind=MeetingKind.REPRESENTATIVES, present_share=0.9,
                     for_share=0.3)
    services.decision_transition(actor=cadre, decision_id=rejected.pk, action="villagers_resolve", meeting_id=m.pk)
    returned = services.decision_create(actor=cadre, region_code=code, title="集体林地承包方案",
                                        matter_type="leasing", amount="70000", description="演示数据")
    advance(actor=cadre, supervisor=supervisor, decision=returned, to=Stage.JOINT_MEETING, compress=False)
    m = vote_meeting(actor=cadre, decision=returned, kind=MeetingKind.PARTY_ASSEMBLY, present_share=0.8,
                     for_share=0.4)
    services.decision_transition(actor=cadre, decision_id=returned.pk, action="assembly_review", meeting_id=m.pk)
    small = services.decision_create(actor=cadre, region_code=code, title="村务公开栏维护", matter_type="other",
                                     amount="1800", description="演示数据：小额事项，村委会研究决定")
    services.decision_transition(actor=cadre, decision_id=small.pk, action="branch_propose")
    services.decision_transition(actor=cadre, decision_id=small.pk, action="committee_decide",
                                 opinion="村两委研究同意")

    # ledger: three past months, statements for the last two (the third month is left unpublished: overdue)
    first = ctx.now.date().replace(day=1)
    months = []
    for back in (3, 2, 1):
        y, mth = first.year, first.month - back
        while mth < 1:
            y, mth = y - 1, mth + 12
        months.append((y, mth))
    for y, mth in months:
        for i in range(6):
            kind = "income" if i % 2 == 0 else "expense"
            category, counterparty = rng.choice(INCOME if kind == "income" else EXPENSE)
            entry = services.ledger_add(
                actor=cadre, region_code=code, kind=kind, category=category, counterparty=counterparty,
                amount=Decimal(rng.randrange(500, 30000)) + Decimal("0.50"), date=dt.date(y, mth, 1 + i * 4),
                voucher=_voucher(rng), note="演示数据")
            if kind == "expense":
                services.ledger_sign(actor=cadre, entry_id=entry.pk, as_supervisor=False)
                if rng.random() < 0.7:
                    services.ledger_sign(actor=supervisor, entry_id=entry.pk, as_supervisor=True)
    for y, mth in months[1:]:
        services.statement_publish(actor=cadre, region_code=code, year=y, month=mth)

    # quarterly party / village affairs: the previous quarter is published for party affairs only
    q = (first.month - 1) // 3
    py, pq = (first.year, q) if q else (first.year - 1, 4)
    services.disclosure_publish(actor=cadre, region_code=code, category="party", cadence="quarterly",
                                period=f"{py}-Q{pq}", title=f"{py}年第{pq}季度党务公开",
                                body="党员发展、党费收缴、组织生活情况（演示数据）")
    notice = services.disclosure_publish(actor=cadre, region_code=code, category="village", cadence="immediate",
                                         period="", title="村规民约修订公告", body="修订草案全文（演示数据）")
    services.disclosure_revise(actor=cadre, disclosure_id=notice.pk, title="村规民约修订公告",
                               body="修订草案全文（更正第五条）（演示数据）", reason="更正第五条文字")

    for name, steps in POWERS:
        power = services.power_create(actor=cadre, region_code=code, name=name, steps=steps,
                                      description="演示数据")
        services.power_exercise(actor=cadre, power_id=power.pk, subject=f"{name}（演示）", steps_done=steps,
                                happened_on=ctx.now.date() - dt.timedelta(days=rng.randrange(1, 60)))
