"""System check ``scenarios.E001``: every built-in scenario pack loads and validates (file, line and field)."""

from __future__ import annotations

from typing import Any

from django.core import checks

from .loader import PackError, pack_dir, packs


def check_packs(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        packs()
    except PackError as exc:
        return [checks.Error(f"scenario pack: {exc}", hint="fix the pack file (docs/guide/scenario-packs.md)",
                             obj=str(pack_dir()), id="scenarios.E001")]
    return []


def register() -> None:
    checks.register(check_packs, "scenarios")
