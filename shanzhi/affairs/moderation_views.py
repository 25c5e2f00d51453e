"""Moderation of residents' comments on published plans (staff holding ``affairs.moderate`` in the village)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from shanzhi.core.errors import PermissionDenied

from . import comments
from .models import CommentStatus
from .views import PAGE_SIZE, _act, _guard


@_guard
@require_GET
def comment_list(request: HttpRequest) -> HttpResponse:
    if not request.user.has_scoped_permission(comments.MODERATE):  # type: ignore[union-attr]
        raise PermissionDenied(comments.MODERATE)
    status = request.GET.get("status", CommentStatus.PENDING)
    if status not in CommentStatus.values and status != "all":
        status = CommentStatus.PENDING
    page = Paginator(comments.comments(request.user, status=status), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "affairs/comments.html", {"page": page, "status": status,
                                                     "statuses": CommentStatus.choices})


@_guard
@require_POST
def comment_moderate(request: HttpRequest, comment_id: int) -> HttpResponse:
    decision = request.POST.get("decision", "")
    back = reverse("affairs:comment_list")

    def run() -> None:
        comments.comment_moderate(actor=request.user, comment_id=comment_id, approve=decision == "approve",
                                  reason=request.POST.get("reason", ""))

    return _act(request, run, _("The comment was moderated."), back)
