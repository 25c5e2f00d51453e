"""The import-job pages: a job's progress (polled by htmx every second) and its report."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .errors import ShanzhiError
from .imports import get_importer
from .models import ImportJob
from .scope import can


def job_for(user: Any, pk: int) -> ImportJob:
    """A job inside the caller's scope for its importer's permission (colleagues see it too); else 404."""
    job = ImportJob.objects.filter(pk=pk).first()
    if job is None:
        raise Http404
    try:
        permission = get_importer(job.kind).permission
    except ShanzhiError:
        raise Http404 from None
    if not can(user, permission, job.region_code):
        raise Http404
    return job


def _errors_page(job: ImportJob) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = list(job.errors or [])
    return errors[:1000]


@login_required
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_for(request.user, pk)
    return render(request, "core/import_job.html", {"job": job, "errors": _errors_page(job)})


@login_required
def import_job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = job_for(request.user, pk)
    return render(request, "core/import_job_progress.html", {"job": job, "errors": _errors_page(job)})
