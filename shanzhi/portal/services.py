"""Writes of the residents' portal.  Each is one transaction with its audit row.

Phone login: ``code_request`` never tells whether the phone belongs to anybody — the same answer, the same
rate limits and a stored (code-less) row whatever the phone — and sends a code only to a phone that matches
exactly one active resident (through the phone blind index) or an already linked account.  ``code_verify``
checks the newest unexpired code of the phone, counts attempts (at most ``MAX_ATTEMPTS``), and on success
creates or finds the resident's account (role ``resident`` at the resident's village, linked by
:class:`PortalAccount`).  Residents who are not in the base data cannot log in by phone; they register at the
village centre (docs/guide/residents.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.accounts.roles import Role
from shanzhi.core import audit
from shanzhi.core.codes import Level, level_of
from shanzhi.core.crypto import blind_index
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ShanzhiError, ValidationFailed
from shanzhi.core.masking import mask
from shanzhi.core.scope import access, can, require_scope
from shanzhi.core.validators import validate_phone
from shanzhi.events.models import Event, Status
from shanzhi.events.services import Intake, event_create, event_transition
from shanzhi.people import services as people_services
from shanzhi.people.models import Resident
from shanzhi.regions.models import Grid, Region

from .models import (
    CorrectableField,
    CorrectionRequest,
    CorrectionStatus,
    GridContact,
    LoginCode,
    Notice,
    PortalAccount,
    PortalSettings,
)
from .sms import get_sender

CODE_LENGTH = 6
CODE_TTL = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
PHONE_INTERVAL = dt.timedelta(seconds=60)
PHONE_PER_DAY = 10
IP_INTERVAL = dt.timedelta(seconds=20)  # a village centre's shared connection serves several residents
IP_PER_DAY = 30


class TooManyRequests(ShanzhiError):
    status = 429
    code = "rate_limited"

    def default_message(self) -> str:
        return _("Too many requests; wait a while and try again.")


def _keyed(text: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


def _code_hash(phone_bidx: str, code: str) -> str:
    return _keyed(f"portal-code:{phone_bidx}:{code}")


def ip_hash(ip: str) -> str:
    return _keyed(f"portal-ip:{ip or '-'}")


def clean_phone(phone: str) -> str:
    try:
        value = validate_phone((phone or "").strip())
    except ValidationError:
        raise ValidationFailed(detail={"phone": _("Not a valid mainland mobile number.")}) from None
    if not value.startswith("1"):
        raise ValidationFailed(detail={"phone": _("Not a valid mainland mobile number.")})
    return value


def _matching_residents(phone_bidx: str) -> list[Resident]:
    return list(Resident.objects.filter(phone_bidx=phone_bidx, active=True).order_by("id")[:2])


def _login_target(phone_bidx: str) -> Resident | None:
    """The one resident this phone logs in as, or None (no match, or several people share the phone)."""
    residents = _matching_residents(phone_bidx)
    return residents[0] if len(residents) == 1 else None


def code_request(*, phone: str, ip: str, now: dt.datetime | None = None) -> None:
    """Send a login code if the phone belongs to a resident.  Same answer and limits whatever the phone."""
    phone = clean_phone(phone)
    now = now or timezone.now()
    bidx = blind_index("phone", phone)
    iph = ip_hash(ip)
    day_ago = now - dt.timedelta(days=1)
    with transaction.atomic():
        recent = LoginCode.objects.select_for_update().filter(created_at__gt=day_ago)
        by_phone = list(recent.filter(phone_bidx=bidx).values_list("created_at", flat=True))
        by_ip = list(recent.filter(ip_hash=iph).values_list("created_at", flat=True))
        if any(t > now - PHONE_INTERVAL for t in by_phone) or any(t > now - IP_INTERVAL for t in by_ip):
            raise TooManyRequests(_("Please wait a minute before asking for another code."))
        if len(by_phone) >= PHONE_PER_DAY or len(by_ip) >= IP_PER_DAY:
            raise TooManyRequests(_("Too many codes asked for today; try again tomorrow."))
        target = _login_target(bidx)
        code = "".join(secrets.choice("0123456789") for _i in range(CODE_LENGTH))
        LoginCode.objects.create(phone_bidx=bidx, ip_hash=iph, created_at=now, expires_at=now + CODE_TTL,
                                 code_hash=_code_hash(bidx, code) if target else "")
    if target is not None:  # after the row is stored, so a code that arrives can always be checked
        get_sender().send(phone, _("Your Shanzhi login code is %(code)s. It expires in 5 minutes; "
                                   "never tell it to anybody.") % {"code": code})


class CodeRejected(ValidationFailed):
    code = "code_rejected"


def code_verify(*, phone: str, code: str, now: dt.datetime | None = None) -> User:
    """Check a login code; on success return the resident's user (created and linked on first login)."""
    phone = clean_phone(phone)
    now = now or timezone.now()
    code = (code or "").strip()
    bidx = blind_index("phone", phone)
    wrong = _("The code is wrong or has expired. Ask for a new code.")
    with transaction.atomic():
        row = (LoginCode.objects.select_for_update()
               .filter(phone_bidx=bidx, used_at__isnull=True, expires_at__gt=now).order_by("-created_at").first())
        if row is None:
            raise CodeRejected(wrong, detail={"code": wrong})
        if row.attempts >= MAX_ATTEMPTS:
            raise CodeRejected(_("Too many wrong codes. Ask for a new code."),
                               detail={"code": _("too many attempts")})
        ok = (bool(row.code_hash) and len(code) == CODE_LENGTH and code.isdigit()
              and hmac.compare_digest(row.code_hash, _code_hash(bidx, code)))
        row.attempts += 1
        if not ok:
            row.save(update_fields=["attempts"])
        else:
            row.used_at = now
            row.save(update_fields=["attempts", "used_at"])
    if not ok:
        raise CodeRejected(wrong, detail={"code": wrong})
    resident = _login_target(bidx)
    if resident is None:  # the resident record changed since the code was sent
        raise CodeRejected(wrong, detail={"code": wrong})
    return account_for(resident=resident)


