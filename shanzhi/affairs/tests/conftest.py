from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    """Vouchers and attachments are written to a temporary media root."""
    settings.MEDIA_ROOT = tmp_path / "media"
