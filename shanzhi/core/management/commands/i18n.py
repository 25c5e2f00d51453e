"""``shanzhi i18n``: extract messages per app (each app keeps its own locale/) and compile them.

Translators edit ``shanzhi/<app>/locale/zh_Hans/LC_MESSAGES/django.po``; the compiled ``.mo`` is committed
so that a fresh machine needs no gettext tools.  Extraction needs GNU gettext (``apt install gettext``);
compilation is pure Python (polib).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

LANGS = ["zh_Hans"]


def locale_dirs() -> list[Path]:
    root = Path(settings.BASE_DIR)
    return sorted(p.parent / "locale" for p in root.glob("*/apps.py"))


def compile_all() -> list[Path]:
    import polib

    written = []
    for loc in locale_dirs():
        for po_path in loc.glob("*/LC_MESSAGES/django.po"):
            po = polib.pofile(str(po_path))
            mo_path = po_path.with_suffix(".mo")
            po.save_as_mofile(str(mo_path))
            written.append(mo_path)
    return written


class Command(BaseCommand):
    help = "Extract translatable strings into each app's locale/ and compile the catalogues."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--compile-only", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["compile_only"]:
            cwd = os.getcwd()
            try:
                for loc in locale_dirs():
                    loc.mkdir(exist_ok=True)
                    os.chdir(loc.parent)
                    call_command("makemessages", locale=LANGS, verbosity=0, no_obsolete=True,
                                 ignore_patterns=["static/*", "tests/*", "migrations/*"])
            finally:
                os.chdir(cwd)
        for mo in compile_all():
            self.stdout.write(f"compiled {mo.relative_to(Path(settings.BASE_DIR).parent)}")
