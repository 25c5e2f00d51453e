"""Every write of village affairs: keyword-only, one transaction, scope re-checked, one audit row inside it."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.core import audit
from shanzhi.core.codes import Level
from shanzhi.core.errors import Conflict, NotFound, ValidationFailed
from shanzhi.core.masking import mask
from shanzhi.core.scope import can, require_scope
from shanzhi.people.models import Household, Resident
from shanzhi.regions.models import Region

from . import publish, rules
from .models import (
    REQUIRED_TYPES,
    Ballot,
    Cadence,
    Choice,
    CommitteeMember,
    Decision,
    DecisionAttachment,
    DecisionStep,
    Disclosure,
    DisclosureCategory,
    EntryKind,
    LedgerEntry,
    MatterType,
    Meeting,
    MeetingKind,
    MeetingStatus,
    PettyPower,
    PowerExercise,
    Relative,
    Representative,
    RosterEntry,
    RosterKind,
    Stage,
    Statement,
    SupervisoryMember,
    SupervisoryOpinion,
    VillageSettings,
    VoteItem,
    VoteReceipt,
)
from .transitions import TABLE, allowed_actions

MAX_UPLOAD = 20 * 1024 * 1024


LEDGER_FIELDS = ["region_code", "kind", "category", "counterparty", "amount", "date", "voucher_sha256", "note",
                 "recorded_by", "approved_by", "approved_at", "cosigned_by", "cosigned_at"]


def _ledger_snapshot(entry: LedgerEntry) -> dict[str, Any]:
    return {**audit.snapshot(entry, LEDGER_FIELDS), "voucher": entry.voucher.name}


def _label(actor: Any) -> str:
    return getattr(actor, "username", "") or str(actor or "system")


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _village(region_code: str) -> Region:
    region = Region.objects.filter(code=region_code or "").first()
    if region is None or region.level != Level.VILLAGE.value:
        raise ValidationFailed(_("Choose a village."), detail={"region_code": "must be a village code"})
    return region


def require_village(actor: Any, permission: str, region_code: str) -> None:
    """Pages check the target village before reading an upload (a foreign village answers 404)."""
    _village(region_code)
    _write_scope(actor, permission, region_code)


def _write_scope(actor: Any, permission: str, region_code: str) -> None:
    if actor != "system":
        require_scope(actor, permission, region_code)


def _sha256(upload: Any) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _check_upload(upload: Any, field: str) -> Any:
    if upload is None or not getattr(upload, "name", ""):
        raise ValidationFailed(_("A file is required."), detail={field: "required"})
    if upload.size > MAX_UPLOAD:
        raise ValidationFailed(_("The file is too large."), detail={field: "at most 20 MB"})
    return upload


def _amount(value: Any, field: str = "amount") -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(_("Enter an amount."), detail={field: "not a number"}) from None
    if amount < 0 or amount >= Decimal("1e12"):
        raise ValidationFailed(_("Enter an amount."), detail={field: "must be between 0 and 10^12"})
    return amount


# --- settings ---


def settings_update(*, actor: Any, region_code: str, large_amount: Any, plan_publish_days: int,
                    result_publish_days: int, notice_lead_days: int) -> VillageSettings:
    _village(region_code)
    _write_scope(actor, "affairs.manage", region_code)
    amount = _amount(large_amount, "large_amount")
    errors = {}
    # the statutory minimums cannot be lowered by a village
    if plan_publish_days < int(rules.setting("plan_publish_days")):
        errors["plan_publish_days"] = f"at least {rules.setting('plan_publish_days')}"
    if result_publish_days < int(rules.setting("result_publish_days")):
        errors["result_publish_days"] = f"at least {rules.setting('result_publish_days')}"
    if not 0 <= notice_lead_days <= 60:
        errors["notice_lead_days"] = "between 0 and 60"
    if errors:
        raise ValidationFailed(_("Some settings are below the statutory minimum."), detail=errors)
    with transaction.atomic():
        row = VillageSettings.objects.select_for_update().filter(region_code=region_code).first()
        before = audit.snapshot(row) if row else None
        row = row or VillageSettings(region_code=region_code)
        row.large_amount, row.plan_publish_days = amount, plan_publish_days
        row.result_publish_days, row.notice_lead_days = result_publish_days, notice_lead_days
        row.save()
        audit.record(actor=actor, action="affairs.settings.update", obj=row, before=before,
                     after=audit.snapshot(row))
    return row


# --- decisions ---


def _number(region_code: str) -> str:
    """JC + village code + date + the day's sequence (the unique constraint settles a concurrent clash)."""
    today = timezone.localdate()
    prefix = f"JC{region_code}{today:%y%m%d}"
    n = Decision.objects.filter(number__startswith=prefix).count() + 1
    return f"{prefix}{n:03d}"


