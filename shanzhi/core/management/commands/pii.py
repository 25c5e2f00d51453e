"""``shanzhi pii rekey``: after rotating SHANZHI_PII_KEY, re-encrypt every personal-data value under the new key
and recompute the blind indexes.  Safe to run again; run it with the old key still in SHANZHI_PII_OLD_KEYS."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shanzhi.core.crypto import CryptoError
from shanzhi.core.rekey import rekey


class Command(BaseCommand):
    help = "Personal-data key maintenance: `rekey` re-encrypts under the current key and rebuilds blind indexes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["rekey"])
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(label: str, done: int) -> None:
            sys.stderr.write(f"\r  {label:<32} {done:>9,}")
            sys.stderr.flush()

        try:
            report = rekey(batch=options["batch"], progress=progress)
        except CryptoError as exc:
            raise CommandError(f"{exc}: is the old key listed in SHANZHI_PII_OLD_KEYS?") from exc
        sys.stderr.write("\n")
        for label, count in report.rows.items():
            self.stdout.write(f"{label}: {count} rows re-encrypted")
        self.stdout.write(f"OK: {report.total} rows under the current key")
