import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from shanzhi.core import audit
from shanzhi.core.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def _write(n):
    for i in range(n):
        with transaction.atomic():
            audit.record(actor=None, action="test.cli", object_type="test", object_id=i, after={"v": i})


@pytest.fixture
def tamperable():
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("ALTER TABLE core_auditentry DISABLE TRIGGER USER")
        else:
            c.execute("DROP TRIGGER IF EXISTS core_auditentry_no_update")
            c.execute("DROP TRIGGER IF EXISTS core_auditentry_no_delete")
    yield
    with connection.cursor() as c:
        if connection.vendor == "postgresql":
            c.execute("ALTER TABLE core_auditentry ENABLE TRIGGER USER")
        else:
            from shanzhi.testing.sqlite import ensure_audit_triggers

            ensure_audit_triggers()


def test_verify_ok():
    _write(3)
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue().strip() == "OK: 3 rows verified"


def test_verify_empty_log():
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue().strip() == "OK: 0 rows verified"


def test_verify_reports_a_tampered_row(tamperable):
    _write(4)
    AuditEntry.objects.filter(seq=3).update(after={"v": 999})
    with pytest.raises(CommandError, match="BROKEN at row 3: row content does not match its hash") as exc:
        call_command("audit", "verify")
    assert exc.value.returncode == 1


def test_verify_reports_a_missing_row(tamperable):
    _write(4)
    AuditEntry.objects.filter(seq=2).delete()
    with pytest.raises(CommandError, match="BROKEN at row 2: row 2 is missing"):
        call_command("audit", "verify")


def test_verify_needs_a_subcommand():
    with pytest.raises(CommandError):
        call_command("audit")