def decision_create(*, actor: Any, region_code: str, title: str, matter_type: str, amount: Any = 0,
                    description: str = "", proposer: str = "") -> Decision:
    _village(region_code)
    _write_scope(actor, "affairs.manage", region_code)
    title = (title or "").strip()
    errors: dict[str, str] = {}
    if not title or len(title) > 200:
        errors["title"] = "1 to 200 characters"
    if matter_type not in MatterType.values:
        errors["matter_type"] = f"one of {MatterType.values}"
    if errors:
        raise ValidationFailed(detail=errors)
    value = _amount(amount)
    threshold = rules.for_village(region_code).large_amount
    required = matter_type in REQUIRED_TYPES or value >= threshold
    with transaction.atomic():
        fields = {"region_code": region_code, "title": title, "matter_type": matter_type, "amount": value,
                  "description": (description or "").strip(), "proposer": (proposer or "").strip()[:100],
                  "requires_procedure": required, "stage": Stage.PROPOSAL}
        for attempt in range(5):
            try:
                with transaction.atomic():
                    number = _number(region_code)
                    if attempt:
                        number += f"-{secrets.token_hex(2)}"
                    decision = Decision.objects.create(number=number, **fields)
                break
            except IntegrityError:
                continue
        else:  # pragma: no cover - five clashes in a row
            raise Conflict(_("Please try again."), code="number_clash")
        step = DecisionStep.objects.create(decision=decision, action="propose", from_stage="",
                                           to_stage=Stage.PROPOSAL, actor=_user(actor), actor_label=_label(actor),
                                           at=timezone.now())
        entry = audit.record(actor=actor, action="affairs.decision.create", obj=decision,
                             after=audit.snapshot(decision))
        step.audit_hash = entry.hash
        step.save(update_fields=["audit_hash"])
    return decision


def _lock_decision(actor: Any, decision_id: int, permission: str) -> Decision:
    visible = Decision.objects.restrict(actor, "affairs.view").filter(pk=decision_id)
    if actor != "system" and not visible.exists():
        raise NotFound("decision")
    decision = Decision.objects.select_for_update().filter(pk=decision_id).first()
    if decision is None:
        raise NotFound("decision")
    _write_scope(actor, permission, decision.region_code)
    return decision


def decision_add_attachment(*, actor: Any, decision_id: int, upload: Any, name: str = "") -> DecisionAttachment:
    upload = _check_upload(upload, "file")
    with transaction.atomic():
        decision = _lock_decision(actor, decision_id, "affairs.manage")
        if decision.stage in (Stage.CLOSED, Stage.REJECTED):
            raise Conflict(_("The record is closed."), code="closed")
        att = DecisionAttachment.objects.create(decision=decision, name=(name or upload.name)[:200], file=upload,
                                                sha256=_sha256(upload))
        audit.record(actor=actor, action="affairs.decision.attach", obj=decision,
                     after={"attachment": att.pk, "name": att.name, "sha256": att.sha256})
    return att


def _elapsed(since: dt.datetime | None, days: int, now: dt.datetime) -> bool:
    return since is not None and now >= since + dt.timedelta(days=days)


def decision_transition(*, actor: Any, decision_id: int, action: str, opinion: str = "",
                        meeting_id: int | None = None) -> Decision:
    """Apply one row of the procedure table (see ``transitions``)."""
    rule = TABLE.get(action)
    if rule is None:
        raise ValidationFailed(detail={"action": f"unknown action {action!r}", "allowed": sorted(TABLE)})
    opinion = (opinion or "").strip()
    if len(opinion) > 4000:
        raise ValidationFailed(detail={"opinion": "at most 4000 characters"})
    if rule.reason and not opinion:
        raise ValidationFailed(_("Please write the text of this step."), detail={"opinion": "required"})
    with transaction.atomic():
        decision = _lock_decision(actor, decision_id, rule.permission)
        now = timezone.now()
        if decision.stage not in rule.sources or (rule.optional_only and decision.requires_procedure):
            raise Conflict(
                _("This step is not allowed now: the decision is at stage “%(stage)s”.")
                % {"stage": decision.get_stage_display()},
                detail={"stage": decision.stage,
                        "allowed": allowed_actions(decision.stage, requires_procedure=decision.requires_procedure)},
                code="step_out_of_order",
            )
        village = rules.for_village(decision.region_code)
        if rule.wait == "plan" and not _elapsed(decision.plan_published_at, village.plan_publish_days, now):
            raise Conflict(_("The plan must stay published for %(days)s days first.")
                           % {"days": village.plan_publish_days},
                           detail={"published_at": decision.plan_published_at,
                                   "days": village.plan_publish_days}, code="publication_period")
        if rule.wait == "result" and not _elapsed(decision.result_published_at, village.result_publish_days, now):
            raise Conflict(_("The voting result must stay published for %(days)s days first.")
                           % {"days": village.result_publish_days},
                           detail={"published_at": decision.result_published_at,
                                   "days": village.result_publish_days}, code="publication_period")
        before = audit.snapshot(decision)
        from_stage = decision.stage
        target = rule.target
        meeting = None
        if rule.meeting_kinds:
            meeting, item = _meeting_vote(decision, meeting_id, rule.meeting_kinds)
            if not item.passed:
                target = rule.fail_target
        if action == "opinion":
            SupervisoryOpinion.objects.create(region_code=decision.region_code, decision=decision,
                                              stage=decision.stage, text=opinion, author=_user(actor))
        if action == "evaluate":
            decision.evaluation = opinion
        if action == "sign":
            decision.supervisory_signed_by = _user(actor)
            decision.supervisory_signed_at = now
        passed_meeting = meeting is not None and target == rule.target
        if rule.publishes == "plan" and (meeting is None or passed_meeting):
            decision.plan_published_at = now
        if rule.publishes == "result":
            decision.result_published_at = now
        if rule.publishes == "implementation":
            decision.implementation_published_at = now
        if target == Stage.PARTY_BRANCH and from_stage != Stage.PARTY_BRANCH:
            decision.plan_published_at = None  # a returned plan must be deliberated and published again
        if target is not None:
            decision.stage = target
        decision.version += 1
        decision.save()
        step = DecisionStep.objects.create(decision=decision, action=action, from_stage=from_stage,
                                           to_stage=decision.stage, meeting=meeting, opinion=opinion,
                                           actor=_user(actor), actor_label=_label(actor), at=now)
        entry = audit.record(actor=actor, action=f"affairs.decision.{action}", obj=decision, before=before,
                             after={**audit.snapshot(decision), "opinion": opinion[:500],
                                    "meeting": meeting.pk if meeting else None})
        step.audit_hash = entry.hash
        step.save(update_fields=["audit_hash"])
        if rule.publishes and (meeting is None or passed_meeting):
            publish.publish(actor=actor, kind="decision", obj=decision, upto=step.pk,
                            title=f"{decision.title} · {decision.get_stage_display()}")
            if rule.publishes == "result":
                _major_disclosure(actor, decision, now)
    return decision


