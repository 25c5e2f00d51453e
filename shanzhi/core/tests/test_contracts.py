"""The contracts that CI checks, run by the test command itself: lint, types, migrations, OpenAPI, i18n."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_ruff_clean() -> None:
    result = _run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean() -> None:
    result = _run(sys.executable, "-m", "mypy", "shanzhi")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_no_missing_migrations() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_openapi_document_is_current() -> None:
    from shanzhi.api.management.commands.openapi import DOC, current_schema

    assert DOC.exists(), "docs/openapi.json is missing: run `uv run shanzhi openapi --write`"
    assert DOC.read_text(encoding="utf-8") == current_schema(), (
        "docs/openapi.json is stale: run `uv run shanzhi openapi --write` and commit it"
    )


def _catalogues() -> list[Path]:
    return sorted((ROOT / "shanzhi").glob("*/locale/zh_Hans/LC_MESSAGES/django.po"))


@pytest.mark.parametrize("po_path", _catalogues(), ids=lambda p: p.parts[-5])
def test_translations_complete_and_compiled(po_path: Path) -> None:
    po = polib.pofile(str(po_path))
    missing = [e.msgid for e in po if not e.obsolete and (not e.translated() or e.fuzzy)]
    assert not missing, f"{po_path}: untranslated or fuzzy: {missing[:20]}"
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} missing: run `uv run shanzhi i18n --compile-only`"
    mo = polib.mofile(str(mo_path))
    compiled = {(e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items()))) for e in mo}
    source = {
        (e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in po
        if e.translated() and not e.obsolete
    }
    assert compiled == source, f"{mo_path} is stale: run `uv run shanzhi i18n --compile-only`"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext not installed (apt install gettext)")
def test_catalogues_hold_every_string(tmp_path: Path) -> None:
    """Every translatable string in code and templates is in its app's catalogue."""
    for po_path in _catalogues():
        app_dir = po_path.parents[3]
        before = {e.msgid for e in polib.pofile(str(po_path)) if not e.obsolete}
        work = tmp_path / app_dir.name
        shutil.copytree(app_dir, work, ignore=shutil.ignore_patterns("tests", "migrations", "static"))
        # -P: the copied app directory must not shadow the standard library (an app has selectors.py)
        result = subprocess.run(
            [sys.executable, "-P", "-m", "django", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
            cwd=work, capture_output=True, text=True,
            # PYTHONSAFEPATH: the copied app (with its selectors.py) must not shadow the standard library
            env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "shanzhi.settings", "PYTHONSAFEPATH": "1"},
        )
        assert result.returncode == 0, result.stderr
        after = {e.msgid for e in polib.pofile(str(work / "locale/zh_Hans/LC_MESSAGES/django.po"))}
        assert after - before == set(), f"{app_dir.name}: strings not extracted: run `uv run shanzhi i18n`"


@pytest.mark.django_db
def test_chinese_by_default_whatever_the_browser_says(client) -> None:
    page = client.get("/accounts/login/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert page["Content-Language"] == "zh-hans" and "登录" in page.content.decode()
    client.cookies["django_language"] = "en"
    page = client.get("/accounts/login/")
    assert page["Content-Language"] == "en" and "Log in" in page.content.decode()
