"""``shanzhi openapi [--write | --check]``: the committed OpenAPI document (docs/openapi.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DOC = Path(settings.BASE_DIR).parent / "docs" / "openapi.json"


def current_schema() -> str:
    from shanzhi.api.root import api

    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Print, write or check the committed OpenAPI document."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--write", action="store_true", help="write docs/openapi.json")
        parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is stale")

    def handle(self, *args: Any, **options: Any) -> None:
        text = current_schema()
        if options["write"]:
            DOC.write_text(text, encoding="utf-8")
            self.stdout.write(f"wrote {DOC}")
        elif options["check"]:
            if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
                raise CommandError("docs/openapi.json is stale: run `uv run shanzhi openapi --write`")
            self.stdout.write("docs/openapi.json is up to date")
        else:
            self.stdout.write(text)
