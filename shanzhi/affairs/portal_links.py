"""Links the residents' portal shows for a village (the portal imports this module if it exists)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def links(village_code: str) -> list[tuple[Any, str]]:
    """(label, url) of every public village-affairs page of one village."""
    pages = [
        (_("Disclosures (三务公开)"), "affairs:public_disclosures"),
        (_("Decisions (五议两公开)"), "affairs:public_decisions"),
        (_("Meeting results"), "affairs:public_meetings"),
        (_("Finance statements"), "affairs:public_statements"),
        (_("Petty-power list"), "affairs:public_powers"),
    ]
    out = [(label, reverse(name, kwargs={"code": village_code})) for label, name in pages]
    out.append((_("Verify a published record"), reverse("affairs:public_verify")))
    return out