def _meeting_vote(decision: Decision, meeting_id: int | None, kinds: frozenset[str]) -> tuple[Meeting, VoteItem]:
    if not meeting_id:
        raise ValidationFailed(_("Choose the meeting that voted on this decision."), detail={"meeting": "required"})
    item = (VoteItem.objects.select_related("meeting")
            .filter(meeting_id=meeting_id, decision=decision, meeting__region_code=decision.region_code).first())
    if item is None or item.meeting.kind not in kinds:
        raise ValidationFailed(_("That meeting did not vote on this decision at this step."),
                               detail={"meeting": f"a closed meeting of kind {sorted(kinds)} with this item"})
    if item.meeting.status != MeetingStatus.CLOSED:
        raise Conflict(_("Close the meeting first; its result is computed when it closes."), code="meeting_open")
    if DecisionStep.objects.filter(decision=decision, meeting=item.meeting).exists():
        raise Conflict(_("This meeting's vote has already been applied."), code="meeting_used")
    return item.meeting, item


def _major_disclosure(actor: Any, decision: Decision, now: dt.datetime) -> None:
    """A resolved major matter is disclosed at once (三务公开: village affairs, immediate)."""
    body = "\n".join([decision.title, decision.get_matter_type_display(), f"{decision.amount}",
                      decision.description])
    _disclosure_insert(actor, region_code=decision.region_code, category=DisclosureCategory.VILLAGE,
                       cadence=Cadence.IMMEDIATE, period="", title=decision.title, body=body, now=now)


# --- committee, relatives, representatives, supervisory committee ---


def _resident(region_code: str, resident_id: Any) -> Resident:
    resident = Resident.objects.filter(pk=resident_id, region_code=region_code, active=True).first() \
        if str(resident_id or "").isdigit() else None
    if resident is None:
        raise ValidationFailed(_("Choose a resident of this village."), detail={"resident": "not in this village"})
    return resident


def committee_member_add(*, actor: Any, region_code: str, resident_id: int, post: str,
                         elected_on: dt.date) -> CommitteeMember:
    _village(region_code)
    _write_scope(actor, "affairs.manage", region_code)
    resident = _resident(region_code, resident_id)
    with transaction.atomic():
        if SupervisoryMember.objects.filter(resident=resident, active=True).exists():
            raise ValidationFailed(_("A supervisory committee member cannot sit on the village committee."),
                                   detail={"resident": "is a supervisory member"})
        member = CommitteeMember.objects.create(region_code=region_code, resident=resident, post=post[:40],
                                                elected_on=elected_on)
        audit.record(actor=actor, action="affairs.committee.add", obj=member, after=audit.snapshot(member))
    return member


def relative_declare(*, actor: Any, member_id: int, resident_id: int, relation: str) -> Relative:
    with transaction.atomic():
        member = CommitteeMember.objects.restrict(actor, "affairs.view").filter(pk=member_id).first() \
            if actor != "system" else CommitteeMember.objects.filter(pk=member_id).first()
        if member is None:
            raise NotFound("committee member")
        _write_scope(actor, "affairs.manage", member.region_code)
        resident = Resident.objects.filter(pk=resident_id, active=True).first()
        if resident is None:
            raise ValidationFailed(detail={"resident": "unknown"})
        relative, _created = Relative.objects.get_or_create(
            member=member, resident=resident, defaults={"region_code": member.region_code, "relation": relation[:20]})
        audit.record(actor=actor, action="affairs.relative.declare", obj=relative, after=audit.snapshot(relative))
    return relative


def representative_add(*, actor: Any, region_code: str, resident_id: int, since: dt.date) -> Representative:
    _village(region_code)
    _write_scope(actor, "affairs.manage", region_code)
    resident = _resident(region_code, resident_id)
    with transaction.atomic():
        if Representative.objects.filter(resident=resident, active=True).exists():
            raise ValidationFailed(detail={"resident": "already a representative"})
        rep = Representative.objects.create(region_code=region_code, resident=resident, since=since)
        audit.record(actor=actor, action="affairs.representative.add", obj=rep, after=audit.snapshot(rep))
    return rep


