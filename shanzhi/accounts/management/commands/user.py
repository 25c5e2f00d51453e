"""``shanzhi user create|list|grant|password|token``: bootstrap and manage accounts without the admin site.

The CLI is run by whoever operates the server, so it acts without a scoped actor (``check_scope=False``);
every change is still written to the audit log (actor "cli").
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shanzhi.accounts import services
from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.accounts.roles import Role
from shanzhi.core.codes import CodeError, normalize, prefix_of
from shanzhi.core.errors import ShanzhiError
from shanzhi.core.scope import scope_q

ACTOR = "cli"


def _code(value: str) -> str:
    try:
        return normalize(value)
    except CodeError as exc:
        raise CommandError(f"--region: {exc}") from None


def _error(exc: ShanzhiError) -> CommandError:
    detail = exc.detail if isinstance(exc.detail, dict) else {"error": exc.detail or exc.message}
    lines = [f"{key}: {value}" for key, value in detail.items()]
    if "no region" in str(detail.get("region", "")):
        lines.append("load the division codes first (the regions import), then retry")
    return CommandError("; ".join(lines))


class Command(BaseCommand):
    help = "Create, list and grant roles to users; create API tokens (bootstrap without the admin site)."
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        roles = ", ".join(r.value for r in Role)

        create = sub.add_parser("create", help="create a user with a first role")
        create.add_argument("--username", required=True)
        create.add_argument("--role", required=True, help=f"one of: {roles}")
        create.add_argument("--region", required=True, help="12-digit division code (or its prefix)")
        create.add_argument("--display-name", default="")
        create.add_argument("--password-stdin", action="store_true",
                            help="read the password from the first line of standard input")

        listing = sub.add_parser("list", help="list users")
        listing.add_argument("--region", default="", help="only users with a role under this code prefix")
        listing.add_argument("--role", default="")

        grant = sub.add_parser("grant", help="give a user a role in a region")
        grant.add_argument("--username", required=True)
        grant.add_argument("--role", required=True, help=f"one of: {roles}")
        grant.add_argument("--region", required=True)

        password = sub.add_parser("password", help="set a user's password (read from standard input)")
        password.add_argument("--username", required=True)

        token = sub.add_parser("token", help="create an API token for a user and print it once")
        token.add_argument("--username", required=True)
        token.add_argument("--name", required=True)

    def _stdin_password(self, options: dict[str, Any]) -> str:
        stream = options.get("stdin") or sys.stdin
        line = stream.readline().rstrip("\r\n")
        if not line:
            raise CommandError("no password on standard input")
        return str(line)

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        return user

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, f"do_{action}")(options)
        except ShanzhiError as exc:
            raise _error(exc) from None

    def do_create(self, options: dict[str, Any]) -> None:
        password = self._stdin_password(options) if options["password_stdin"] else None
        user = services.user_create(
            actor=ACTOR, username=options["username"], password=password, role=options["role"],
            region_code=_code(options["region"]), display_name=options["display_name"], check_scope=False,
        )
        self.stdout.write(f"created user {user.username} (id {user.pk}) as {options['role']} "
                          f"in {_code(options['region'])}")
        if password is None:
            self.stdout.write("no password set: run `shanzhi user password --username "
                              f"{user.username}` and type it on standard input")

    def do_list(self, options: dict[str, Any]) -> None:
        rows = RoleAssignment.objects.select_related("user", "region").order_by("user__username", "region_code")
        if options["role"]:
            if options["role"] not in {r.value for r in Role}:
                raise CommandError(f"unknown role {options['role']!r}; known: {', '.join(r.value for r in Role)}")
            rows = rows.filter(role=options["role"])
        if options["region"]:
            rows = rows.filter(scope_q([prefix_of(_code(options["region"]))]))
        header = ("USERNAME", "NAME", "ROLE", "REGION", "REGION NAME", "ACTIVE")
        table = [header] + [
            (a.user.username, a.user.display_name, a.role, a.region_code, a.region.name,
             "yes" if a.user.is_active else "no")
            for a in rows
        ]
        widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
        for row in table:
            self.stdout.write("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        self.stdout.write(f"{len(table) - 1} assignment(s)")

    def do_grant(self, options: dict[str, Any]) -> None:
        user = self._user(options["username"])
        grant = services.role_grant(actor=ACTOR, user=user, role=options["role"],
                                    region_code=_code(options["region"]), check_scope=False)
        self.stdout.write(f"granted {grant.role} in {grant.region_code} to {user.username}")

    def do_password(self, options: dict[str, Any]) -> None:
        user = self._user(options["username"])
        services.password_change(actor=ACTOR, user=user, new_password=self._stdin_password(options),
                                  check_scope=False)
        self.stdout.write(f"password set for {user.username}")

    def do_token(self, options: dict[str, Any]) -> None:
        user = self._user(options["username"])
        secret = services.token_create(actor=ACTOR, user=user, name=options["name"])
        self.stdout.write(secret)
        self.stderr.write("this token is shown once; store it now")
