"""Pages of village affairs: staff pages (login, scoped) and the public village pages (no login, published only)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError, ValidationFailed
from shanzhi.core.scope import can

from . import calendar, comments, publish, rules, selectors, services, statement_pdf
from .models import (
    STAGE_ORDER,
    Cadence,
    Choice,
    DisclosureCategory,
    EntryKind,
    MatterType,
    MeetingKind,
    MeetingStatus,
    RosterKind,
    Stage,
    Statement,
)
from .transitions import TABLE, allowed_actions

PAGE_SIZE = 25
VIEW = "affairs.view"


def _guard(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            if not request.user.has_scoped_permission(VIEW):  # type: ignore[union-attr]
                raise PermissionDenied(VIEW)
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None
        except PermissionDenied as exc:
            return render(request, "affairs/error.html", {"error": exc}, status=403)

    return login_required(wrapped)


def _public(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None

    return require_GET(wrapped)


def _error_text(exc: ShanzhiError) -> str:
    text = str(exc.message)
    if isinstance(exc, ValidationFailed) and isinstance(exc.detail, dict):
        text += " " + "; ".join(f"{k}: {v}" for k, v in exc.detail.items() if k != "allowed")
    return text


def _act(request: HttpRequest, fn: Callable[[], Any], ok: str, back: str) -> HttpResponse:
    """Run a service from a POST: a ShanzhiError becomes a message (4xx status kept for tests)."""
    try:
        fn()
    except NotFound:
        raise Http404 from None
    except PermissionDenied as exc:
        return render(request, "affairs/error.html", {"error": exc}, status=403)
    except ShanzhiError as exc:
        messages.error(request, _error_text(exc))
        response = redirect(back)
        response.status_code = 303
        response["X-Shanzhi-Error"] = exc.code
        return response
    messages.success(request, ok)
    return redirect(back)


def _paged(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(detail={"number": "a whole number is required"}) from None


def _aware(value: str, field: str) -> dt.datetime:
    parsed = parse_datetime(value or "")
    if parsed is None:
        raise ValidationFailed(detail={field: "a date and time"})
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _date(value: str, field: str) -> dt.date:
    parsed = parse_date(value or "")
    if parsed is None:
        raise ValidationFailed(detail={field: "a date"})
    return parsed


# --- decisions ---


@_guard
@require_GET
def decision_list(request: HttpRequest) -> HttpResponse:
    stage = request.GET.get("stage", "")
    qs = selectors.decisions(request.user, stage=stage if stage in Stage.values else "",
                             q=request.GET.get("q", "").strip()[:100])
    return render(request, "affairs/decision_list.html", {
        "page": _paged(request, qs), "stages": Stage.choices, "stage": stage, "q": request.GET.get("q", ""),
        "types": MatterType.choices, "villages": selectors.villages(request.user, "affairs.manage")[:500],
    })


@_guard
@require_POST
def decision_create(request: HttpRequest) -> HttpResponse:
    p = request.POST
    created: dict[str, Any] = {}

    def run() -> None:
        created["d"] = services.decision_create(
            actor=request.user, region_code=p.get("region_code", ""), title=p.get("title", ""),
            matter_type=p.get("matter_type", ""), amount=p.get("amount") or "0",
            description=p.get("description", ""), proposer=p.get("proposer", ""))

    response = _act(request, run, _("The proposal was registered."), reverse("affairs:decision_list"))
    if "d" in created:
        return redirect("affairs:decision_detail", decision_id=created["d"].pk)
    return response


@_guard
@require_GET
def decision_detail(request: HttpRequest, decision_id: int) -> HttpResponse:
    d = selectors.decision(request.user, decision_id)
    actions = allowed_actions(d.stage, requires_procedure=d.requires_procedure)
    user = request.user
    actions = [a for a in actions if can(user, TABLE[a].permission, d.region_code)]
    kinds = {k for a in actions for k in TABLE[a].meeting_kinds}
    meetings = selectors.meetings(user, region=d.region_code).filter(
        kind__in=kinds, status=MeetingStatus.CLOSED, items__decision=d) if kinds else []
    return render(request, "affairs/decision_detail.html", {
        "d": d, "steps": d.steps.select_related("meeting").all(), "actions": [(a, TABLE[a]) for a in actions],
        "meetings": meetings, "opinions": d.opinions.all(), "attachments": d.attachments.all(),
        "publications": selectors.publications_for("decision", [d.pk]).get(str(d.pk), []),
        "stage_order": STAGE_ORDER, "can_manage": can(user, "affairs.manage", d.region_code),
        "rules": rules.for_village(d.region_code),
    })


@_guard
@require_POST
def decision_step(request: HttpRequest, decision_id: int) -> HttpResponse:
    selectors.decision(request.user, decision_id)
    meeting = request.POST.get("meeting") or None
    return _act(request, lambda: services.decision_transition(
        actor=request.user, decision_id=decision_id, action=request.POST.get("action", ""),
        opinion=request.POST.get("opinion", ""), meeting_id=_int(meeting) if meeting else None),
        _("The step was recorded."), reverse("affairs:decision_detail", args=[decision_id]))


@_guard
@require_POST
def decision_attach(request: HttpRequest, decision_id: int) -> HttpResponse:
    selectors.decision(request.user, decision_id)
    return _act(request, lambda: services.decision_add_attachment(
        actor=request.user, decision_id=decision_id, upload=request.FILES.get("file"),
        name=request.POST.get("name", "")), _("The file was attached."),
        reverse("affairs:decision_detail", args=[decision_id]))


# --- meetings ---


@_guard
@require_GET
def meeting_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    open_decisions = selectors.decisions(user).exclude(stage__in=[Stage.CLOSED, Stage.REJECTED])[:200]
    return render(request, "affairs/meeting_list.html", {
        "page": _paged(request, selectors.meetings(user)), "kinds": MeetingKind.choices,
        "rosters": RosterKind.choices, "villages": selectors.villages(user, "affairs.manage")[:500],
        "decisions": open_decisions,
    })


@_guard
@require_POST
def meeting_create(request: HttpRequest) -> HttpResponse:
    p = request.POST
    created: dict[str, Any] = {}

    def run() -> None:
        created["m"] = services.meeting_convene(
            actor=request.user, region_code=p.get("region_code", ""), kind=p.get("kind", ""),
            title=p.get("title", ""), held_at=_aware(p.get("held_at", ""), "held_at"),
            notice_at=_aware(p.get("notice_at", ""), "notice_at"), roster_kind=p.get("roster_kind", ""),
            secret_ballot=p.get("secret_ballot") == "on", portal_voting=p.get("portal_voting") == "on",
            decision_ids=[_int(x) for x in p.getlist("decisions") if x],
            items=[x for x in p.get("items", "").splitlines() if x.strip()])

    response = _act(request, run, _("The meeting was convened."), reverse("affairs:meeting_list"))
    if "m" in created:
        return redirect("affairs:meeting_detail", meeting_id=created["m"].pk)
    return response


@_guard
@require_GET
def meeting_detail(request: HttpRequest, meeting_id: int) -> HttpResponse:
    m = selectors.meeting(request.user, meeting_id)
    roster = list(m.roster.all())
    present = sum(e.present for e in roster)
    items = list(m.items.select_related("decision"))
    live = {}
    if m.status != MeetingStatus.CLOSED:
        live = {i.pk: services.item_result(m, i, len(roster), present) for i in items}
    voted: dict[int, set[int]] = {}
    for item_id, entry_id in m.items.values_list("receipts__item_id", "receipts__entry_id"):
        if entry_id:
            voted.setdefault(item_id, set()).add(entry_id)
    return render(request, "affairs/meeting_detail.html", {
        "m": m, "roster": roster, "present": present, "items": items, "live": live, "choices": Choice.choices,
        "voted": voted, "can_manage": can(request.user, "affairs.manage", m.region_code),
        "publications": selectors.publications_for("meeting", [m.pk]).get(str(m.pk), []),
    })


@_guard
@require_POST
def meeting_action(request: HttpRequest, meeting_id: int) -> HttpResponse:
    selectors.meeting(request.user, meeting_id)
    p = request.POST
    what = p.get("what", "")
    user = request.user

    def run() -> None:
        if what == "sign_in":
            services.meeting_sign_in(actor=user, meeting_id=meeting_id, entry_ids=[_int(x) for x in p.getlist("entry")])
        elif what == "ballot":
            services.cast_ballot(actor=user, meeting_id=meeting_id, item_id=_int(p.get("item")),
                                 entry_id=_int(p.get("entry")), choice=p.get("choice", ""))
        elif what == "tally":
            services.record_tally(actor=user, meeting_id=meeting_id, item_id=_int(p.get("item")),
                                  votes_for=_int(p.get("for")), against=_int(p.get("against")),
                                  abstain=_int(p.get("abstain")))
        elif what == "close":
            services.meeting_close(actor=user, meeting_id=meeting_id, minutes=p.get("minutes", ""),
                                   signatures=p.get("signatures", "").splitlines())
        else:
            raise ValidationFailed(detail={"what": "sign_in, ballot, tally or close"})

    return _act(request, run, _("Saved."), reverse("affairs:meeting_detail", args=[meeting_id]))


# --- disclosures ---


@_guard
@require_GET
def disclosure_calendar(request: HttpRequest) -> HttpResponse:
    user = request.user
    villages = list(selectors.villages(user)[:200])
    region = request.GET.get("region", "") or (villages[0].code if villages else "")
    dues = calendar.calendar([region] if region in {v.code for v in villages} else []).get(region, [])
    return render(request, "affairs/disclosure_calendar.html", {
        "villages": villages, "region": region, "dues": dues, "rate": calendar.on_time_rate(dues),
        "page": _paged(request, selectors.disclosures(user, region=region)),
        "categories": DisclosureCategory.choices, "cadences": Cadence.choices,
        "can_manage": can(user, "affairs.manage", region) if region else False,
    })


@_guard
@require_POST
def disclosure_publish(request: HttpRequest) -> HttpResponse:
    p = request.POST
    region = p.get("region_code", "")
    return _act(request, lambda: services.disclosure_publish(
        actor=request.user, region_code=region, category=p.get("category", ""), cadence=p.get("cadence", ""),
        period=p.get("period", "").strip(), title=p.get("title", ""), body=p.get("body", "")),
        _("The disclosure was published."), reverse("affairs:disclosure_calendar") + f"?region={region}")


@_guard
@require_GET
def disclosure_detail(request: HttpRequest, disclosure_id: int) -> HttpResponse:
    d = selectors.disclosure(request.user, disclosure_id)
    versions = selectors.disclosures(request.user).filter(series=d.series).order_by("version")
    return render(request, "affairs/disclosure_detail.html", {
        "d": d, "versions": versions, "can_manage": can(request.user, "affairs.manage", d.region_code),
        "publications": selectors.publications_for("disclosure", [d.pk]).get(str(d.pk), []),
    })


@_guard
@require_POST
def disclosure_revise(request: HttpRequest, disclosure_id: int) -> HttpResponse:
    selectors.disclosure(request.user, disclosure_id)
    p = request.POST
    return _act(request, lambda: services.disclosure_revise(
        actor=request.user, disclosure_id=disclosure_id, title=p.get("title", ""), body=p.get("body", ""),
        reason=p.get("reason", "")), _("A new version was published; the old one stays visible."),
        reverse("affairs:disclosure_detail", args=[disclosure_id]))


# --- ledger and statements ---


@_guard
@require_GET
def ledger(request: HttpRequest) -> HttpResponse:
    user = request.user
    region = request.GET.get("region", "")
    month = request.GET.get("month", "")
    return render(request, "affairs/ledger.html", {
        "page": _paged(request, selectors.ledger(user, region=region, month=month)), "region": region,
        "month": month, "kinds": EntryKind.choices, "villages": selectors.villages(user, "affairs.finance")[:500],
        "statements": selectors.statements(user, region=region)[:24],
        "can_supervise": user.has_scoped_permission("affairs.supervise"),  # type: ignore[union-attr]
        "can_finance": user.has_scoped_permission("affairs.finance"),  # type: ignore[union-attr]
    })


@_guard
@require_POST
def ledger_add(request: HttpRequest) -> HttpResponse:
    p = request.POST
    return _act(request, lambda: services.ledger_add(
        actor=request.user, region_code=p.get("region_code", ""), kind=p.get("kind", ""),
        category=p.get("category", ""), counterparty=p.get("counterparty", ""), amount=p.get("amount", ""),
        date=_date(p.get("date", ""), "date"), voucher=request.FILES.get("voucher"), note=p.get("note", "")),
        _("The ledger line was recorded."), reverse("affairs:ledger"))


@_guard
@require_POST
def ledger_import(request: HttpRequest) -> HttpResponse:
    from shanzhi.core.imports import read_upload

    upload = request.FILES.get("file")
    region = request.POST.get("region_code", "")
    report = None
    try:
        services.require_village(request.user, "affairs.finance", region)
        if upload is None:
            raise ValidationFailed(detail={"file": "required"})
        vouchers: dict[str, bytes] = {}
        for f in request.FILES.getlist("vouchers"):
            if (f.size or 0) > services.MAX_UPLOAD:
                raise ValidationFailed(detail={"vouchers": f"{f.name}: at most 20 MB"})
            vouchers[f.name or ""] = f.read()
        report = services.ledger_import(actor=request.user, region_code=region, filename=upload.name or "",
                                        data=read_upload(upload), vouchers=vouchers,
                                        dry_run=request.POST.get("dry_run") == "on")
    except NotFound:
        raise Http404 from None
    except PermissionDenied as exc:
        return render(request, "affairs/error.html", {"error": exc}, status=403)
    except ShanzhiError as exc:
        messages.error(request, _error_text(exc))
        return redirect("affairs:ledger")
    status = 200 if report.ok else 422
    return render(request, "affairs/import_report.html", {"report": report}, status=status)


@_guard
@require_POST
def ledger_sign(request: HttpRequest, entry_id: int) -> HttpResponse:
    return _act(request, lambda: services.ledger_sign(
        actor=request.user, entry_id=entry_id, as_supervisor=request.POST.get("as") == "supervisor"),
        _("Signed."), reverse("affairs:ledger"))


@_guard
@require_POST
def statement_publish(request: HttpRequest) -> HttpResponse:
    p = request.POST
    month = p.get("month", "")

    def run() -> None:
        if len(month) != 7 or month[4] != "-":
            raise ValidationFailed(detail={"month": "YYYY-MM"})
        services.statement_publish(actor=request.user, region_code=p.get("region_code", ""),
                                   year=_int(month[:4]), month=_int(month[5:]))

    return _act(request, run, _("The statement was published."), reverse("affairs:ledger"))


@_guard
@require_GET
def statement_detail(request: HttpRequest, statement_id: int) -> HttpResponse:
    s = selectors.statement(request.user, statement_id)
    return render(request, "affairs/public/statement.html", {
        "s": s, "village": selectors.public_village(s.region_code), "staff": True,
        "publications": selectors.publications_for("statement", [s.pk]).get(str(s.pk), []),
    })


def _statement_pdf(request: HttpRequest, s: Statement) -> HttpResponse:
    """The same statement (the same selector, the same stored figures) as a PDF."""
    village = selectors.public_village(s.region_code)
    pdf = statement_pdf.render(s, village, selectors.publications_for("statement", [s.pk]).get(str(s.pk), []),
                               request.build_absolute_uri(reverse("affairs:public_verify")))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="statement-{s.region_code}-{s.period}-v{s.version}.pdf"'
    return response


@_guard
@require_GET
def statement_pdf_view(request: HttpRequest, statement_id: int) -> HttpResponse:
    return _statement_pdf(request, selectors.statement(request.user, statement_id))


# --- petty powers, members, settings ---


@_guard
@require_GET
def power_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(request, "affairs/power_list.html", {
        "powers": selectors.powers(user)[:300], "exercises": _paged(request, selectors.exercises(user)),
        "villages": selectors.villages(user, "affairs.manage")[:500],
    })


@_guard
@require_POST
def power_action(request: HttpRequest) -> HttpResponse:
    p = request.POST

    def run() -> None:
        if p.get("what") == "exercise":
            services.power_exercise(actor=request.user, power_id=_int(p.get("power")), subject=p.get("subject", ""),
                                    steps_done=p.getlist("steps"), happened_on=_date(p.get("date", ""), "date"))
        else:
            services.power_create(actor=request.user, region_code=p.get("region_code", ""), name=p.get("name", ""),
                                  steps=p.get("steps", "").splitlines(), description=p.get("description", ""))

    return _act(request, run, _("Saved."), reverse("affairs:power_list"))


@_guard
@require_GET
def members(request: HttpRequest) -> HttpResponse:
    user = request.user
    villages = list(selectors.villages(user)[:200])
    region = request.GET.get("region", "") or (villages[0].code if villages else "")
    if region not in {v.code for v in villages}:
        region = ""
    return render(request, "affairs/members.html", {
        "villages": villages, "region": region, **(selectors.members(user, region) if region else {}),
        "can_manage": can(user, "affairs.manage", region) if region else False,
        "rules": rules.for_village(region) if region else None,
    })


@_guard
@require_POST
def members_action(request: HttpRequest) -> HttpResponse:
    p = request.POST
    region = p.get("region_code", "")
    user = request.user

    def run() -> None:
        what = p.get("what", "")
        on = _date(p.get("date", ""), "date") if what != "settings" else None
        if what == "committee":
            services.committee_member_add(actor=user, region_code=region, resident_id=_int(p.get("resident")),
                                          post=p.get("post", ""), elected_on=on)  # type: ignore[arg-type]
        elif what == "relative":
            services.relative_declare(actor=user, member_id=_int(p.get("member")),
                                      resident_id=_int(p.get("resident")), relation=p.get("relation", ""))
        elif what == "representative":
            services.representative_add(actor=user, region_code=region, resident_id=_int(p.get("resident")),
                                        since=on)  # type: ignore[arg-type]
        elif what == "supervisory":
            services.supervisory_member_add(actor=user, region_code=region, resident_id=_int(p.get("resident")),
                                            elected_on=on)  # type: ignore[arg-type]
        elif what == "settings":
            services.settings_update(actor=user, region_code=region, large_amount=p.get("large_amount", ""),
                                     plan_publish_days=_int(p.get("plan_publish_days")),
                                     result_publish_days=_int(p.get("result_publish_days")),
                                     notice_lead_days=_int(p.get("notice_lead_days")))
        else:
            raise ValidationFailed(detail={"what": "unknown"})

    return _act(request, run, _("Saved."), reverse("affairs:members") + f"?region={region}")


# --- statistics ---


@_guard
@require_GET
def stats(request: HttpRequest) -> HttpResponse:
    if not request.user.has_scoped_permission(VIEW):  # type: ignore[union-attr]
        raise PermissionDenied(VIEW)
    region = request.GET.get("region", "").strip()
    data = selectors.statistics(request.user, region=region)
    stage_labels = dict(Stage.choices)
    type_labels = dict(MatterType.choices)
    chart = {
        "months": [m for m, _n in data["trend"]], "counts": [n for _m, n in data["trend"]],
        "villages": [r["name"] for r in data["ranking"][:15]],
        "rates": [r["on_time"] or 0 for r in data["ranking"][:15]],
    }
    return render(request, "affairs/stats.html", {
        "data": data, "region": region, "chart": chart,
        "by_stage": [(stage_labels.get(k, k), v) for k, v in sorted(data["by_stage"].items())],
        "by_type": [(type_labels.get(k, k), v) for k, v in sorted(data["by_type"].items())],
    })


@_guard
@require_GET
def stats_export(request: HttpRequest) -> HttpResponse:
    from openpyxl import Workbook

    data = selectors.statistics(request.user, region=request.GET.get("region", "").strip())
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "villages"
    ws.append([_("Village code"), _("Village"), _("Decisions"), _("On-time disclosure rate (%)"),
               _("Overdue disclosures")])
    for r in data["ranking"]:
        ws.append([r["code"], r["name"], r["decisions"], r["on_time"], r["overdue"]])
    ws2 = wb.create_sheet("decisions")
    ws2.append([_("Stage"), _("Count")])
    for k, v in sorted(data["by_stage"].items()):
        ws2.append([k, v])
    ws2.append([])
    ws2.append([_("Matter type"), _("Count")])
    for k, v in sorted(data["by_type"].items()):
        ws2.append([k, v])
    ws2.append([])
    ws2.append([_("Procedure completeness rate (%)"), data["completeness"]])
    ws2.append([_("Supervisory opinions"), data["opinions"]])
    ws3 = wb.create_sheet("finance")
    ws3.append([_("Kind"), _("Category"), _("Total")])
    for f in data["finance"]:
        ws3.append([f["kind"], f["category"], float(f["total"])])
    buf = io.BytesIO()
    wb.save(buf)
    response = HttpResponse(buf.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = 'attachment; filename="affairs-statistics.xlsx"'
    return response


# --- public pages (no login; published content only) ---


def _pub(request: HttpRequest, template: str, code: str, **ctx: Any) -> HttpResponse:
    village = selectors.public_village(code)
    return render(request, f"affairs/public/{template}", {"village": village, **ctx})


@_public
def public_index(request: HttpRequest, code: str) -> HttpResponse:
    return _pub(request, "index.html", code,
                decisions=selectors.public_decisions(code)[:5], disclosures=selectors.public_disclosures(code)[:5],
                statements=selectors.public_statements(code)[:3])


@_public
def public_decisions(request: HttpRequest, code: str) -> HttpResponse:
    return _pub(request, "decisions.html", code, page=_paged(request, selectors.public_decisions(code)))


@_public
def public_decision(request: HttpRequest, code: str, decision_id: int) -> HttpResponse:
    d = selectors.public_decision(code, decision_id)
    return _pub(request, "decision.html", code, d=d, steps=d.steps.select_related("meeting"),
                opinions=d.opinions.all(), stage_order=STAGE_ORDER, comments=comments.public_comments(d),
                publications=selectors.publications_for("decision", [d.pk]).get(str(d.pk), []))


@_public
def public_meetings(request: HttpRequest, code: str) -> HttpResponse:
    page = _paged(request, selectors.public_meetings(code))
    pubs = selectors.publications_for("meeting", [m.pk for m in page])
    return _pub(request, "meetings.html", code, page=page, pubs=pubs)


@_public
def public_disclosures(request: HttpRequest, code: str) -> HttpResponse:
    page = _paged(request, selectors.public_disclosures(code))
    pubs = selectors.publications_for("disclosure", [d.pk for d in page])
    return _pub(request, "disclosures.html", code, page=page, pubs=pubs,
                dues=calendar.calendar([code]).get(code, [])[:12])


@_public
def public_statements(request: HttpRequest, code: str) -> HttpResponse:
    return _pub(request, "statements.html", code, page=_paged(request, selectors.public_statements(code)))


@_public
def public_statement(request: HttpRequest, code: str, statement_id: int) -> HttpResponse:
    s = selectors.public_statement(code, statement_id)
    return _pub(request, "statement.html", code, s=s,
                publications=selectors.publications_for("statement", [s.pk]).get(str(s.pk), []))


@_public
def public_statement_pdf(request: HttpRequest, code: str, statement_id: int) -> HttpResponse:
    return _statement_pdf(request, selectors.public_statement(code, statement_id))


@_public
def public_powers(request: HttpRequest, code: str) -> HttpResponse:
    return _pub(request, "powers.html", code, powers=selectors.public_powers(code))


@_public
def verify(request: HttpRequest, code: str = "") -> HttpResponse:
    code = (code or request.GET.get("code", "")).strip()[:40]
    result = publish.verify(code) if code else None
    village = None
    if result and result.publication:
        village = selectors.public_village(result.publication.region_code)
    return render(request, "affairs/public/verify.html", {"code": code, "result": result, "village": village})