def supervisory_member_add(*, actor: Any, region_code: str, resident_id: int,
                           elected_on: dt.date) -> SupervisoryMember:
    """村监会 member: never a village committee member nor a declared close relative of one."""
    _village(region_code)
    _write_scope(actor, "affairs.manage", region_code)
    resident = _resident(region_code, resident_id)
    with transaction.atomic():
        if CommitteeMember.objects.filter(resident=resident, region_code=region_code, active=True).exists():
            raise ValidationFailed(
                _("A member of the village committee cannot be elected to the supervisory committee."),
                detail={"resident": "is a village committee member"}, code="committee_member")
        relative = (Relative.objects.select_related("member__resident")
                    .filter(resident=resident, member__active=True, member__region_code=region_code).first())
        if relative is not None:
            raise ValidationFailed(
                _("%(name)s is a declared close relative (%(relation)s) of village committee member %(member)s "
                  "and cannot be elected to the supervisory committee.")
                % {"name": mask("name", resident.name), "relation": relative.relation,
                   "member": mask("name", relative.member.resident.name)},
                detail={"resident": "close relative of a village committee member"}, code="relative")
        if SupervisoryMember.objects.filter(resident=resident, active=True).exists():
            raise ValidationFailed(detail={"resident": "already a supervisory member"})
        member = SupervisoryMember.objects.create(region_code=region_code, resident=resident,
                                                  elected_on=elected_on)
        audit.record(actor=actor, action="affairs.supervisory.add", obj=member, after=audit.snapshot(member))
    return member


# --- meetings and votes ---


def _roster(region_code: str, roster_kind: str, on: dt.date) -> list[RosterEntry]:
    entries: list[RosterEntry] = []
    if roster_kind == RosterKind.HOUSEHOLDS:
        for h in Household.objects.filter(region_code=region_code, active=True).order_by("pk"):
            entries.append(RosterEntry(household=h, label=h.number[:60]))
        return entries
    residents = Resident.objects.filter(region_code=region_code, active=True)
    if roster_kind == RosterKind.PARTY_MEMBERS:
        residents = residents.filter(is_party_member=True)
    elif roster_kind == RosterKind.REPRESENTATIVES:
        reps = Representative.objects.filter(region_code=region_code, active=True).values("resident_id")
        residents = residents.filter(pk__in=reps)
    elif roster_kind == RosterKind.COMMITTEE:
        ids = list(CommitteeMember.objects.filter(region_code=region_code, active=True).values_list(
            "resident_id", flat=True))
        ids += list(SupervisoryMember.objects.filter(region_code=region_code, active=True).values_list(
            "resident_id", flat=True))
        residents = residents.filter(pk__in=ids)
    else:  # adult villagers: 18 or older on the meeting day
        adult = on.replace(year=on.year - 18) if not (on.month == 2 and on.day == 29) else on.replace(
            year=on.year - 18, day=28)
        residents = residents.filter(birth_date__isnull=False, birth_date__lte=adult)
    for r in residents.order_by("pk"):
        entries.append(RosterEntry(resident=r, label=mask("name", r.name)[:60]))
    return entries


ROSTERS_FOR = {
    MeetingKind.JOINT: {RosterKind.COMMITTEE},
    MeetingKind.PARTY_ASSEMBLY: {RosterKind.PARTY_MEMBERS},
    MeetingKind.REPRESENTATIVES: {RosterKind.REPRESENTATIVES},
    MeetingKind.VILLAGERS: {RosterKind.ADULT_VILLAGERS, RosterKind.HOUSEHOLDS},
}


def meeting_convene(*, actor: Any, region_code: str, kind: str, title: str, held_at: dt.datetime,
                    notice_at: dt.datetime, roster_kind: str = "", secret_ballot: bool = False,
                    decision_ids: list[int] | None = None, items: list[str] | None = None,
                    portal_voting: bool = False) -> Meeting:
    """Convene a meeting: the roster is snapshotted now; notice must precede it by the lead time."""
    _village(region_code)
    _write_scope(actor, "affairs.manage", region_code)
    errors: dict[str, str] = {}
    if kind not in MeetingKind.values:
        errors["kind"] = f"one of {MeetingKind.values}"
    else:
        allowed = ROSTERS_FOR[MeetingKind(kind)]
        roster_kind = roster_kind or next(iter(sorted(allowed)))
        if roster_kind not in allowed:
            errors["roster_kind"] = f"one of {sorted(allowed)} for this kind of meeting"
    title = (title or "").strip()
    if not title or len(title) > 200:
        errors["title"] = "1 to 200 characters"
    if timezone.is_naive(held_at) or timezone.is_naive(notice_at):
        errors["held_at"] = "times must carry a time zone"
    if errors:
        raise ValidationFailed(detail=errors)
    lead = rules.for_village(region_code).notice_lead_days
    if held_at - notice_at < dt.timedelta(days=lead):
        raise ValidationFailed(_("Notice must be given at least %(days)s days before the meeting.") % {"days": lead},
                               detail={"notice_at": f"at least {lead} days before held_at"}, code="notice_too_late")
    decisions = list(Decision.objects.filter(pk__in=decision_ids or [], region_code=region_code))
    if len(decisions) != len(set(decision_ids or [])):
        raise ValidationFailed(detail={"decisions": "every decision must belong to this village"})
    roster = _roster(region_code, roster_kind, held_at.date())
    if not roster:
        raise ValidationFailed(_("The roster is empty: nobody to count this meeting against."),
                               detail={"roster_kind": "no people on this roster"})
    with transaction.atomic():
        meeting = Meeting.objects.create(region_code=region_code, kind=kind, title=title, held_at=held_at,
                                         notice_at=notice_at, roster_kind=roster_kind, secret_ballot=secret_ballot,
                                         portal_voting=portal_voting)
        for e in roster:
            e.meeting = meeting
        RosterEntry.objects.bulk_create(roster)
        VoteItem.objects.bulk_create(
            [VoteItem(meeting=meeting, decision=d, title=d.title) for d in decisions]
            + [VoteItem(meeting=meeting, title=t.strip()[:200]) for t in (items or []) if t.strip()])
        audit.record(actor=actor, action="affairs.meeting.convene", obj=meeting,
                     after={**audit.snapshot(meeting), "roster": len(roster)})
    return meeting