def account_for(*, resident: Resident, username: str | None = None) -> User:
    """The resident's portal user, created (role resident at the resident's village) and linked on first use.

    The username is ``resident-<record id>`` unless given (the demo gives stable ones)."""
    with transaction.atomic():
        link = PortalAccount.objects.select_related("user").filter(resident=resident).first()
        if link is not None:
            return link.user
        region = Region.objects.get(code=resident.region_code)
        username = username or f"resident-{resident.pk}"
        if User.objects.filter(username=username).exists():  # taken by an account made by hand
            username = f"{username}-{secrets.token_hex(3)}"
        user = User(username=username, display_name=mask("name", resident.name))
        user.set_unusable_password()
        user.save()
        grant = RoleAssignment.objects.create(user=user, role=Role.RESIDENT.value, region=region,
                                              region_code=region.code)
        link = PortalAccount.objects.create(user=user, resident=resident, region_code=resident.region_code)
        audit.record(actor=user, action="portal.account.link", obj=link,
                     after={"user": user.username, "resident": resident.pk})
        audit.record(actor=user, action="accounts.role.grant", obj=grant, after=audit.snapshot(grant))
    return user


def resident_of(user: Any) -> Resident | None:
    if not getattr(user, "is_authenticated", False):
        return None
    link = PortalAccount.objects.select_related("resident").filter(user_id=user.pk).first()
    return link.resident if link is not None else None


def home_village(user: Any) -> str | None:
    """The village a resident reports in: the linked record's, else the first village of a resident role."""
    resident = resident_of(user)
    if resident is not None and resident.active:
        return str(resident.region_code)
    for role, code in user._assignment_rows():
        if role == Role.RESIDENT.value and level_of(code) == Level.VILLAGE:
            return str(code)
    return None


# --- reports ---------------------------------------------------------------------------------------------

@dataclass
class Report:
    title: str
    category: str
    description: str = ""
    address: str = ""


def report_create(*, actor: Any, data: Report, photo: UploadedFile[Any] | None = None) -> Event:
    """A resident's report becomes an event (source resident, reporter = the user) in the home village."""
    village = home_village(actor)
    if village is None:
        raise PermissionDenied("events.report")
    from shanzhi.events.attachments import attachment_add

    with transaction.atomic():
        event, _created = event_create(actor=actor, data=Intake(
            title=data.title, category=data.category, region_code=village, description=data.description,
            address=data.address, source="resident"))
        if photo is not None:
            attachment_add(actor=actor, event_id=event.pk, upload=photo)
    return event


def parse_rating(value: Any) -> int:
    try:
        rating = int(str(value))
    except (TypeError, ValueError):
        raise ValidationFailed(detail={"rating": _("Choose from 1 to 5 stars.")}) from None
    if not 1 <= rating <= 5:
        raise ValidationFailed(detail={"rating": _("Choose from 1 to 5 stars.")})
    return rating


