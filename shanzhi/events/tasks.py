"""Background tasks of the events app (Django Tasks API)."""

from __future__ import annotations

from django_tasks import task

from .outbound import deliver_due


@task()
def deliver_outbox() -> int:
    """Deliver the outbound messages that are due (webhooks …); failures are retried by later runs."""
    return deliver_due(limit=200)