def _lock_meeting(actor: Any, meeting_id: int, permission: str = "affairs.manage") -> Meeting:
    if actor != "system" and not Meeting.objects.restrict(actor, "affairs.view").filter(pk=meeting_id).exists():
        raise NotFound("meeting")
    meeting = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
    if meeting is None:
        raise NotFound("meeting")
    _write_scope(actor, permission, meeting.region_code)
    return meeting


def _open(meeting: Meeting) -> None:
    if meeting.status == MeetingStatus.CLOSED:
        raise Conflict(_("The meeting is closed; nothing can be changed."), code="meeting_closed")


def meeting_sign_in(*, actor: Any, meeting_id: int, entry_ids: list[int]) -> int:
    """The clerk marks people (or households) on the roster as present.  Returns how many were newly marked."""
    with transaction.atomic():
        meeting = _lock_meeting(actor, meeting_id)
        _open(meeting)
        entries = list(RosterEntry.objects.filter(meeting=meeting, pk__in=entry_ids))
        if len(entries) != len(set(entry_ids)):
            raise ValidationFailed(_("Only people on this meeting's roster can sign in."),
                                   detail={"entries": "not on the roster"})
        now = timezone.now()
        marked = [e for e in entries if not e.present]
        for e in marked:
            e.present, e.signed_in_by, e.signed_in_at = True, "clerk", now
        RosterEntry.objects.bulk_update(marked, ["present", "signed_in_by", "signed_in_at"])
        audit.record(actor=actor, action="affairs.meeting.sign_in", obj=meeting,
                     after={"entries": [e.pk for e in marked], "by": "clerk"})
    return len(marked)


def meeting_self_sign_in(*, meeting_id: int, resident_id: int, actor: Any = "portal") -> RosterEntry:
    """A resident signs in on the portal (the portal resolves its user to a Resident and passes the id)."""
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
        if meeting is None:
            raise NotFound("meeting")
        _open(meeting)
        entry = RosterEntry.objects.filter(meeting=meeting).filter(roster_of(resident_id)).first()
        if entry is None:
            raise ValidationFailed(_("You are not on this meeting's roster."), detail={"resident": "not on roster"})
        if not entry.present:
            entry.present, entry.signed_in_by, entry.signed_in_at = True, "self", timezone.now()
            entry.save(update_fields=["present", "signed_in_by", "signed_in_at"])
            audit.record(actor=actor, action="affairs.meeting.sign_in", obj=meeting,
                         after={"entries": [entry.pk], "by": "self"})
    return entry


def _item(meeting: Meeting, item_id: int) -> VoteItem:
    item = VoteItem.objects.select_for_update().filter(pk=item_id, meeting=meeting).first()
    if item is None:
        raise NotFound("vote item")
    return item


def roster_of(resident_id: int) -> Q:
    """The roster entries that stand for one resident: their own, or their household's (household rosters)."""
    return Q(resident_id=resident_id) | Q(household__members__pk=resident_id)


def _portal_voter(actor: Any) -> Resident | None:
    """The resident a portal login stands for, if it may vote on the portal (None for staff and the system)."""
    if actor == "system" or not getattr(actor, "is_authenticated", False):
        return None
    if not actor.has_scoped_permission("portal.vote"):
        return None
    from .comments import resident_of

    return resident_of(actor)


def _lock_ballot_meeting(actor: Any, meeting_id: int) -> tuple[Meeting, Resident | None]:
    """Who may enter a ballot.

    Staff holding ``affairs.manage`` in the village (the clerk) enter the ballot of anyone on the roster:
    returns ``(meeting, None)``.  A resident on the portal holds no staff scope; for a meeting held on the
    portal in their own village their own roster entry is the authority: returns ``(meeting, resident)`` and
    the caller accepts only that resident's entry.  Anything else answers like the staff check (404/403).
    """
    voter = _portal_voter(actor)
    if voter is not None:
        meeting = Meeting.objects.select_for_update().filter(pk=meeting_id, portal_voting=True,
                                                             region_code=voter.region_code).first()
        if meeting is not None and not can(actor, "affairs.manage", meeting.region_code):
            return meeting, voter
    return _lock_meeting(actor, meeting_id), None


def cast_ballot(*, actor: Any, meeting_id: int, item_id: int, entry_id: int, choice: str) -> None:
    """One person's vote on one item, entered by the clerk or cast on the portal by the resident themselves.

    The audit row names the actor (the clerk, or the resident on the portal) and, for a secret ballot, never
    the choice.
    """
    if choice not in Choice.values:
        raise ValidationFailed(detail={"choice": f"one of {Choice.values}"})
    with transaction.atomic():
        meeting, voter = _lock_ballot_meeting(actor, meeting_id)
        _open(meeting)
        item = _item(meeting, item_id)
        if item.tally_for is not None:
            raise Conflict(_("This item was counted by show of hands; ballots cannot be added."), code="tallied")
        entries = RosterEntry.objects.filter(pk=entry_id, meeting=meeting)
        if voter is not None:
            entries = entries.filter(roster_of(voter.pk))
        entry = entries.first()
        if entry is None and voter is not None:
            raise ValidationFailed(_("You are not on this meeting's roster."), detail={"entry": "not on the roster"})
        if entry is None:
            raise ValidationFailed(_("Only people on this meeting's roster can vote."),
                                   detail={"entry": "not on the roster"})
        if not entry.present:
            raise ValidationFailed(_("Only people present (signed in) can vote."), detail={"entry": "not present"})
        now = timezone.now()
        try:
            with transaction.atomic():
                VoteReceipt.objects.create(item=item, entry=entry, at=now)
        except IntegrityError:
            raise Conflict(_("%(who)s has already voted on this item.") % {"who": entry.label},
                           code="already_voted") from None
        Ballot.objects.create(item=item, entry=None if meeting.secret_ballot else entry, choice=choice)
        audit.record(actor=actor, action="affairs.vote.cast", obj=meeting,
                     after={"item": item.pk, "entry": entry.pk, "by": "self" if voter else "clerk",
                            "choice": "secret" if meeting.secret_ballot else choice})