def rate_own(*, actor: Any, event_id: int, rating: Any, comment: str = "") -> Event:
    """The reporter rates a closed report (the events state machine checks it is theirs and closed)."""
    value = parse_rating(rating)
    if not Event.objects.filter(pk=event_id, reporter_id=getattr(actor, "pk", -1)).exists():
        raise NotFound("event")
    return event_transition(event_id=event_id, actor=actor, action="rate",
                            params={"rating": value, "comment": comment[:500]})


def rate_by_token(*, token: str, rating: Any, comment: str = "") -> Event:
    """Rate through the one-time link: the token is the credential; once rated, the link only shows it."""
    event = event_for_token(token)
    if event.rating is not None:
        raise Conflict(_("This report has already been rated."), code="already_rated")
    if event.status != Status.CLOSED:
        raise Conflict(_("This report is not closed yet; it can be rated once it is closed."), code="not_closed")
    value = parse_rating(rating)
    return event_transition(event_id=event.pk, actor="rating link", action="rate",
                            params={"rating": value, "comment": comment[:500]}, via_token=True)


def event_for_token(token: str) -> Event:
    token = (token or "").strip()
    if len(token) < 20:
        raise NotFound("event")
    event = Event.objects.select_related("category", "region").filter(rate_token=token).first()
    if event is None or not hmac.compare_digest(event.rate_token, token):
        raise NotFound("event")
    return event


# --- personal data (PIPL) --------------------------------------------------------------------------------

def self_view(*, actor: Any) -> Resident:
    """The resident's own record, unmasked to themselves (audited)."""
    resident = resident_of(actor)
    if resident is None:
        raise NotFound("resident")
    with transaction.atomic():
        audit.record(actor=actor, action="people.resident.self_view", obj=resident,
                     after={"fields": [f.value for f in CorrectableField]})
    return resident


def correction_request(*, actor: Any, field: str, requested: str, reason: str) -> CorrectionRequest:
    resident = resident_of(actor)
    if resident is None:
        raise NotFound("resident")
    errors: dict[str, str] = {}
    if field not in CorrectableField.values:
        errors["field"] = _("This field cannot be corrected here.")
    requested = (requested or "").strip()
    reason = (reason or "").strip()
    if not requested:
        errors["requested"] = _("Enter the correct value.")
    elif len(requested) > 200:
        errors["requested"] = _("At most 200 characters.")
    if not reason:
        errors["reason"] = _("Say why the record is wrong.")
    elif len(reason) > 1000:
        errors["reason"] = _("At most 1000 characters.")
    if not errors:
        current = str(getattr(resident, field) or "")
        if requested == current:
            errors["requested"] = _("This is already the recorded value.")
        else:
            # validated with the same rules as staff edits, so an accepted request can always be applied
            _values, field_errors = people_services.clean_resident({field: requested}, current=resident)
            if field in field_errors:
                errors["requested"] = str(field_errors[field])
    if errors:
        raise ValidationFailed(detail={"fields": errors})
    with transaction.atomic():
        if CorrectionRequest.objects.filter(resident=resident, field=field,
                                            status=CorrectionStatus.PENDING).exists():
            raise Conflict(_("A request for this field is already waiting for an answer."),
                           code="correction_pending")
        row = CorrectionRequest.objects.create(
            resident=resident, requested_by=actor, field=field, current=str(getattr(resident, field) or ""),
            requested=requested, reason=reason, region_code=resident.region_code)
        audit.record(actor=actor, action="portal.correction.request", obj=row,
                     after={"field": field, "current": row.current_masked, "requested": row.requested_masked})
    return row


