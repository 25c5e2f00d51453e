"""Bulk device import: a generated 35,000-row XLSX through the shared import engine (validate + apply).

    uv run python bench/devices_import.py [--rows 35000]
"""

from __future__ import annotations

import argparse
import io
import os
import time

from _devices_setup import report, setup, villages

HEADERS = ["设备编码", "名称", "类型", "层级", "区划代码", "网格编号", "纬度", "经度", "权属单位"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=35000)
    args = parser.parse_args()
    setup()
    from shanzhi.core import imports
    from shanzhi.devices import gbcode
    from shanzhi.devices.models import Device

    codes = villages()
    kinds = [("camera", "131", "村口"), ("ipc", "132", "家门口"), ("checkpoint", "121", "主干道卡口"),
             ("camera", "131", "高点全景鹰眼")]
    rows = []
    for i in range(args.rows):
        code = codes[i % len(codes)]
        kind, type_code, layer = kinds[i % len(kinds)]
        device_id = gbcode.make("33090200", "01", type_code, "7", i + 1)
        rows.append([device_id, f"设备{i:05d}", kind, layer, code, "", f"{30 + i % 100 / 1000:.4f}",
                     f"{122 + i % 97 / 1000:.4f}", "演示建设单位"])
    buf = io.BytesIO()
    t = time.perf_counter()
    imports.write_xlsx(buf, HEADERS, rows)
    write_s = time.perf_counter() - t
    data = buf.getvalue()
    Device.objects.all().delete()
    t, c = time.perf_counter(), time.process_time()
    result = imports.run_import(imports.get_importer("devices.devices"), data, filename="devices.xlsx", actor=None)
    first_s, first_cpu = time.perf_counter() - t, time.process_time() - c
    assert result.ok, result.errors[:5]
    t, c = time.perf_counter(), time.process_time()
    again = imports.run_import(imports.get_importer("devices.devices"), data, filename="devices.xlsx", actor=None)
    second_s, second_cpu = time.perf_counter() - t, time.process_time() - c
    assert again.ok
    changed = io.BytesIO()
    imports.write_xlsx(changed, HEADERS, [[*r[:1], r[1] + "改", *r[2:]] for r in rows])
    t, c = time.perf_counter(), time.process_time()
    third = imports.run_import(imports.get_importer("devices.devices"), changed.getvalue(), filename="d2.xlsx",
                               actor=None)
    third_s, third_cpu = time.perf_counter() - t, time.process_time() - c
    assert third.ok
    report(f"Device import, {args.rows} rows", [
        f"file: {len(data) / 1e6:.1f} MB XLSX (generated in {write_s:.1f} s)",
        f"first import (all new, bulk_create): {first_s:.1f} s wall, {first_cpu:.1f} s CPU — "
        f"{args.rows / first_s:,.0f} rows/s — {result.counts}",
        f"re-import of the same file (nothing changed, nothing written): {second_s:.1f} s wall, "
        f"{second_cpu:.1f} s CPU — {again.counts}",
        f"re-import with every name changed (prepared UPDATE per row, executemany): {third_s:.1f} s wall, "
        f"{third_cpu:.1f} s CPU — {third.counts}",
        f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        f"devices in the table: {Device.objects.count()}",
    ])


if __name__ == "__main__":
    main()