def record_tally(*, actor: Any, meeting_id: int, item_id: int, votes_for: int, against: int,
                 abstain: int) -> VoteItem:
    """Counts of a show of hands.  They can never exceed the people present (and so the roster)."""
    with transaction.atomic():
        meeting = _lock_meeting(actor, meeting_id)
        _open(meeting)
        item = _item(meeting, item_id)
        if item.receipts.exists():
            raise Conflict(_("Ballots were cast on this item; a tally cannot replace them."), code="has_ballots")
        counts = [votes_for, against, abstain]
        if any(not isinstance(c, int) or c < 0 for c in counts):
            raise ValidationFailed(detail={"counts": "whole numbers, zero or more"})
        roster = meeting.roster.count()
        present = meeting.roster.filter(present=True).count()
        if sum(counts) > roster:
            raise ValidationFailed(
                _("%(n)s votes counted, but the roster has only %(roster)s people.") % {"n": sum(counts),
                                                                                     "roster": roster},
                detail={"counts": f"total {sum(counts)} > roster {roster}"}, code="exceeds_roster")
        if sum(counts) > present:
            raise ValidationFailed(
                _("%(n)s votes counted, but only %(present)s people are present.") % {"n": sum(counts),
                                                                                    "present": present},
                detail={"counts": f"total {sum(counts)} > present {present}"}, code="exceeds_present")
        before = {"for": item.tally_for, "against": item.tally_against, "abstain": item.tally_abstain}
        item.tally_for, item.tally_against, item.tally_abstain = counts
        item.save(update_fields=["tally_for", "tally_against", "tally_abstain"])
        audit.record(actor=actor, action="affairs.vote.tally", obj=meeting, before=before,
                     after={"item": item.pk, "for": votes_for, "against": against, "abstain": abstain})
    return item


def item_result(meeting: Meeting, item: VoteItem, roster: int, present: int) -> rules.Result:
    if item.tally_for is not None:
        f, a, b = item.tally_for, item.tally_against or 0, item.tally_abstain or 0
    else:
        counts = dict(item.ballots.values_list("choice").annotate(n=Count("id")).values_list("choice", "n"))
        f, a, b = counts.get("for", 0), counts.get("against", 0), counts.get("abstain", 0)
    return rules.compute(meeting.kind, meeting.roster_kind, roster=roster, present=present, votes_for=f,
                         against=a, abstain=b)


def meeting_close(*, actor: Any, meeting_id: int, minutes: str, signatures: list[str]) -> Meeting:
    """Close the meeting: results are computed and frozen, the record is published with its code."""
    minutes = (minutes or "").strip()
    signatures = [s.strip()[:60] for s in signatures if s and s.strip()]
    if not minutes:
        raise ValidationFailed(_("Write the minutes before closing the meeting."), detail={"minutes": "required"})
    if not signatures:
        raise ValidationFailed(_("The minutes need at least one signature."), detail={"signatures": "required"})
    with transaction.atomic():
        meeting = _lock_meeting(actor, meeting_id)
        _open(meeting)
        roster = meeting.roster.count()
        present = meeting.roster.filter(present=True).count()
        for item in meeting.items.select_for_update():
            item.result = item_result(meeting, item, roster, present).as_dict()
            item.save(update_fields=["result"])
        before = audit.snapshot(meeting)
        meeting.status, meeting.closed_at = MeetingStatus.CLOSED, timezone.now()
        meeting.minutes, meeting.signatures = minutes, signatures
        meeting.save()
        audit.record(actor=actor, action="affairs.meeting.close", obj=meeting, before=before,
                     after=audit.snapshot(meeting))
        publish.publish(actor=actor, kind="meeting", obj=meeting, title=meeting.title)
    return meeting


# --- disclosures ---


def _disclosure_insert(actor: Any, *, region_code: str, category: str, cadence: str, period: str, title: str,
                       body: str, now: dt.datetime, series: str = "", version: int = 1,
                       reason: str = "") -> Disclosure:
    disclosure = Disclosure.objects.create(
        region_code=region_code, category=category, cadence=cadence, period=period, title=title[:200], body=body,
        series=series or uuid.uuid4().hex, version=version, published_at=now, change_reason=reason[:300])
    audit.record(actor=actor, action="affairs.disclosure.publish", obj=disclosure,
                 after=audit.snapshot(disclosure))
    publish.publish(actor=actor, kind="disclosure", obj=disclosure, title=disclosure.title)
    return disclosure


def period_valid(cadence: str, period: str) -> bool:
    if cadence == Cadence.IMMEDIATE:
        return period == ""
    try:
        year, rest = period.split("-")
        if cadence == Cadence.MONTHLY:
            return 2000 <= int(year) <= 2100 and 1 <= int(rest) <= 12 and len(rest) == 2
        return 2000 <= int(year) <= 2100 and rest in ("Q1", "Q2", "Q3", "Q4")
    except ValueError:
        return False