def correction_decide(*, actor: Any, request_id: int, accept: bool, answer: str = "") -> CorrectionRequest:
    """Staff (people.change over the village) accept — applying the change through people.services — or reject."""
    answer = (answer or "").strip()[:1000]
    if not accept and not answer:
        raise ValidationFailed(detail={"fields": {"answer": _("Say why the request is rejected.")}})
    with transaction.atomic():
        row = access(CorrectionRequest.objects.select_for_update(), actor, "people.change", pk=request_id)
        require_scope(actor, "people.change", row.region_code)
        if row.status != CorrectionStatus.PENDING:
            raise Conflict(_("This request has already been decided."), code="correction_decided")
        before = audit.snapshot(row, ["status", "handled_by", "answer"])
        if accept:
            people_services.update_resident(actor=actor, resident_id=row.resident_id,
                                            changes={row.field: row.requested})
        row.status = CorrectionStatus.ACCEPTED if accept else CorrectionStatus.REJECTED
        row.handled_by = actor
        row.handled_at = timezone.now()
        row.answer = answer
        row.save(update_fields=["status", "handled_by", "handled_at", "answer", "updated_at"])
        audit.record(actor=actor, action=f"portal.correction.{'accept' if accept else 'reject'}", obj=row,
                     before=before, after={**audit.snapshot(row, ["status", "handled_by", "answer"]),
                                           "field": row.field, "requested": row.requested_masked})
    return row


# --- village settings ------------------------------------------------------------------------------------

MANAGE_PERMISSIONS = ("affairs.manage", "regions.change")


def may_manage(actor: Any, village_code: str) -> bool:
    return any(can(actor, p, village_code) for p in MANAGE_PERMISSIONS)


def _require_manage(actor: Any, village_code: str) -> None:
    if not may_manage(actor, village_code):
        if any(getattr(actor, "has_scoped_permission", lambda _p: False)(p) for p in MANAGE_PERMISSIONS):
            raise NotFound("region")
        raise PermissionDenied("affairs.manage")


def _clean_duty_phone(errors: dict[str, str], key: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return validate_phone(value)
    except ValidationError:
        errors[key] = _("Not a valid phone number.")
        return value


def settings_update(*, actor: Any, village_code: str, welcome: str, duty_phone: str,
                    grid_phones: dict[int, str] | None = None) -> PortalSettings:
    _require_manage(actor, village_code)
    region = Region.objects.filter(code=village_code, level=Level.VILLAGE.value).first()
    if region is None:
        raise NotFound("region")
    errors: dict[str, str] = {}
    welcome = (welcome or "").strip()
    if len(welcome) > 2000:
        errors["welcome"] = _("At most 2000 characters.")
    phone = _clean_duty_phone(errors, "duty_phone", duty_phone)
    grids = {g.pk: g for g in Grid.objects.filter(region=region)}
    phones: dict[int, str] = {}
    for grid_id, value in (grid_phones or {}).items():
        if grid_id not in grids:
            errors[f"grid_{grid_id}"] = _("Not a grid of this village.")
            continue
        phones[grid_id] = _clean_duty_phone(errors, f"grid_{grid_id}", value)
    if errors:
        raise ValidationFailed(detail={"fields": errors})
    with transaction.atomic():
        row, _created = PortalSettings.objects.select_for_update().get_or_create(
            region=region, defaults={"region_code": region.code})
        before = audit.snapshot(row, ["welcome", "duty_phone"])
        row.welcome, row.duty_phone = welcome, phone
        row.save()
        for grid_id, value in phones.items():
            GridContact.objects.update_or_create(grid_id=grid_id, defaults={"duty_phone": value,
                                                                            "region_code": region.code})
        audit.record(actor=actor, action="portal.settings.update", obj=row, before=before,
                     after={**audit.snapshot(row, ["welcome", "duty_phone"]),
                            "grid_phones": {str(k): v for k, v in phones.items()}})
    return row


def notice_publish(*, actor: Any, village_code: str, title: str, body: str) -> Notice:
    _require_manage(actor, village_code)
    errors: dict[str, str] = {}
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        errors["title"] = _("A notice needs a title.")
    elif len(title) > 120:
        errors["title"] = _("At most 120 characters.")
    if len(body) > 4000:
        errors["body"] = _("At most 4000 characters.")
    if errors:
        raise ValidationFailed(detail={"fields": errors})
    with transaction.atomic():
        notice = Notice.objects.create(title=title, body=body, published_at=timezone.now(), published_by=actor,
                                       region_code=village_code)
        audit.record(actor=actor, action="portal.notice.publish", obj=notice, after=audit.snapshot(notice))
    return notice


def notice_withdraw(*, actor: Any, notice_id: int) -> Notice:
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None:
            raise NotFound("notice")
        _require_manage(actor, notice.region_code)
        before = audit.snapshot(notice, ["withdrawn"])
        notice.withdrawn = True
        notice.save(update_fields=["withdrawn", "updated_at"])
        audit.record(actor=actor, action="portal.notice.withdraw", obj=notice, before=before,
                     after={"withdrawn": True})
    return notice
