"""The shared import engine: file types, encodings, headers, all-or-nothing, dry run, jobs, exports."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from shanzhi.core import imports
from shanzhi.core.errors import TooLarge
from shanzhi.core.models import AuditEntry, ImportJob
from shanzhi.regions.models import DepartmentType


@imports.register
class DeptImporter(imports.Importer):
    """A small importer used only by these tests: department types (code, name)."""

    kind = "test.depts"
    permission = "regions.change"
    audit_action = "test.depttype.import"
    columns = [
        imports.Column("code", aliases=("代码",)),
        imports.Column("name", aliases=("名称",)),
        imports.Column("name_en", required=False, aliases=("英文名",)),
    ]

    def prepare(self, rows: list[imports.Row], context: imports.ImportContext) -> list[imports.Row]:
        context.state["existing"] = set(DepartmentType.objects.values_list("code", flat=True))
        context.state["seen"] = set()
        return rows

    def validate_row(self, row: imports.Row, context: imports.ImportContext) -> Any:
        code = row["code"]
        if not code.isascii() or not code.replace("_", "").isalnum():
            raise imports.RowError("code", "letters, digits and _ only")
        if code in context.state["existing"] or code in context.state["seen"]:
            raise imports.RowError("code", "duplicate code")
        if not row["name"]:
            raise imports.RowError("name", "empty")
        context.state["seen"].add(code)
        return DepartmentType(code=code, name=row["name"], name_en=row["name_en"])

    def apply(self, cleaned: list[Any], context: imports.ImportContext) -> dict[str, int]:
        DepartmentType.objects.bulk_create(cleaned)
        return {"created": len(cleaned)}


def run(data: bytes, filename: str = "d.csv", **kw: Any) -> imports.ImportReport:
    return imports.run_import(DeptImporter(), data, filename=filename, actor=None, **kw)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    buf = io.BytesIO()
    imports.write_xlsx(buf, rows[0], rows[1:])
    return buf.getvalue()


@pytest.fixture
def clean(db: Any) -> None:
    DepartmentType.objects.filter(code__startswith="t_").delete()


def test_csv_with_bom_and_chinese_headers(clean: None) -> None:
    data = "\ufeff代码,名称\nt_a,甲\nt_b,乙\n".encode()
    report = run(data)
    assert report.ok and report.applied, report.errors
    assert report.counts == {"created": 2}
    assert set(DepartmentType.objects.filter(code__startswith="t_").values_list("name", flat=True)) == {"甲", "乙"}
    entry = AuditEntry.objects.filter(action="test.depttype.import").get()
    assert entry.after is not None
    assert entry.after["sha256"] == report.sha256 and entry.after["rows"] == 2


def test_gb18030_csv(clean: None) -> None:
    data = "code,name\nt_gb,公安局\n".encode("gb18030")
    report = run(data)
    assert report.ok
    assert DepartmentType.objects.get(code="t_gb").name == "公安局"


def test_xlsx_streamed_and_numbers_as_text(clean: None) -> None:
    data = xlsx_bytes([["Code", "Name", "英文名"], ["t_x", "某局", "Bureau"], [None, None, None],
                       ["t_y", 12345.0, ""]])
    report = run(data, "d.xlsx")
    assert report.ok, report.errors
    assert DepartmentType.objects.get(code="t_y").name == "12345"


def test_one_bad_row_imports_nothing_and_reports_sheet_rows(clean: None) -> None:
    data = b"code,name\nt_1,one\n\nt 2,two\nt_3,\nt_1,again\n"
    report = run(data)
    assert not report.ok and not report.applied
    assert [e.as_dict() for e in report.errors] == [
        {"row": 4, "column": "code", "reason": "letters, digits and _ only"},
        {"row": 5, "column": "name", "reason": "empty"},
        {"row": 6, "column": "code", "reason": "duplicate code"},
    ]
    assert not DepartmentType.objects.filter(code__startswith="t_").exists()
    assert not AuditEntry.objects.filter(action="test.depttype.import").exists()


def test_dry_run_changes_nothing(clean: None) -> None:
    report = run(b"code,name\nt_dry,x\n", dry_run=True)
    assert report.ok and not report.applied and report.valid == 1
    assert not DepartmentType.objects.filter(code="t_dry").exists()


def test_missing_and_duplicated_columns(clean: None) -> None:
    report = run(b"code,code,other\nt_a,t_b,x\n")
    reasons = {(e.row, e.column) for e in report.errors}
    assert (1, "code") in reasons and (1, "name") in reasons
    assert report.ignored_headers == ["other"]
    assert run(b"").errors[0].row == 0
    assert run(b"code,name\n").errors[0].reason


@pytest.mark.parametrize(("name", "data"), [
    ("d.xls", b"\xd0\xcf\x11\xe0 old excel"),
    ("d.pdf", b"%PDF-1.4"),
    ("d.xlsx", b"code,name\nnot,a zip\n"),
    ("d.xlsx", b"PK\x03\x04 broken zip"),
    ("d.csv", b"\x00\x01\x02binary"),
    ("d.csv", b"code,name\n\xff\xfe\xfd\xfc\xff\n"),
])
def test_wrong_file_types_are_refused(clean: None, name: str, data: bytes) -> None:
    with pytest.raises(imports.BadFile) as exc:
        run(data, name)
    assert exc.value.status == 422 and exc.value.code == "bad_file"


def test_oversized_file_is_refused(clean: None, settings: Any) -> None:
    settings.SHANZHI_MAX_IMPORT_BYTES = 10
    with pytest.raises(TooLarge):
        run(b"code,name\nt_big,x\n")
    assert not DepartmentType.objects.filter(code="t_big").exists()


def test_progress_callback_reaches_total(clean: None) -> None:
    seen: list[tuple[int, int]] = []
    lines = "".join(f"t_{i},n{i}\n" for i in range(120))
    run(f"code,name\n{lines}".encode(), progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (50, 120) and seen[-1] == (120, 120)
    out = io.StringIO()
    imports.text_progress(out, "x")(3, 4)
    assert "3/4" in out.getvalue()


def _upload(data: bytes, name: str = "d.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


@pytest.fixture
def inline(settings: Any, tmp_path: Any) -> None:
    settings.SHANZHI_IMPORT_INLINE = True
    settings.MEDIA_ROOT = tmp_path


def test_job_runs_after_commit_and_page_shows_report(
    tree: Any, make_user: Any, client: Any, inline: None, django_capture_on_commit_callbacks: Any
) -> None:
    user = make_user("town_admin", tree.town_a1a)
    with django_capture_on_commit_callbacks(execute=True):
        job = imports.start_job(kind="test.depts", upload=_upload(b"code,name\nt_job,x\nbad code,y\n"),
                                actor=user, region_code=tree.town_a1a, dry_run=False)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REJECTED and job.total == 2
    assert job.errors == [{"row": 3, "column": "code", "reason": "letters, digits and _ only"}]
    assert not DepartmentType.objects.filter(code="t_job").exists()
    client.force_login(user)
    page = client.get(reverse("core:import_job", args=[job.pk]))
    assert page.status_code == 200 and "letters, digits" in page.content.decode()
    assert 'hx-trigger="every 1s"' not in page.content.decode()
    # another user of a sibling town, and the same user for a job outside their scope, get 404
    other = make_user("town_admin", tree.town_a1b)
    client.force_login(other)
    assert client.get(reverse("core:import_job_progress", args=[job.pk])).status_code == 404


def test_job_success_and_polling_while_running(
    tree: Any, make_user: Any, client: Any, inline: None, django_capture_on_commit_callbacks: Any
) -> None:
    user = make_user("town_admin", tree.town_a1a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = imports.start_job(kind="test.depts", upload=_upload(b"code,name\nt_ok,x\n"),
                                actor=user, region_code=tree.town_a1a, dry_run=False)
    client.force_login(user)
    pending = client.get(reverse("core:import_job_progress", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in pending
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.report["counts"] == {"created": 1}
    assert DepartmentType.objects.filter(code="t_ok").exists()


def test_job_refuses_bad_upload_before_storing(tree: Any, make_user: Any, inline: None) -> None:
    user = make_user("town_admin", tree.town_a1a)
    with pytest.raises(imports.BadFile):
        imports.start_job(kind="test.depts", upload=_upload(b"x", "a.exe"), actor=user,
                          region_code=tree.town_a1a, dry_run=True)
    assert not ImportJob.objects.exists()


def test_xlsx_response_streams_workbook() -> None:
    response = imports.xlsx_response("x.xlsx", ["代码", "名称"], iter([["1", "甲"], ["2", "乙"]]))
    body = b"".join(response.streaming_content)  # type: ignore[arg-type]
    sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == [["代码", "名称"], ["1", "甲"], ["2", "乙"]]
    assert "attachment" in response["Content-Disposition"]


@pytest.mark.django_db(transaction=True)
def test_job_runs_in_a_thread_with_its_own_connection(settings: Any, tmp_path: Any) -> None:
    """The real web path: after commit a thread of the web process runs the job on its own connection."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("an in-memory SQLite test database is not shared with other threads")
    from shanzhi.testing import factories

    settings.MEDIA_ROOT = tmp_path
    settings.SHANZHI_IMPORT_INLINE = False
    factories.ensure_region("330902008000")
    user = factories.make_user("town_admin", "330902008000")
    job = imports.start_job(kind="test.depts", upload=_upload(b"code,name\nt_thread,x\n"), actor=user,
                            region_code="330902008000", dry_run=False)
    for thread in threading.enumerate():
        if thread.name == f"import-{job.pk}":
            thread.join(timeout=30)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE, job.errors
    assert DepartmentType.objects.filter(code="t_thread").exists()
