"""Regions, grids and centres: services, importers, CLI, API and pages (bad input, scope, query counts)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils.translation import override
from openpyxl import load_workbook

from shanzhi.core import imports
from shanzhi.core.errors import Conflict, NotFound, TooLarge, ValidationFailed
from shanzhi.core.models import AuditEntry, ImportJob
from shanzhi.regions import selectors, services
from shanzhi.regions.importers import GridImporter, RegionImporter
from shanzhi.regions.models import Centre, DepartmentType, Grid, Region
from shanzhi.testing.factories import make_token

SQUARE = {"type": "Polygon", "coordinates": [[[122.0, 30.0], [122.1, 30.0], [122.1, 30.1], [122.0, 30.0]]]}


def state() -> tuple[int, int, int]:
    return Region.objects.count(), Grid.objects.count(), AuditEntry.objects.count()


# --- services ------------------------------------------------------------------------------------------


def test_region_create_derives_level_and_audits(tree: Any, make_user: Any) -> None:
    admin = make_user("town_admin", tree.town_a1a)
    region = services.region_create(actor=admin, code="330902008203", name="新建村")
    assert region.level == "village" and region.parent_id == tree.town_a1a
    assert AuditEntry.objects.filter(action="regions.region.create", object_id=region.code).exists()


@pytest.mark.parametrize(("code", "parent", "field"), [
    ("3309020082", None, "code"),          # 10 digits
    ("330902008999", None, "code"),        # village part outside 001-599
    ("330902000201", None, "code"),        # village without a township part
    ("330902008204", "330902100000", "parent_code"),  # village under the wrong town
])
def test_region_create_rejects_bad_codes(tree: Any, make_user: Any, code: str, parent: str | None,
                                         field: str) -> None:
    admin = make_user("city_admin", tree.city_a)
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.region_create(actor=admin, code=code, name="x", parent_code=parent)
    assert field in exc.value.detail
    assert state() == before


def test_region_create_duplicate_and_out_of_scope(tree: Any, make_user: Any) -> None:
    admin = make_user("town_admin", tree.town_a1a)
    with pytest.raises(Conflict):
        services.region_create(actor=admin, code=tree.village_a1a1, name="重复")
    before = state()
    with pytest.raises(NotFound):  # under the sibling town: outside the admin's world
        services.region_create(actor=admin, code="330902100205", name="越界村")
    assert state() == before


def test_grid_services(tree: Any, make_user: Any) -> None:
    admin = make_user("village_admin", tree.village_a1a1)
    worker = make_user("grid_worker", tree.village_a1a1)
    stranger = make_user("grid_worker", tree.village_a1a2)
    with pytest.raises(ValidationFailed):  # a grid belongs to a village, not a town
        services.grid_create(actor=make_user("town_admin", tree.town_a1a), region_code=tree.town_a1a,
                             number="1", name="x")
    with pytest.raises(ValidationFailed):
        services.grid_create(actor=admin, region_code=tree.village_a1a1, number="2", name="x",
                             polygon={"type": "Polygon", "coordinates": [[[1, 2], [3, 4]]]})
    with pytest.raises(Conflict):
        services.grid_create(actor=admin, region_code=tree.village_a1a1, number="01", name="dup")
    grid = services.grid_create(actor=admin, region_code=tree.village_a1a1, number="02", name="二网格",
                                polygon=SQUARE)
    services.grid_assign(actor=admin, grid=grid, leader=worker, members=[worker])
    assert grid.members.get() == worker and Grid.objects.get(pk=grid.pk).leader == worker
    with pytest.raises(ValidationFailed):  # a worker of another village cannot lead this grid
        services.grid_assign(actor=admin, grid=grid, leader=stranger)
    with pytest.raises(NotFound):
        services.grid_update(actor=admin, grid=tree.grids[tree.village_a1a2], name="越界")


def test_centre_services(tree: Any, make_user: Any) -> None:
    admin = make_user("county_admin", tree.county_a1)
    police = DepartmentType.objects.get(code="police")
    centre = services.centre_create(actor=admin, region_code=tree.county_a1, kind="department", name="定海公安",
                                    department_type=police.code)
    assert centre.department_type == police
    with pytest.raises(Conflict):
        services.centre_create(actor=admin, region_code=tree.county_a1, kind="county", name="again")
    with pytest.raises(ValidationFailed):  # a town centre does not belong to a village
        services.centre_create(actor=admin, region_code=tree.village_a1a1, kind="town", name="x")
    with pytest.raises(ValidationFailed):
        services.centre_create(actor=admin, region_code=tree.town_a1a, kind="department", name="x",
                               department_type="police")
    services.centre_update(actor=admin, centre=centre, phone="0580-1234567")
    assert Centre.objects.get(pk=centre.pk).phone == "0580-1234567"


def test_department_types_are_seeded(db: Any) -> None:
    assert {"police", "justice", "civil_affairs", "ocean_fisheries"} <= set(
        DepartmentType.objects.values_list("code", flat=True))


# --- importers -----------------------------------------------------------------------------------------

REGIONS_CSV = (
    "代码,名称,上级代码,城乡分类代码\n"
    "330902008203,新村,330902008000,220\n"     # child first in the file: sorted before applying
    "330902200000,新乡,,\n"
    "330902200201,乡里村,330902200,220\n"
)


def test_region_import_creates_parents_first(tree: Any) -> None:
    report = imports.run_import(RegionImporter(), REGIONS_CSV.encode(), filename="r.csv", actor=None)
    assert report.ok, report.errors
    assert report.counts == {"created": 3, "updated": 0, "unchanged": 0}
    assert Region.objects.get(code="330902200201").parent_id == "330902200000"
    again = imports.run_import(RegionImporter(), REGIONS_CSV.replace("新村", "新新村").encode(),
                               filename="r.csv", actor=None)
    assert again.counts == {"created": 0, "updated": 1, "unchanged": 2}


def test_region_import_one_bad_row_imports_nothing(tree: Any) -> None:
    data = (REGIONS_CSV + "330902008204,错位村,330902100000,\n33090200820,短码,,\n330902008203,重复,,\n"
            "330902300201,孤儿村,,\n").encode()
    before = state()
    report = imports.run_import(RegionImporter(), data, filename="r.csv", actor=None)
    assert [(e.row, e.column) for e in report.errors] == [
        (5, "parent_code"), (6, "code"), (7, "code"), (8, "parent_code")]
    assert state() == before


def test_region_import_dry_run_and_scope(tree: Any, make_user: Any) -> None:
    before = state()
    report = imports.run_import(RegionImporter(), REGIONS_CSV.encode(), filename="r.csv", actor=None, dry_run=True)
    assert report.ok and not report.applied and state() == before
    town_admin = make_user("town_admin", tree.town_a1b)
    with override("en"):
        report = imports.run_import(RegionImporter(), REGIONS_CSV.encode(), filename="r.csv", actor=town_admin)
    assert "The region lies outside your area." in {e.reason for e in report.errors}
    assert {e.row for e in report.errors} == {2, 3, 4}
    assert state()[0] == before[0]


def test_grid_import_xlsx(tree: Any) -> None:
    buf = io.BytesIO()
    imports.write_xlsx(buf, ["村社代码", "网格编号", "网格名称", "类型", "边界"], [
        [int(tree.village_a1a1), "02", "二网格", "陆地", json.dumps(SQUARE)],
        [tree.village_a1a1, "H1", "海上网格", "海上", ""],
        [tree.village_a1a2, "01", "改名", "", ""],
    ])
    report = imports.run_import(GridImporter(), buf.getvalue(), filename="g.xlsx", actor=None)
    assert report.ok, report.errors
    assert report.counts == {"created": 2, "updated": 1, "unchanged": 0}
    assert Grid.objects.get(region_code=tree.village_a1a1, number="H1").kind == "sea"

    bad = io.BytesIO()
    imports.write_xlsx(bad, ["村社代码", "网格编号", "网格名称", "边界"], [
        [tree.town_a1a, "1", "x", ""], [tree.village_a1a1, "9", "y", "{not json"],
        [tree.village_a1a1, "8", "", ""]])
    before = state()
    report = imports.run_import(GridImporter(), bad.getvalue(), filename="g.xlsx", actor=None)
    assert [(e.row, e.column) for e in report.errors] == [(2, "village_code"), (3, "polygon"), (4, "name")]
    assert state() == before


# --- CLI -----------------------------------------------------------------------------------------------


def test_cli_import_reports_bad_rows_and_exits_1(tree: Any, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "r.csv"
    path.write_text(REGIONS_CSV + "330902008999,坏码,,\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        call_command("regions", "import", str(path))
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "row 5, column code" in err and "rows [" in err
    ok = tmp_path / "ok.csv"
    ok.write_text(REGIONS_CSV, encoding="utf-8")
    call_command("regions", "import", str(ok), "--dry-run")
    assert not Region.objects.filter(code="330902008203").exists()
    call_command("regions", "import", str(ok))
    assert Region.objects.filter(code="330902008203").exists()
    out = tmp_path / "out.xlsx"
    call_command("regions", "export", str(out), "--prefix", "330902")
    rows = list(load_workbook(out, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("code", "name", "parent_code") and all(str(r[0]).startswith("330902") for r in rows[1:])


# --- pages ---------------------------------------------------------------------------------------------


def test_pages_and_query_counts(tree: Any, make_user: Any, client: Any,
                                django_assert_max_num_queries: Any) -> None:
    admin = make_user("city_admin", tree.city_a)
    client.force_login(admin)
    for code in [tree.village_a1a1, tree.village_a1a2]:
        for n in range(2, 6):
            Grid.objects.create(region_id=code, region_code=code, number=f"{n:02d}", name=f"g{n}", polygon=SQUARE)
    # budgets include the page shell (session, user, roles, the top bar's region names)
    with django_assert_max_num_queries(13):
        page = client.get(reverse("regions:detail", args=[tree.town_a1a]))
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count('data-testid="child-row"') == 2 and "<td>5</td>" in body
    with django_assert_max_num_queries(11):
        assert client.get(reverse("regions:grid_list")).status_code == 200
    with django_assert_max_num_queries(11):
        assert client.get(reverse("regions:centre_list")).status_code == 200
    with django_assert_max_num_queries(11):
        assert client.get(reverse("regions:tree"), {"q": "测试"}).status_code == 200
    grid = tree.grids[tree.village_a1a1]
    assert client.get(reverse("regions:grid_detail", args=[grid.pk])).status_code == 200
    assert client.get(reverse("regions:detail", args=[tree.village_b1])).status_code == 404
    assert selectors.scope_counts(admin) == {"villages": 4, "grids": 12}


def test_import_page_flow(tree: Any, make_user: Any, client: Any, settings: Any, tmp_path: Any,
                          django_capture_on_commit_callbacks: Any) -> None:
    settings.SHANZHI_IMPORT_INLINE = True
    settings.MEDIA_ROOT = tmp_path
    admin = make_user("county_admin", tree.county_a1)
    client.force_login(admin)
    assert client.get(reverse("regions:import")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("regions:import"), {
            "kind": "regions.regions", "dry_run": "1",
            "file": SimpleUploadedFile("r.csv", REGIONS_CSV.encode())})
    assert answer.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == "done" and job.dry_run and not Region.objects.filter(code="330902008203").exists()
    assert 'data-status="done"' in client.get(answer["Location"]).content.decode()
    bad = client.post(reverse("regions:import"), {"kind": "regions.regions",
                                                   "file": SimpleUploadedFile("r.xls", b"\xd0\xcf")})
    assert bad.status_code == 422 and ImportJob.objects.count() == 1
    settings.SHANZHI_MAX_IMPORT_BYTES = 5
    big = client.post(reverse("regions:import"), {"kind": "regions.regions",
                                                   "file": SimpleUploadedFile("r.csv", REGIONS_CSV.encode())})
    assert big.status_code == 413
    with pytest.raises(TooLarge):
        imports.check_file("r.csv", 6)
    outside = client.post(reverse("regions:import"), {"kind": "regions.regions", "region": tree.county_a2,
                                                       "file": SimpleUploadedFile("r.csv", b"x")})
    assert outside.status_code == 404


# --- API -----------------------------------------------------------------------------------------------


def test_api(tree: Any, make_user: Any, client: Any, django_assert_max_num_queries: Any) -> None:
    admin = make_user("county_admin", tree.county_a1)
    headers = {"Authorization": f"Bearer {make_token(admin)}"}
    with django_assert_max_num_queries(6):
        answer = client.get("/api/v1/regions", {"level": "village"}, headers=headers)
    assert answer.status_code == 200 and answer.json()["count"] == 3
    with django_assert_max_num_queries(6):
        grids = client.get("/api/v1/grids", headers=headers).json()
    assert {g["region_code"] for g in grids["items"]} <= {tree.village_a1a1, tree.village_a1a2, tree.village_a1b1}
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/centres", headers=headers).json()["count"] == 6
    assert client.get(f"/api/v1/regions/{tree.county_a2}", headers=headers).status_code == 404
    created = client.post("/api/v1/grids", json.dumps({"region_code": tree.village_a1a1, "number": "07",
                                                       "name": "七", "polygon": SQUARE}),
                          content_type="application/json", headers=headers)
    assert created.status_code == 201, created.content
    geo = client.get(f"/api/v1/regions/{tree.village_a1a1}/geojson", headers=headers).json()
    assert geo["type"] == "FeatureCollection" and geo["features"][0]["properties"]["number"] == "07"
    bad = client.post("/api/v1/grids", json.dumps({"region_code": "12345", "number": "1", "name": "x"}),
                      content_type="application/json", headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    worker = make_user("grid_worker", tree.village_a1a1)
    grid_id = created.json()["id"]
    patched = client.patch(f"/api/v1/grids/{grid_id}", json.dumps({"leader_id": worker.pk,
                                                                    "member_ids": [worker.pk]}),
                           content_type="application/json", headers=headers)
    assert patched.status_code == 200 and patched.json()["member_ids"] == [worker.pk]
    missing = client.patch(f"/api/v1/grids/{grid_id}", json.dumps({"name": "改", "member_ids": [99999]}),
                           content_type="application/json", headers=headers)
    assert missing.status_code == 422 and Grid.objects.get(pk=grid_id).name == "七"
    types = client.get("/api/v1/department-types", headers=headers).json()
    assert any(t["code"] == "police" for t in types)
