"""Writes behind the event pages that are not lifecycle transitions: the category dictionary, the working
calendar, and marking one's own notifications read.

Categories and the calendar are *global* (one dictionary and one official calendar for the whole deployment):
whoever holds ``events.configure`` anywhere may edit them.  Every change is audited in its transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from shanzhi.core import audit
from shanzhi.core.errors import NotFound, PermissionDenied, ValidationFailed
from shanzhi.core.scope import prefixes_for

from . import worktime
from .models import CalendarDay, Category, Level, Notification, Step

FIELD_TYPES = ("text", "int", "choice", "bool", "date")
CATEGORY_FIELDS = ["code", "parent", "name", "name_en", "min_level", "department_type", "allow_anonymous",
                   "is_dispute", "auto_escalate", "may_skip_levels", "deadlines", "fields", "active", "sort"]


def _require_configure(actor: Any) -> None:
    if not prefixes_for(actor, "events.configure"):
        raise PermissionDenied("events.configure")


def clean_custom_fields(value: Any) -> list[dict[str, Any]]:
    """Validate the custom-field declarations of a category (the JSON the report form renders)."""
    if not isinstance(value, list):
        raise ValidationFailed(detail={"fields": "must be a list"})
    seen: set[str] = set()
    clean = []
    for i, spec in enumerate(value):
        if not isinstance(spec, dict):
            raise ValidationFailed(detail={"fields": f"item {i + 1}: must be an object"})
        name = spec.get("name")
        if not isinstance(name, str) or not name.isidentifier() or len(name) > 40:
            raise ValidationFailed(detail={"fields": f"item {i + 1}: name must be an identifier"})
        if name in seen:
            raise ValidationFailed(detail={"fields": f"item {i + 1}: duplicate name {name}"})
        seen.add(name)
        kind = spec.get("type", "text")
        if kind not in FIELD_TYPES:
            raise ValidationFailed(detail={"fields": f"item {i + 1}: type must be one of {list(FIELD_TYPES)}"})
        label = spec.get("label", name)
        if not isinstance(label, str) or len(label) > 80:
            raise ValidationFailed(detail={"fields": f"item {i + 1}: label must be text"})
        item: dict[str, Any] = {"name": name, "label": label, "type": kind, "required": bool(spec.get("required"))}
        if kind == "choice":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
                raise ValidationFailed(detail={"fields": f"item {i + 1}: a choice needs a list of choices"})
            item["choices"] = choices
        unknown = set(spec) - {"name", "label", "type", "required", "choices"}
        if unknown:
            raise ValidationFailed(detail={"fields": f"item {i + 1}: unknown keys {sorted(unknown)}"})
        clean.append(item)
    return clean


@dataclass
class CategoryData:
    name: str
    name_en: str = ""
    code: str = ""
    parent_id: int | None = None
    min_level: str = Level.VILLAGE
    department_type_id: int | None = None
    allow_anonymous: bool = False
    is_dispute: bool = False
    auto_escalate: bool = False
    may_skip_levels: bool = False
    deadlines: dict[str, int] = field(default_factory=dict)
    fields: list[dict[str, Any]] = field(default_factory=list)
    active: bool = True
    sort: int = 0


def category_save(*, actor: Any, data: CategoryData, category_id: int | None = None) -> Category:
    """Create (``category_id`` None) or edit a category.  Global: needs ``events.configure`` anywhere."""
    _require_configure(actor)
    errors: dict[str, str] = {}
    if not data.name.strip():
        errors["name"] = "required"
    if data.min_level not in Level.values:
        errors["min_level"] = f"one of {Level.values}"
    for step, minutes in data.deadlines.items():
        if step not in Step.values:
            errors["deadlines"] = f"unknown step {step}"
        elif not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 525600:
            errors[f"deadline_{step}"] = "a whole number of working minutes from 1 to 525600"
    if errors:
        raise ValidationFailed(detail=errors)
    fields = clean_custom_fields(data.fields)
    with transaction.atomic():
        if category_id is None:
            if not data.code or Category.objects.filter(code=data.code).exists():
                raise ValidationFailed(detail={"code": "required and unique"})
            parent = None
            if data.parent_id is not None:
                parent = Category.objects.filter(pk=data.parent_id, parent__isnull=True).first()
                if parent is None:
                    raise ValidationFailed(detail={"parent": "no such top-level category"})
            category = Category(code=data.code, parent=parent)
            before = None
        else:
            found = Category.objects.select_for_update().filter(pk=category_id).first()
            if found is None:
                raise NotFound("category")
            category = found
            before = audit.snapshot(category, CATEGORY_FIELDS)
        category.name = data.name.strip()
        category.name_en = data.name_en.strip()
        category.min_level = data.min_level
        category.department_type_id = data.department_type_id
        category.allow_anonymous = data.allow_anonymous
        category.is_dispute = data.is_dispute
        category.auto_escalate = data.auto_escalate
        category.may_skip_levels = data.may_skip_levels
        category.deadlines = {k: v for k, v in data.deadlines.items() if v}
        category.fields = fields
        category.active = data.active
        category.sort = data.sort
        category.save()
        audit.record(actor=actor, action="events.category." + ("create" if before is None else "change"),
                     obj=category, before=before, after=audit.snapshot(category, CATEGORY_FIELDS))
    return category


def calendar_day_set(*, actor: Any, day: dt.date, is_workday: bool, name: str = "") -> CalendarDay:
    """Add or edit one day of the official calendar (a holiday, or an adjusted working weekend)."""
    _require_configure(actor)
    if len(name) > 60:
        raise ValidationFailed(detail={"name": "at most 60 characters"})
    with transaction.atomic():
        row = CalendarDay.objects.select_for_update().filter(date=day).first()
        before = audit.snapshot(row, ["is_workday", "name"]) if row else None
        row, _created = CalendarDay.objects.update_or_create(date=day, defaults={"is_workday": is_workday,
                                                                                 "name": name.strip()})
        audit.record(actor=actor, action="events.calendar.set", obj=row, object_id=day.isoformat(),
                     before=before, after={"is_workday": is_workday, "name": row.name})
    worktime.invalidate()
    return row


def calendar_load_official(*, actor: Any, years: Iterable[int]) -> list[int]:
    """Load years from the ``chinesecalendar`` package; returns the years it knew."""
    _require_configure(actor)
    wanted = sorted(set(years))
    with transaction.atomic():
        loaded = worktime.load_official_years(wanted)
        audit.record(actor=actor, action="events.calendar.load", object_type="events.calendaryear",
                     object_id=",".join(map(str, wanted)), after={"wanted": wanted, "loaded": loaded})
    return loaded


def notifications_mark_read(*, actor: Any, ids: Iterable[int] | None = None) -> int:
    """Mark the actor's own notifications read (all unread ones when ``ids`` is None); returns how many.

    Only the actor's own rows can be touched; it is their reading state, so it is not audited.
    """
    pk = getattr(actor, "pk", None)
    if pk is None:
        raise PermissionDenied()
    qs = Notification.objects.filter(user_id=pk, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    with transaction.atomic():
        return int(qs.update(read_at=timezone.now()))
