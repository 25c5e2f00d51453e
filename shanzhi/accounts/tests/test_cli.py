import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shanzhi.accounts.models import User
from shanzhi.api.auth import user_for_token
from shanzhi.core.models import AuditEntry

STRONG = "Strong-Passw0rd-2026"


def run(*args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    kwargs = {"stdout": out, "stderr": err}
    if stdin is not None:
        kwargs["stdin"] = io.StringIO(stdin)
    call_command("user", *args, **kwargs)
    return out.getvalue(), err.getvalue()


def test_bootstrap_create_with_password_from_stdin(tree):
    out, _ = run("create", "--username", "root", "--role", "city_admin", "--region", tree.city_a,
                 "--display-name", "市管理员", "--password-stdin", stdin=STRONG + "\n")
    user = User.objects.get(username="root")
    assert "created user root" in out and user.check_password(STRONG) and user.display_name == "市管理员"
    assert user.role_assignments.get().role == "city_admin"
    entry = AuditEntry.objects.get(action="accounts.user.create")
    assert entry.actor_label == "cli" and entry.actor_id is None


def test_create_accepts_a_short_code(tree):
    run("create", "--username", "c", "--role", "county_admin", "--region", "330902")
    user = User.objects.get(username="c")
    assert user.role_assignments.get().region_code == tree.county_a1 and not user.has_usable_password()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "emperor", "--region", "330900000000"], "unknown role"),
        (["--role", "city_admin", "--region", "330999000000"], "no region"),
        (["--role", "city_admin", "--region", "33x"], "--region"),
        (["--role", "city_admin", "--region", "330902000000"], "city level"),
    ],
)
def test_create_errors_are_clear(tree, args, message):
    with pytest.raises(CommandError, match=message):
        run("create", "--username", "u", *args)
    assert not User.objects.filter(username="u").exists()


def test_weak_or_missing_password_on_stdin(tree):
    with pytest.raises(CommandError, match="password"):
        run("create", "--username", "u", "--role", "city_admin", "--region", tree.city_a, "--password-stdin",
            stdin="short\n")
    with pytest.raises(CommandError, match="no password"):
        run("create", "--username", "u", "--role", "city_admin", "--region", tree.city_a, "--password-stdin",
            stdin="")
    assert not User.objects.filter(username="u").exists()


def test_list_grant_password_token(tree):
    run("create", "--username", "alice", "--role", "town_admin", "--region", tree.town_a1a)
    run("create", "--username", "bob", "--role", "grid_worker", "--region", tree.village_a1b1)
    out, _ = run("grant", "--username", "alice", "--role", "auditor", "--region", tree.county_a1)
    assert "granted auditor" in out
    out, _ = run("list")
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["USERNAME", "NAME"] and "3 assignment(s)" in lines[-1]
    out, _ = run("list", "--region", tree.town_a1a)
    assert "alice" in out and "bob" not in out
    out, _ = run("list", "--role", "grid_worker")
    assert "bob" in out and "alice" not in out
    with pytest.raises(CommandError, match="unknown role"):
        run("list", "--role", "x")
    run("password", "--username", "bob", stdin=STRONG + "\n")
    assert User.objects.get(username="bob").check_password(STRONG)
    out, err = run("token", "--username", "bob", "--name", "sync")
    owner = user_for_token(out.strip())
    assert owner is not None and owner.username == "bob" and "shown once" in err
    with pytest.raises(CommandError, match="no user"):
        run("grant", "--username", "nobody", "--role", "auditor", "--region", tree.county_a1)
    with pytest.raises(CommandError, match="already holds"):
        run("grant", "--username", "alice", "--role", "auditor", "--region", tree.county_a1)


def test_missing_subcommand_or_option_is_an_error(db):
    with pytest.raises(CommandError):
        call_command("user")
    with pytest.raises(CommandError):
        call_command("user", "create", "--username", "x")
