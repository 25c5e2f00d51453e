from __future__ import annotations

import io
from typing import Any

import pytest

from shanzhi.core import imports
from shanzhi.devices.models import Device

from .helpers import gb_id, make_device

pytestmark = pytest.mark.django_db
HEADERS = ["设备编码", "名称", "类型", "层级", "区划代码", "网格编号", "纬度", "经度", "上级设备编码"]


def sheet(rows: list[list[Any]]) -> bytes:
    buf = io.BytesIO()
    imports.write_xlsx(buf, HEADERS, rows)
    return buf.getvalue()


def run(data: bytes, actor: Any = None, dry_run: bool = False) -> imports.ImportReport:
    return imports.run_import(imports.get_importer("devices.devices"), data, filename="devices.xlsx",
                              actor=actor, dry_run=dry_run)


def test_import_creates_devices_with_parents_in_the_same_file(tree: Any) -> None:
    v = tree.village_a1a1
    nvr, cam1, cam2 = gb_id(v, "nvr"), gb_id(v), gb_id(v)
    existing = make_device(v, name="旧名")
    report = run(sheet([
        [cam1, "一号机", "摄像机", "家门口", v, "01", "30.01", "122.1", nvr],  # parent defined below
        [nvr, "录像机", "nvr", "村口", v, "", "", "", ""],
        [cam2, "二号机", "camera", "doorstep", v, "", "", "", nvr],
        ["wl-7", "水位计", "传感器", "物联感知", v, "", "", "", ""],
        [existing.device_id, "新名", "camera", "doorstep", v, "", "", "", ""],
    ]))
    assert report.ok, report.errors
    assert report.counts == {"created": 4, "updated": 1, "unchanged": 0}
    assert Device.objects.get(device_id=cam1).parent.device_id == nvr  # type: ignore[union-attr]
    assert Device.objects.get(device_id=cam1).grid == tree.grids[v]
    assert Device.objects.get(device_id="wl-7").transport == "mqtt"
    assert Device.objects.get(pk=existing.pk).name == "新名"


def test_import_reports_row_errors_and_writes_nothing(tree: Any, make_user: Any) -> None:
    v = tree.village_a1a1
    good = gb_id(v)
    report = run(sheet([
        [good, "好", "camera", "doorstep", v, "", "", "", ""],
        ["33090300011317000001", "外县编码", "camera", "doorstep", v, "", "", "", ""],
        [good, "重复", "camera", "doorstep", v, "", "", "", ""],
        [gb_id(v), "坏层级", "camera", "roof", v, "", "", "", ""],
        [gb_id(v), "坏网格", "camera", "doorstep", v, "99", "", "", ""],
        [gb_id(v), "无区划", "camera", "doorstep", "330902008299", "", "", "", ""],
        [gb_id(v), "坏纬度", "camera", "doorstep", v, "", "abc", "", ""],
        [gb_id(v), "无上级", "camera", "doorstep", v, "", "", "", "33090200011187999999"],
        [gb_id(tree.village_a1a2), "越权", "camera", "doorstep", tree.village_a1a2, "", "", "", ""],
    ]), actor=make_user("village_admin", v))
    assert not report.ok
    got = {(e.row, e.column) for e in report.errors}
    assert got == {(3, "device_id"), (4, "device_id"), (5, "layer"), (6, "grid_number"), (7, "region_code"),
                   (8, "lat"), (9, "parent_device_id"), (10, "region_code")}
    assert Device.objects.count() == 0


def test_import_page_starts_a_job(tree: Any, make_user: Any, client: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(make_user("village_admin", tree.village_a1a1))
    assert client.get("/devices/import/").status_code == 200
    upload = SimpleUploadedFile("d.xlsx", sheet([[gb_id(tree.village_a1a1), "机", "camera", "doorstep",
                                                  tree.village_a1a1, "", "", "", ""]]))
    r = client.post("/devices/import/", {"region": tree.village_a1a1, "file": upload, "dry_run": "on"})
    assert r.status_code == 302
