"""The ``shanzhi`` console script: Django's management commands under one name.

``shanzhi demo``, ``shanzhi serve``, ``shanzhi user create …``, ``shanzhi audit verify``, ``shanzhi check
--deploy`` and every other command are management commands of the Shanzhi apps (or Django's own).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shanzhi.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["shanzhi", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
