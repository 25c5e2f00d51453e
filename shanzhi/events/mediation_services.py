"""Every write of dispute mediation and screening campaigns.

Each verb is keyword-only, runs in one transaction with its audit row, and re-checks the actor's scope:
mediation records need ``events.handle`` or ``events.dispatch`` over the event's region; campaigns need
``events.dispatch`` held at a town, county or city; a grid's report needs ``events.report`` over the grid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.core import audit
from shanzhi.core.codes import in_scope, normalize, prefix_of
from shanzhi.core.crypto import blind_index
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from shanzhi.core.masking import mask
from shanzhi.core.scope import can, prefixes_for, require_scope, scope_q
from shanzhi.core.validators import validate_id_number, validate_phone
from shanzhi.regions.models import Grid, GridKind, Region

from .models import (
    CampaignReminder,
    Event,
    FollowUp,
    GridReport,
    MediationParty,
    MediationRecord,
    MediationSession,
    Mediator,
    MediatorKind,
    Notification,
    Outcome,
    PartyRole,
    ScreeningCampaign,
)

WRITE_PERMISSIONS = ("events.handle", "events.dispatch")
CAMPAIGN_PERMISSION = "events.dispatch"
REPORT_PERMISSION = "events.report"
UNMASK_PERMISSION = "people.unmask"
MAX_TEXT = 5000
MAX_DISPUTES_PER_REPORT = 50
# a campaign is started by a centre above the village: the scope prefix of town, county or city
CENTRE_PREFIX_MAX = 9


def _clean(value: Any, *, field: str, errors: dict[str, str], max_length: int, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        errors[field] = _("This field is required.")
    elif len(text) > max_length:
        errors[field] = _("At most %(n)d characters.") % {"n": max_length}
    return text


def _date(value: Any, *, field: str, errors: dict[str, str]) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except (TypeError, ValueError):
        errors[field] = _("A date (YYYY-MM-DD).")
        return None


def may_write(actor: Any, region_code: str) -> bool:
    return any(can(actor, perm, region_code) for perm in WRITE_PERMISSIONS)


def _require_write(actor: Any, region_code: str) -> None:
    """events.handle or events.dispatch over ``region_code``: NotFound outside, PermissionDenied without either."""
    if may_write(actor, region_code):
        return
    if any(prefixes_for(actor, perm) for perm in WRITE_PERMISSIONS):
        raise NotFound("region")
    raise PermissionDenied("events.handle")


def _lock_record(actor: Any, record_id: int) -> MediationRecord:
    """The record, locked, if the actor may read it and write it (NotFound otherwise)."""
    record = (MediationRecord.objects.restrict(actor, "events.view").select_for_update(of=("self",))
              .select_related("event", "event__category").filter(pk=record_id).first())
    if record is None:
        raise NotFound("mediation record")
    _require_write(actor, record.region_code)
    return record


# --- mediation records ---------------------------------------------------------------------------------
def record_open(*, actor: Any, event_id: int, summary: str = "") -> MediationRecord:
    """Open the mediation record of a dispute event (422 for an event whose category is not a dispute)."""
    errors: dict[str, str] = {}
    summary = _clean(summary, field="summary", errors=errors, max_length=MAX_TEXT)
    if errors:
        raise ValidationFailed(detail=errors)
    with transaction.atomic():
        event = (Event.objects.restrict(actor, "events.view").select_for_update(of=("self",))
                 .select_related("category").filter(pk=event_id).first())
        if event is None:
            raise NotFound("event")
        _require_write(actor, event.region_code)
        if not event.category.is_dispute:
            raise ValidationFailed(
                _("Only dispute events have a mediation record; this event's category is not a dispute."),
                detail={"event_id": "the category is not a dispute"}, code="not_a_dispute")
        if MediationRecord.objects.filter(event=event).exists():
            raise Conflict(_("This event already has a mediation record."), code="record_exists")
        record = MediationRecord.objects.create(event=event, region_code=event.region_code,
                                                summary=summary or event.description[:MAX_TEXT],
                                                opened_by=actor if getattr(actor, "is_authenticated", False)
                                                else None)
        audit.record(actor=actor, action="events.mediation.open", obj=record,
                     after={"event": event.number, **audit.snapshot(record, ["summary"])})
    return record


@dataclass
class PartyIn:
    name: str
    role: str
    id_number: str = ""
    phone: str = ""
    address: str = ""


def _check_party(data: PartyIn) -> dict[str, str]:
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    values["name"] = " ".join(_clean(data.name, field="name", errors=errors, max_length=60, required=True).split())
    if data.role not in PartyRole.values:
        errors["role"] = _("One of %(values)s.") % {"values": ", ".join(PartyRole.values)}
    values["role"] = data.role
    values["id_number"] = values["phone"] = ""
    if data.id_number and data.id_number.strip():
        try:
            values["id_number"] = validate_id_number(data.id_number)
        except ValidationError as exc:
            errors["id_number"] = " ".join(str(m) for m in exc.messages)
    if data.phone and data.phone.strip():
        try:
            values["phone"] = validate_phone(data.phone.strip())
        except ValidationError as exc:
            errors["phone"] = " ".join(str(m) for m in exc.messages)
    values["address"] = _clean(data.address, field="address", errors=errors, max_length=200)
    if errors:
        raise ValidationFailed(detail=errors)
    return values


def party_add(*, actor: Any, record_id: int, data: PartyIn) -> MediationParty:
    values = _check_party(data)
    with transaction.atomic():
        record = _lock_record(actor, record_id)
        party = MediationParty.objects.create(record=record, id_number_bidx=blind_index("id_number",
                                                                                      values["id_number"]),
                                              **values)
        audit.record(actor=actor, action="events.mediation.party_add", obj=record,
                     after={"party": party.pk, **audit.snapshot(party, ["role", "name", "id_number", "phone",
                                                                       "address"])})
    return party


def mediator_add(*, actor: Any, record_id: int, kind: str, name: str = "", user_id: int | None = None) -> Mediator:
    """A mediator: a platform user (kind ``official``) or a named body (村调委会, 东海渔嫂, 法律顾问 …)."""
    errors: dict[str, str] = {}
    if kind not in MediatorKind.values:
        errors["kind"] = _("One of %(values)s.") % {"values": ", ".join(MediatorKind.values)}
    name = _clean(name, field="name", errors=errors, max_length=100)
    if kind == MediatorKind.OFFICIAL and user_id is None:
        errors["user_id"] = _("A platform user is required for this kind.")
    if kind != MediatorKind.OFFICIAL and not name and not errors.get("kind"):
        errors["name"] = _("This field is required.")
    if errors:
        raise ValidationFailed(detail=errors)
    from shanzhi.accounts.models import User

    with transaction.atomic():
        record = _lock_record(actor, record_id)
        user = None
        if user_id is not None:
            user = User.objects.filter(pk=user_id, is_active=True).first()
            if user is None or not (in_scope(record.region_code, user.scope_prefixes("events.handle"))
                                    or in_scope(record.region_code, user.scope_prefixes("events.dispatch"))):
                raise ValidationFailed(detail={"user_id": _("Not a user who works on this region's events.")})
        mediator = Mediator.objects.create(record=record, kind=kind, name=name or (str(user) if user else ""),
                                           user=user)
        audit.record(actor=actor, action="events.mediation.mediator_add", obj=record,
                     after={"mediator": mediator.pk, "kind": kind, "name": mediator.name, "user": user_id})
    return mediator


def session_add(*, actor: Any, record_id: int, held_on: Any, place: str, minutes: str,
                attendees: str = "") -> MediationSession:
    errors: dict[str, str] = {}
    day = _date(held_on, field="held_on", errors=errors)
    if day is not None and day > timezone.localdate():
        errors["held_on"] = _("A session cannot be recorded before it is held (the date is in the future).")
    place = _clean(place, field="place", errors=errors, max_length=200, required=True)
    attendees = _clean(attendees, field="attendees", errors=errors, max_length=500)
    minutes = _clean(minutes, field="minutes", errors=errors, max_length=MAX_TEXT, required=True)
    if errors:
        raise ValidationFailed(detail=errors)
    assert day is not None
    with transaction.atomic():
        record = _lock_record(actor, record_id)
        if day < timezone.localdate(record.event.created_at) - dt.timedelta(days=366):
            raise ValidationFailed(detail={"held_on": _("The date is long before the dispute was reported.")})
        session = MediationSession.objects.create(
            record=record, held_on=day, place=place, attendees=attendees, minutes=minutes,
            created_by=actor if getattr(actor, "is_authenticated", False) else None)
        audit.record(actor=actor, action="events.mediation.session_add", obj=record,
                     after={"session": session.pk, "held_on": day, "place": place})
    return session


def outcome_set(*, actor: Any, record_id: int, outcome: str, note: str = "") -> MediationRecord:
    errors: dict[str, str] = {}
    if outcome not in Outcome.values:
        errors["outcome"] = _("One of %(values)s.") % {"values": ", ".join(Outcome.values)}
    note = _clean(note, field="note", errors=errors, max_length=MAX_TEXT,
                  required=outcome in (Outcome.AGREED, Outcome.PARTIAL))
    if errors:
        raise ValidationFailed(detail=errors)
    with transaction.atomic():
        record = _lock_record(actor, record_id)
        before = audit.snapshot(record, ["outcome", "outcome_note"])
        record.outcome, record.outcome_note, record.outcome_at = outcome, note, timezone.now()
        record.save(update_fields=["outcome", "outcome_note", "outcome_at", "updated_at"])
        audit.record(actor=actor, action="events.mediation.outcome_set", obj=record, before=before,
                     after=audit.snapshot(record, ["outcome", "outcome_note"]))
    return record


def followup_add(*, actor: Any, record_id: int, visited_on: Any, result: str, satisfied: bool) -> FollowUp:
    errors: dict[str, str] = {}
    day = _date(visited_on, field="visited_on", errors=errors)
    if day is not None and day > timezone.localdate():
        errors["visited_on"] = _("The date is in the future.")
    result = _clean(result, field="result", errors=errors, max_length=MAX_TEXT, required=True)
    if not isinstance(satisfied, bool):
        errors["satisfied"] = _("Yes or no.")
    if errors:
        raise ValidationFailed(detail=errors)
    assert day is not None
    with transaction.atomic():
        record = _lock_record(actor, record_id)
        if not record.outcome:
            raise Conflict(_("Record the outcome before a follow-up visit."), code="no_outcome")
        followup = FollowUp.objects.create(record=record, visited_on=day, result=result, satisfied=satisfied,
                                           by=actor if getattr(actor, "is_authenticated", False) else None)
        audit.record(actor=actor, action="events.mediation.followup_add", obj=record,
                     after={"followup": followup.pk, "visited_on": day, "satisfied": satisfied})
    return followup


# --- the agreement -------------------------------------------------------------------------------------
def _agreement_context(record: MediationRecord, *, plain: bool) -> dict[str, Any]:
    parties = list(record.parties.all())
    show = (lambda kind, value: value) if plain else mask
    return {
        "record": record,
        "event": record.event,
        "parties": [{"role": p.get_role_display(), "name": show("name", p.name),
                     "id_number": show("id_number", p.id_number), "address": show("address", p.address)}
                    for p in parties],
        "mediators": list(record.mediators.all()),
        "sessions": list(record.sessions.all()),
    }


def render_agreement(record: MediationRecord, *, plain: bool) -> str:
    """The agreement text from ``events/mediation/agreement.txt``: real names only when ``plain``."""
    return render_to_string("events/mediation/agreement.txt", _agreement_context(record, plain=plain)).strip() + "\n"


def document_hash(record: MediationRecord) -> str:
    """sha256 of the full (unmasked) document as it would be generated now."""
    return hashlib.sha256(render_agreement(record, plain=True).encode("utf-8")).hexdigest()


def agreement_generate(*, actor: Any, record_id: int) -> MediationRecord:
    """Render and store the agreement (masked text + hash of the full text) for an agreed or partly agreed record."""
    with transaction.atomic():
        record = _lock_record(actor, record_id)
        if record.outcome not in (Outcome.AGREED, Outcome.PARTIAL):
            raise Conflict(_("An agreement needs the outcome 'agreement reached' or 'partly agreed'."),
                           code="no_agreement")
        if not record.parties.exists():
            raise Conflict(_("An agreement needs its parties."), code="no_parties")
        before = {"sha256": record.agreement_sha256, "version": record.agreement_version}
        record.agreement_text = render_agreement(record, plain=False)
        record.agreement_sha256 = document_hash(record)
        record.agreement_version += 1
        record.agreement_at = timezone.now()
        record.save(update_fields=["agreement_text", "agreement_sha256", "agreement_version", "agreement_at",
                                   "updated_at"])
        audit.record(actor=actor, action="events.mediation.agreement_generate", obj=record, before=before,
                     after={"sha256": record.agreement_sha256, "version": record.agreement_version})
    return record


def agreement_print(*, actor: Any, record: MediationRecord) -> tuple[str, bool]:
    """The printable text: with real names for holders of people.unmask over the region (audited), else masked."""
    plain = can(actor, UNMASK_PERMISSION, record.region_code)
    text = render_agreement(record, plain=plain)
    if plain:
        with transaction.atomic():
            audit.record(actor=actor, action="events.mediation.agreement_print_unmasked", obj=record,
                         after={"version": record.agreement_version})
    return text, plain


# --- screening campaigns ------------------------------------------------------------------------------
def _centre_prefixes(actor: Any) -> list[str]:
    return [p for p in prefixes_for(actor, CAMPAIGN_PERMISSION) if len(p) <= CENTRE_PREFIX_MAX]


def may_start_campaign(actor: Any) -> bool:
    return bool(_centre_prefixes(actor))


def campaign_start(*, actor: Any, region_code: str, title: str, due_date: Any, note: str = "") -> ScreeningCampaign:
    errors: dict[str, str] = {}
    title = _clean(title, field="title", errors=errors, max_length=120, required=True)
    note = _clean(note, field="note", errors=errors, max_length=MAX_TEXT)
    day = _date(due_date, field="due_date", errors=errors)
    if day is not None and day < timezone.localdate():
        errors["due_date"] = _("The due date is in the past.")
    try:
        code = normalize(str(region_code or ""))
    except ValueError:
        errors["region_code"] = _("A 12-digit division code.")
        code = ""
    if errors:
        raise ValidationFailed(detail=errors)
    assert day is not None
    require_scope(actor, CAMPAIGN_PERMISSION, code)
    if not in_scope(code, _centre_prefixes(actor)):
        raise PermissionDenied(CAMPAIGN_PERMISSION, detail={"region_code": "campaigns are started by a town, "
                                                                           "county or city centre"})
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise ValidationFailed(detail={"region_code": _("No such region.")})
    with transaction.atomic():
        campaign = ScreeningCampaign.objects.create(
            region=region, region_code=code, title=title, due_date=day, note=note,
            started_by=actor if getattr(actor, "is_authenticated", False) else None)
        audit.record(actor=actor, action="events.mediation.campaign_start", obj=campaign,
                     after=audit.snapshot(campaign, ["title", "due_date", "region_code"]))
    return campaign


def campaign_grids(campaign: ScreeningCampaign) -> Any:
    """The land grids that must report (every land grid in the campaign's region)."""
    return Grid.objects.filter(scope_q([prefix_of(campaign.region_code)]), kind=GridKind.LAND)


@dataclass
class DisputeIn:
    title: str
    category: str
    description: str = ""
    custom: dict[str, Any] = field(default_factory=dict)


def grid_report(*, actor: Any, campaign_id: int, grid_id: int, disputes: list[DisputeIn], none_found: bool,
                note: str = "") -> GridReport:
    """A grid answers a campaign: its disputes become events (via ``event_create``), or "none this period"."""
    from .services import Intake, event_create

    errors: dict[str, Any] = {}
    note = _clean(note, field="note", errors=errors, max_length=500)
    if none_found and disputes:
        errors["disputes"] = _("Either list the disputes or report none, not both.")
    elif not none_found and not disputes:
        errors["disputes"] = _("List the disputes found, or report none this period.")
    if len(disputes) > MAX_DISPUTES_PER_REPORT:
        errors["disputes"] = _("At most %(n)d disputes at once.") % {"n": MAX_DISPUTES_PER_REPORT}
    from .models import Category

    dispute_codes = set(Category.objects.filter(is_dispute=True, active=True, parent__isnull=False)
                        .values_list("code", flat=True))
    for index, item in enumerate(disputes):
        if item.category not in dispute_codes:
            errors[f"disputes.{index}.category"] = _("Not a dispute category.")
    if errors:
        raise ValidationFailed(detail=errors)
    with transaction.atomic():
        from .mediation_selectors import visible_campaigns

        campaign = (visible_campaigns(actor).select_for_update(of=("self",)).filter(pk=campaign_id).first())
        if campaign is None:
            raise NotFound("campaign")
        grid = campaign_grids(campaign).filter(pk=grid_id).first()
        if grid is None:
            raise NotFound("grid")
        require_scope(actor, REPORT_PERMISSION, grid.region_code)
        if GridReport.objects.filter(campaign=campaign, grid=grid).exists():
            raise Conflict(_("This grid has already reported for this campaign."), code="already_reported")
        report = GridReport.objects.create(campaign=campaign, grid=grid, region_code=grid.region_code,
                                           none_found=none_found, note=note,
                                           reported_by=actor if getattr(actor, "is_authenticated", False)
                                           else None)
        created = []
        for item in disputes:
            event, _created = event_create(actor=actor, data=Intake(
                title=item.title, category=item.category, grid_id=grid.pk, description=item.description,
                custom=item.custom))
            created.append(event)
        report.events.add(*created)
        audit.record(actor=actor, action="events.mediation.grid_report", obj=report,
                     after={"campaign": campaign.pk, "grid": grid.pk, "none_found": none_found,
                            "events": [e.number for e in created]})
    return report


def missing_grids(campaign: ScreeningCampaign) -> Any:
    reported = GridReport.objects.filter(campaign=campaign).values("grid_id")
    return campaign_grids(campaign).exclude(pk__in=reported).select_related("region").order_by("region_code",
                                                                                              "number")


def _warn(campaign: ScreeningCampaign, grids: Iterable[Grid], today: dt.date) -> tuple[int, int]:
    """Notify the members of each grid not yet warned today; returns (grids warned, notifications)."""
    grids = list(grids)
    already = set(CampaignReminder.objects.filter(campaign=campaign, day=today, grid__in=grids)
                  .values_list("grid_id", flat=True))
    todo = [g for g in grids if g.pk not in already]
    if not todo:
        return 0, 0
    members: dict[int, set[int]] = {}
    for grid_id, user_id in Grid.members.through.objects.filter(grid__in=todo).values_list("grid_id", "user_id"):
        members.setdefault(grid_id, set()).add(user_id)
    for grid in todo:
        if grid.leader_id:
            members.setdefault(grid.pk, set()).add(grid.leader_id)
    notes: list[Notification] = []
    for grid in todo:
        text = _("Screening %(title)s: grid %(grid)s has not reported; due %(due)s.") % {
            "title": campaign.title, "grid": grid.name, "due": campaign.due_date.isoformat()}
        notes.extend(Notification(user_id=uid, kind="screening_missing", text=text[:300])
                     for uid in sorted(members.get(grid.pk, ())))
    CampaignReminder.objects.bulk_create([CampaignReminder(campaign=campaign, grid=g, day=today,
                                                           recipients=len(members.get(g.pk, ()))) for g in todo])
    Notification.objects.bulk_create(notes)
    return len(todo), len(notes)


def campaign_warn_missing(*, actor: Any, campaign_id: int) -> tuple[int, int]:
    """Warn the members of every missing grid (once per grid and day).  Returns (grids warned, notifications)."""
    today = timezone.localdate()
    try:
        with transaction.atomic():
            from .mediation_selectors import visible_campaigns

            campaign = visible_campaigns(actor).select_for_update(of=("self",)).filter(pk=campaign_id).first()
            if campaign is None:
                raise NotFound("campaign")
            require_scope(actor, CAMPAIGN_PERMISSION, campaign.region_code)
            grids, sent = _warn(campaign, missing_grids(campaign), today)
            audit.record(actor=actor, action="events.mediation.campaign_warn", obj=campaign,
                         after={"day": today, "grids": grids, "notifications": sent})
    except IntegrityError:  # a concurrent warning of the same day won: nothing more to send
        return 0, 0
    return grids, sent


def remind_overdue(*, today: dt.date | None = None) -> dict[str, int]:
    """For every campaign past its due date: warn the missing grids (cron-safe: once per grid and day)."""
    today = today or timezone.localdate()
    totals = {"campaigns": 0, "grids": 0, "notifications": 0}
    ids = list(ScreeningCampaign.objects.filter(due_date__lt=today).values_list("pk", flat=True))
    for campaign_id in ids:
        try:
            with transaction.atomic():
                campaign = (ScreeningCampaign.objects.select_for_update(skip_locked=True)
                            .filter(pk=campaign_id).first())
                if campaign is None:  # another runner holds it
                    continue
                grids, sent = _warn(campaign, missing_grids(campaign), today)
                if grids:
                    audit.record(actor="system", action="events.mediation.campaign_remind", obj=campaign,
                                 after={"day": today, "grids": grids, "notifications": sent})
        except IntegrityError:
            continue
        totals["campaigns"] += 1 if grids else 0
        totals["grids"] += grids
        totals["notifications"] += sent
    return totals


# --- the demo -----------------------------------------------------------------------------------------
_SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗"
_GIVEN = ["海军", "秀英", "建国", "丽娟", "志强", "海燕", "国平", "美芳", "伟东", "春花", "德明", "玉兰"]
_RESULTS = ["双方各退一步", "约定再次面谈", "初步形成共识"]
_PLACES = ["村调委会调解室", "村社微脑会议室", "渔港码头值班室", "当事人家中"]
_COMMITTEES = [(MediatorKind.COMMITTEE, "村人民调解委员会"), (MediatorKind.FISHERS_WIVES, "东海渔嫂调解队"),
               (MediatorKind.LEGAL_ADVISER, "驻村法律顾问")]


def _demo_id_number(rng: random.Random) -> str:
    from shanzhi.core.validators import id_check_digit

    birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 50 * 365))
    first17 = f"330902{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return first17 + id_check_digit(first17)


