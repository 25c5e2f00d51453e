"""`shanzhi check --deploy` passes with the production profile, and refuses to start without its secrets."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path


def _run(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SHANZHI_", "SECRET_KEY", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, "-m", "shanzhi.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env={**base, "SHANZHI_DATA_DIR": str(tmp_path), **env}, capture_output=True, text=True, timeout=120,
    )


def test_production_profile_passes_the_deploy_check(tmp_path: Path) -> None:
    result = _run({
        "SHANZHI_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "SHANZHI_PII_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "shanzhi.example.org",
        "DATABASE_URL": "postgres://shanzhi@db.example.org:5432/shanzhi",
    }, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_profile_needs_its_secrets(tmp_path: Path) -> None:
    result = _run({"SHANZHI_ENV": "production", "ALLOWED_HOSTS": "x"}, tmp_path)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_a_bad_pii_key_is_reported(tmp_path: Path) -> None:
    result = _run({
        "SHANZHI_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(60), "SHANZHI_PII_KEY": "short",
        "ALLOWED_HOSTS": "shanzhi.example.org", "DATABASE_URL": "postgres://u@h:5432/d",
    }, tmp_path)
    assert result.returncode != 0 and "shanzhi.E001" in result.stdout + result.stderr
