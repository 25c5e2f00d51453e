from __future__ import annotations

from django import template

from shanzhi.core.masking import mask as _mask

register = template.Library()


@register.filter
def mask(value: str | None, kind: str) -> str:
    """``{{ resident.phone|mask:"phone" }}``: the one masking function, in templates."""
    return _mask(kind, value)
