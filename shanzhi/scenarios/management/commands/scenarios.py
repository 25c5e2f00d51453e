"""``shanzhi scenarios check|list|sync|convert``: validate the scenario packs, list them, create/update their
categories and rules (idempotent, audited, versioned), and turn pending pack alerts into events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from shanzhi.scenarios import loader, services


class Command(BaseCommand):
    help = "Scenario packs: 'check' validates the pack files, 'list' shows them, 'sync' installs them."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (("check", "validate every pack file (file, line and field of the first error)"),
                           ("list", "list the packs and their versions"),
                           ("sync", "create/update the categories and rules of every pack"),
                           ("convert", "turn firing pack alerts whose rule says to_event into events")):
            p = sub.add_parser(name, help=text)
            if name != "convert":
                p.add_argument("--dir", default="", help="the pack directory (default: the built-in packs)")
            if name == "sync":
                p.add_argument("packs", nargs="*", help="only these pack codes")

    def _load(self, options: dict[str, Any]) -> dict[str, loader.Pack]:
        try:
            return loader.load_dir(Path(options["dir"])) if options.get("dir") else loader.packs()
        except loader.PackError as exc:
            raise CommandError(str(exc)) from None

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "convert":
            events = services.convert_pending()
            self.stdout.write(f"{len(events)} events created")
            return
        packs = self._load(options)
        if action == "check":
            self.stdout.write(f"{len(packs)} packs are valid")
        elif action == "list":
            for code, pack in sorted(packs.items()):
                self.stdout.write(f"{code:24} v{pack.version:<4} {len(pack.categories)} categories, "
                                  f"{len(pack.rules)} rules  {pack.name}")
        else:
            wanted = options["packs"]
            unknown = sorted(set(wanted) - set(packs))
            if unknown:
                raise CommandError(f"no such pack: {', '.join(unknown)}")
            selected = {c: p for c, p in packs.items() if not wanted or c in wanted}
            result = services.sync_all(actor="system", selected=selected)
            for label in ("created", "updated", "unchanged"):
                codes = getattr(result, label)
                if codes:
                    self.stdout.write(f"{label}: {', '.join(codes)}")
            for code, reason in result.refused.items():
                self.stderr.write(f"refused {code}: {reason}")
            if result.refused:
                raise CommandError(f"{len(result.refused)} packs refused")
