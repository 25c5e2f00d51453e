from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def home(request: HttpRequest) -> HttpResponse:
    from shanzhi.accounts.models import RoleAssignment

    assignments = RoleAssignment.objects.filter(user_id=int(request.user.pk or 0)).select_related("region")
    return render(request, "core/home.html", {"assignments": assignments})