def disclosure_publish(*, actor: Any, region_code: str, category: str, cadence: str, period: str, title: str,
                       body: str) -> Disclosure:
    _village(region_code)
    _write_scope(actor, "affairs.manage", region_code)
    errors: dict[str, str] = {}
    if category not in DisclosureCategory.values:
        errors["category"] = f"one of {DisclosureCategory.values}"
    if cadence not in Cadence.values:
        errors["cadence"] = f"one of {Cadence.values}"
    elif not period_valid(cadence, period or ""):
        errors["period"] = "YYYY-MM for monthly, YYYY-Qn for quarterly, empty for immediate"
    if not (title or "").strip():
        errors["title"] = "required"
    if not (body or "").strip():
        errors["body"] = "required"
    if errors:
        raise ValidationFailed(detail=errors)
    with transaction.atomic():
        return _disclosure_insert(actor, region_code=region_code, category=category, cadence=cadence,
                                  period=period or "", title=title.strip(), body=body.strip(), now=timezone.now())


def disclosure_revise(*, actor: Any, disclosure_id: int, title: str, body: str, reason: str) -> Disclosure:
    """A published disclosure never changes: the edit becomes the next version; the old one stays visible."""
    if not (reason or "").strip():
        raise ValidationFailed(_("Say why the disclosure is being corrected."), detail={"reason": "required"})
    if not (title or "").strip() or not (body or "").strip():
        raise ValidationFailed(detail={"body": "required"})
    with transaction.atomic():
        if actor != "system" and not Disclosure.objects.restrict(actor, "affairs.view").filter(
                pk=disclosure_id).exists():
            raise NotFound("disclosure")
        old = Disclosure.objects.select_for_update().filter(pk=disclosure_id).first()
        if old is None:
            raise NotFound("disclosure")
        _write_scope(actor, "affairs.manage", old.region_code)
        if old.superseded_at is not None:
            raise Conflict(_("Only the latest version can be corrected."), code="superseded")
        now = timezone.now()
        # the old row is not edited: only the marker that a newer version exists is set
        Disclosure.objects.filter(pk=old.pk).update(superseded_at=now)
        return _disclosure_insert(actor, region_code=old.region_code, category=old.category, cadence=old.cadence,
                                  period=old.period, title=title.strip(), body=body.strip(), now=now,
                                  series=old.series, version=old.version + 1, reason=reason.strip())


# --- the ledger ---


def ledger_add(*, actor: Any, region_code: str, kind: str, category: str, counterparty: str, amount: Any,
               date: dt.date, voucher: Any, note: str = "") -> LedgerEntry:
    _village(region_code)
    _write_scope(actor, "affairs.finance", region_code)
    errors: dict[str, str] = {}
    if kind not in EntryKind.values:
        errors["kind"] = f"one of {EntryKind.values}"
    if not (category or "").strip():
        errors["category"] = "required"
    if not (counterparty or "").strip():
        errors["counterparty"] = "required"
    if voucher is None or not getattr(voucher, "name", ""):
        errors["voucher"] = "a voucher (receipt, invoice) must be attached to every ledger line"
    if errors:
        message = _("Every ledger line needs its voucher attached.") if "voucher" in errors else None
        raise ValidationFailed(message, detail=errors, code="voucher_required" if "voucher" in errors else None)
    value = _amount(amount)
    if value <= 0:
        raise ValidationFailed(detail={"amount": "must be more than 0"})
    voucher = _check_upload(voucher, "voucher")
    with transaction.atomic():
        entry = LedgerEntry.objects.create(
            region_code=region_code, kind=kind, category=category.strip()[:60],
            counterparty=counterparty.strip()[:120], amount=value, date=date, voucher=voucher,
            voucher_sha256=_sha256(voucher), note=(note or "").strip()[:300], recorded_by=_user(actor))
        audit.record(actor=actor, action="affairs.ledger.add", obj=entry, after=_ledger_snapshot(entry))
    return entry


def ledger_import(*, actor: Any, region_code: str, filename: str, data: bytes, vouchers: dict[str, bytes],
                  dry_run: bool = False) -> Any:
    """Import ledger lines from a sheet (all or none); returns the engine's report with row-level errors."""
    from shanzhi.core import imports

    from .importers import LedgerImporter

    _village(region_code)
    _write_scope(actor, "affairs.finance", region_code)
    return imports.run_import(LedgerImporter(), data, filename=filename,
                              actor=None if actor == "system" else actor, dry_run=dry_run,
                              options={"region_code": region_code, "vouchers": vouchers})


def ledger_sign(*, actor: Any, entry_id: int, as_supervisor: bool) -> LedgerEntry:
    """Approval by the village (affairs.finance) or co-signature by the 村监会 (affairs.supervise)."""
    permission = "affairs.supervise" if as_supervisor else "affairs.finance"
    with transaction.atomic():
        if actor != "system" and not LedgerEntry.objects.restrict(actor, "affairs.view").filter(
                pk=entry_id).exists():
            raise NotFound("ledger entry")
        entry = LedgerEntry.objects.select_for_update().get(pk=entry_id)
        _write_scope(actor, permission, entry.region_code)
        before = _ledger_snapshot(entry)
        now = timezone.now()
        if as_supervisor:
            if entry.cosigned_at:
                raise Conflict(_("Already co-signed."), code="signed")
            entry.cosigned_by, entry.cosigned_at = _user(actor), now
        else:
            if entry.approved_at:
                raise Conflict(_("Already approved."), code="signed")
            entry.approved_by, entry.approved_at = _user(actor), now
        entry.save()
        audit.record(actor=actor, action="affairs.ledger.cosign" if as_supervisor else "affairs.ledger.approve",
                     obj=entry, before=before, after=_ledger_snapshot(entry))
    return entry