def demo_fill(event: Event, rng: random.Random, actor: Any) -> MediationRecord:
    """A plausible mediation record for a dispute event: parties, mediators, sessions, and for older events an
    outcome, agreement and follow-up.  All through the services above (``actor`` must hold the scope)."""
    record = MediationRecord.objects.filter(event=event).first() or record_open(actor=actor, event_id=event.pk)
    for role in (PartyRole.APPLICANT, PartyRole.RESPONDENT):
        party_add(actor=actor, record_id=record.pk, data=PartyIn(
            name=rng.choice(_SURNAMES) + rng.choice(_GIVEN), role=role, id_number=_demo_id_number(rng),
            phone=f"13{rng.randrange(0, 10**9):09d}", address=f"{event.region.name}{rng.randrange(1, 200)}号"))
    kind, name = rng.choice(_COMMITTEES)
    mediator_add(actor=actor, record_id=record.pk, kind=kind, name=name)
    reported = timezone.localdate(event.created_at)
    today = timezone.localdate()
    span = max((today - reported).days, 0)
    for number in range(rng.randint(1, 3)):
        held = reported + dt.timedelta(days=min(span, rng.randint(0, 5) + number * 3))
        session_add(actor=actor, record_id=record.pk, held_on=min(held, today), place=rng.choice(_PLACES),
                    attendees="双方当事人、调解员、网格员",
                    minutes=f"第{number + 1}次调解:听取双方陈述,释法明理,{rng.choice(_RESULTS)}。")
    if span >= 7:
        outcome = rng.choices(Outcome.values, weights=[70, 12, 12, 6])[0]
        note = "双方自愿达成如下协议:一、按现场勘测界线确定归属;二、费用双方各半承担;三、此后不得再因此事发生争执。"
        outcome_set(actor=actor, record_id=record.pk, outcome=outcome,
                    note=note if outcome in (Outcome.AGREED, Outcome.PARTIAL) else "一方不同意调解方案。")
        if outcome in (Outcome.AGREED, Outcome.PARTIAL):
            agreement_generate(actor=actor, record_id=record.pk)
        if span >= 14:
            followup_add(actor=actor, record_id=record.pk, visited_on=today - dt.timedelta(days=rng.randint(0, 6)),
                         result=rng.choice(["协议履行到位,双方关系缓和。", "已按协议履行大部分,继续跟进。"]),
                         satisfied=rng.random() < 0.85)
    return MediationRecord.objects.get(pk=record.pk)
