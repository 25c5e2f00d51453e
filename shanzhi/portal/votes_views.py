"""A resident's votes and plan comments on the portal (village affairs, issue 5 §3).

Only meetings and plans of the resident's own village: any other answers 404 exactly like a missing one.
Every write goes through the village-affairs services; their errors (voting twice, a closed meeting, not on the
roster, a plan no longer published, too many comments) are shown on the page with a 4xx status and change
nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from shanzhi.affairs import comments, portal_links
from shanzhi.affairs.models import Choice
from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError

from .views import _resident_page


def _vote_page(request: HttpRequest, pk: int, error: str = "", status: int = 200) -> HttpResponse:
    sheet = portal_links.voting_sheet(request.user, pk)
    return render(request, "portal/votes/meeting.html", {
        "sheet": sheet, "m": sheet.meeting, "choices": Choice.choices, "error": error,
    }, status=status)


@_resident_page
@require_http_methods(["GET", "POST"])
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    if not user.has_scoped_permission("portal.vote"):
        raise PermissionDenied("portal.vote")
    if request.method == "POST":
        what = request.POST.get("what", "")
        try:
            if what == "sign_in":
                portal_links.portal_sign_in(actor=user, meeting_id=pk)
                ok = _("You are signed in.")
            elif what == "ballot":
                item = request.POST.get("item", "")
                if not item.isdigit():
                    raise NotFound("vote item")
                portal_links.portal_cast_ballot(actor=user, meeting_id=pk, item_id=int(item),
                                                choice=request.POST.get("choice", ""))
                ok = _("Your vote was recorded.")
            else:
                return _vote_page(request, pk, _("Unknown action."), 422)
        except (NotFound, PermissionDenied):
            raise
        except ShanzhiError as exc:
            return _vote_page(request, pk, str(exc.message), exc.status)
        messages.success(request, ok)
        return redirect("portal:vote", pk=pk)
    return _vote_page(request, pk)


def _plan_page(request: HttpRequest, pk: int, error: str = "", text: str = "", status: int = 200) -> HttpResponse:
    decision = comments.plan(request.user, pk)
    return render(request, "portal/votes/plan.html", {
        "d": decision, "open": comments.is_open(decision), "window": comments.window(decision),
        "mine": list(comments.my_comments(request.user, decision)[:50]), "error": error, "text": text,
        "max_length": comments.MAX_LENGTH,
    }, status=status)


@_resident_page
@require_http_methods(["GET", "POST"])
def plan(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    if not user.has_scoped_permission("portal.comment"):
        raise PermissionDenied("portal.comment")
    if request.method == "POST":
        text = request.POST.get("text", "")
        try:
            comments.comment_post(actor=user, decision_id=pk, text=text)
        except (NotFound, PermissionDenied):
            raise
        except ShanzhiError as exc:
            return _plan_page(request, pk, str(exc.message), text[:comments.MAX_LENGTH * 2], exc.status)
        messages.success(request, _("Thank you. Your comment will be shown after review."))
        return redirect("portal:plan", pk=pk)
    return _plan_page(request, pk)