def statement_figures(region_code: str, year: int, month: int) -> dict[str, Any]:
    """Totals of one month computed from the entries (with the balance carried from earlier months)."""
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    base = LedgerEntry.objects.filter(region_code=region_code)
    month_qs = base.filter(date__gte=first, date__lt=nxt)
    earlier = base.filter(date__lt=first).values("kind").annotate(t=Sum("amount"))
    carried = sum((row["t"] if row["kind"] == "income" else -row["t"] for row in earlier), Decimal("0"))
    rows = month_qs.values("kind", "category").annotate(t=Sum("amount"), n=Count("id")).order_by("kind", "category")
    income = sum((r["t"] for r in rows if r["kind"] == "income"), Decimal("0"))
    expense = sum((r["t"] for r in rows if r["kind"] == "expense"), Decimal("0"))
    unsigned = month_qs.filter(kind="expense", cosigned_at__isnull=True).count()

    def q(value: Any) -> str:
        return str(Decimal(value).quantize(Decimal("0.01")))

    return {
        "period": f"{year}-{month:02d}", "opening": q(carried), "income": q(income), "expense": q(expense),
        "closing": q(carried + income - expense), "entries": month_qs.count(),
        "expenses_not_cosigned": unsigned,
        "categories": [{"kind": r["kind"], "category": r["category"], "total": q(r["t"]), "count": r["n"]}
                       for r in rows],
        "lines": [{"date": e.date.isoformat(), "kind": e.kind, "category": e.category,
                   "counterparty": e.counterparty, "amount": str(e.amount), "voucher": e.voucher_sha256[:12],
                   "cosigned": e.cosigned_at is not None}
                  for e in month_qs.order_by("date", "id")],
    }


def statement_publish(*, actor: Any, region_code: str, year: int, month: int) -> Statement:
    _village(region_code)
    _write_scope(actor, "affairs.finance", region_code)
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise ValidationFailed(detail={"period": "a valid year and month"})
    today = timezone.localdate()
    if (year, month) >= (today.year, today.month):
        raise ValidationFailed(_("A month can be published only after it has ended."),
                               detail={"period": "the month has not ended"})
    with transaction.atomic():
        last = (Statement.objects.select_for_update().filter(region_code=region_code, year=year, month=month)
                .order_by("-version").first())
        statement = Statement.objects.create(region_code=region_code, year=year, month=month,
                                             version=(last.version + 1) if last else 1,
                                             data=statement_figures(region_code, year, month),
                                             published_at=timezone.now())
        audit.record(actor=actor, action="affairs.statement.publish", obj=statement,
                     after={"period": statement.period, "version": statement.version,
                            "income": statement.data["income"], "expense": statement.data["expense"]})
        publish.publish(actor=actor, kind="statement", obj=statement,
                        title=f"{statement.period} v{statement.version}")
        # the monthly finance disclosure is the statement itself
        _disclosure_insert(actor, region_code=region_code, category=DisclosureCategory.FINANCE,
                           cadence=Cadence.MONTHLY, period=statement.period,
                           title=_("Finance statement %(period)s") % {"period": statement.period},
                           body=_("Income %(income)s, expense %(expense)s, closing balance %(closing)s.")
                           % statement.data, now=statement.published_at or timezone.now())
    return statement


# --- petty powers ---


def power_create(*, actor: Any, region_code: str, name: str, steps: list[str], description: str = "") -> PettyPower:
    _village(region_code)
    _write_scope(actor, "affairs.manage", region_code)
    steps = [s.strip()[:100] for s in steps if s and s.strip()]
    if not (name or "").strip():
        raise ValidationFailed(detail={"name": "required"})
    if not steps:
        raise ValidationFailed(_("A petty power needs its procedure steps."), detail={"steps": "required"})
    with transaction.atomic():
        power = PettyPower.objects.create(region_code=region_code, name=name.strip()[:120], steps=steps,
                                          description=(description or "").strip())
        audit.record(actor=actor, action="affairs.power.create", obj=power, after=audit.snapshot(power))
    return power


def power_exercise(*, actor: Any, power_id: int, subject: str, steps_done: list[str],
                   happened_on: dt.date) -> PowerExercise:
    with transaction.atomic():
        if actor != "system" and not PettyPower.objects.restrict(actor, "affairs.view").filter(
                pk=power_id).exists():
            raise NotFound("petty power")
        power = PettyPower.objects.get(pk=power_id)
        _write_scope(actor, "affairs.manage", power.region_code)
        if not (subject or "").strip():
            raise ValidationFailed(detail={"subject": "required"})
        missing = [s for s in power.steps if s not in steps_done]
        unknown = [s for s in steps_done if s not in power.steps]
        if missing or unknown:
            raise ValidationFailed(_("Every step of the procedure must be recorded, in its order."),
                                   detail={"missing": missing, "unknown": unknown})
        ex = PowerExercise.objects.create(region_code=power.region_code, power=power, subject=subject.strip()[:200],
                                          steps_done=list(power.steps), happened_on=happened_on,
                                          recorded_by=_user(actor))
        audit.record(actor=actor, action="affairs.power.exercise", obj=ex, after=audit.snapshot(ex))
    return ex
