"""Residents' comments on a plan under publication (村务联席会议商议 → the plan is published), moderated by staff.

A resident comments only on plans of their own village (the village of their linked resident record), only
while the plan's publication window is open (from ``plan_published_at`` for the village's
``plan_publish_days``, and while the decision still stands at that stage), at most ``DAILY_LIMIT`` times per
plan in 24 hours.  Staff holding ``affairs.moderate`` in the village approve or reject each comment with a
reason; only approved comments appear on the public decision page, with the author's name masked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.core import audit
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ShanzhiError, ValidationFailed
from shanzhi.core.scope import access, require_scope
from shanzhi.people.models import Resident

from . import rules
from .models import CommentStatus, Decision, PlanComment, Stage

MAX_LENGTH = 1000
DAILY_LIMIT = 5
MODERATE = "affairs.moderate"
COMMENT_FIELDS = ["region_code", "decision", "resident", "user", "status", "moderated_by", "moderated_at", "reason"]


class RateLimited(ShanzhiError):
    status = 429
    code = "rate_limited"


def resident_of(user: Any) -> Resident | None:
    """The active resident record linked to a portal login (None for anybody else)."""
    if not getattr(user, "is_authenticated", False):
        return None
    from shanzhi.portal.models import PortalAccount

    link = PortalAccount.objects.select_related("resident").filter(user_id=user.pk).first()
    if link is None or not link.resident.active:
        return None
    return link.resident


def window(decision: Decision) -> tuple[dt.datetime, dt.datetime] | None:
    """When the plan is (or was) published for comments: [start, end)."""
    if decision.plan_published_at is None:
        return None
    days = rules.for_village(decision.region_code).plan_publish_days
    return decision.plan_published_at, decision.plan_published_at + dt.timedelta(days=days)


def is_open(decision: Decision, now: dt.datetime | None = None) -> bool:
    span = window(decision)
    now = now or timezone.now()
    return decision.stage == Stage.JOINT_MEETING and span is not None and span[0] <= now < span[1]


# --- a resident's reads ---


def _village_plans(user: Any) -> QuerySet[Decision]:
    resident = resident_of(user)
    if resident is None:
        return Decision.objects.none()
    return Decision.objects.filter(region_code=resident.region_code, plan_published_at__isnull=False)


def open_plans(user: Any) -> QuerySet[Decision]:
    """Decisions of the resident's village whose plan is under publication now."""
    resident = resident_of(user)
    if resident is None:
        return Decision.objects.none()
    days = rules.for_village(resident.region_code).plan_publish_days
    since = timezone.now() - dt.timedelta(days=days)
    return (_village_plans(user).filter(stage=Stage.JOINT_MEETING, plan_published_at__gt=since)
            .order_by("plan_published_at", "id"))


def plan(user: Any, pk: int) -> Decision:
    """A published plan of the resident's own village (404 for any other)."""
    decision = _village_plans(user).filter(pk=pk).first()
    if decision is None:
        raise NotFound("decision")
    return decision


def my_comments(user: Any, decision: Decision) -> QuerySet[PlanComment]:
    return PlanComment.objects.filter(decision=decision, user_id=getattr(user, "pk", None) or -1).order_by(
        "-created_at", "-id")


def public_comments(decision: Decision) -> list[PlanComment]:
    return list(PlanComment.objects.filter(decision=decision, status=CommentStatus.APPROVED)
                .select_related("resident").order_by("created_at", "id"))


# --- staff reads ---


def comments(user: Any, *, status: str = CommentStatus.PENDING) -> QuerySet[PlanComment]:
    qs = PlanComment.objects.restrict(user, MODERATE).select_related("decision", "resident", "moderated_by")
    if status in CommentStatus.values:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


# --- writes ---


def comment_post(*, actor: Any, decision_id: int, text: str) -> PlanComment:
    """A resident comments on a plan of their village while it is published."""
    resident = resident_of(actor)
    if resident is None or not actor.has_scoped_permission("portal.comment"):
        raise PermissionDenied("portal.comment")
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(_("Write your comment."), detail={"text": "required"})
    if len(text) > MAX_LENGTH:
        raise ValidationFailed(_("A comment can have at most %(n)s characters.") % {"n": MAX_LENGTH},
                               detail={"text": f"at most {MAX_LENGTH} characters"})
    with transaction.atomic():
        decision = (Decision.objects.select_for_update()
                    .filter(pk=decision_id, region_code=resident.region_code, plan_published_at__isnull=False)
                    .first())
        if decision is None:
            raise NotFound("decision")
        now = timezone.now()
        if not is_open(decision, now):
            raise Conflict(_("This plan is not open for comments: its publication period is over or has not "
                             "begun."), code="not_published")
        recent = PlanComment.objects.filter(decision=decision, resident=resident,
                                            created_at__gte=now - dt.timedelta(days=1)).count()
        if recent >= DAILY_LIMIT:
            raise RateLimited(_("You can post at most %(n)s comments on a plan a day.") % {"n": DAILY_LIMIT},
                              detail={"limit": DAILY_LIMIT})
        row = PlanComment.objects.create(region_code=decision.region_code, decision=decision, resident=resident,
                                         user=actor, text=text)
        audit.record(actor=actor, action="affairs.comment.post", obj=row,
                     after={**audit.snapshot(row, COMMENT_FIELDS), "length": len(text)})
    return row


def comment_moderate(*, actor: Any, comment_id: int, approve: bool, reason: str = "") -> PlanComment:
    """Approve (shown publicly) or reject a pending comment; a rejection needs a reason."""
    reason = (reason or "").strip()
    if len(reason) > 300:
        raise ValidationFailed(detail={"reason": "at most 300 characters"})
    if not approve and not reason:
        raise ValidationFailed(_("Give the reason for rejecting the comment."), detail={"reason": "required"})
    with transaction.atomic():
        row = access(PlanComment.objects.select_for_update(), actor, MODERATE, pk=comment_id)
        require_scope(actor, MODERATE, row.region_code)
        if row.status != CommentStatus.PENDING:
            raise Conflict(_("This comment has already been moderated."), code="already_moderated")
        before = audit.snapshot(row, COMMENT_FIELDS)
        row.status = CommentStatus.APPROVED if approve else CommentStatus.REJECTED
        row.moderated_by = actor if getattr(actor, "is_authenticated", False) else None
        row.moderated_at = timezone.now()
        row.reason = reason
        row.save(update_fields=["status", "moderated_by", "moderated_at", "reason", "updated_at"])
        audit.record(actor=actor, action=f"affairs.comment.{'approve' if approve else 'reject'}", obj=row,
                     before=before, after=audit.snapshot(row, COMMENT_FIELDS))
    return row
