"""Authorization specs of the regions pages and API (and of the shared import-job pages)."""

from __future__ import annotations

import itertools
from typing import Any

from shanzhi.core.models import ImportJob
from shanzhi.regions.models import Centre, Grid, GridKind, Region
from shanzhi.testing.authz import Built, Route

_n = itertools.count(1)


def _region(code: str) -> Built:
    region = Region.objects.get(code=code)
    return Built({"code": code}, code, region)


def _grid(code: str) -> Built:
    marker = f"gridmark{next(_n):05d}"
    grid = Grid.objects.create(region_id=code, region_code=code, kind=GridKind.LAND, number=marker, name=marker,
                               polygon={"type": "Polygon", "coordinates": [[[122, 30], [122.1, 30], [122.1, 30.1],
                                                                           [122, 30]]]})
    return Built({"pk": grid.pk}, marker, grid)


def _grid_api(code: str) -> Built:
    built = _grid(code)
    return Built({"grid_id": built.obj.pk}, built.marker, built.obj)


def _centre(code: str) -> Built:
    centre = Centre.objects.get(region_code=code, kind="village")
    centre.name = f"centremark{next(_n):05d}"
    centre.save(update_fields=["name"])
    return Built({"centre_id": centre.pk}, centre.name, centre)


def _job(code: str) -> Built:
    marker = f"import{next(_n):05d}.csv"
    job = ImportJob.objects.create(kind="regions.regions", region_code=code, filename=marker, sha256="0" * 64,
                                   status="done", total=1, done=1)
    return Built({"pk": job.pk}, marker, job)


def _bare(build: Any) -> Any:
    """The same object, for a route that takes no URL arguments (lists)."""

    def inner(code: str) -> Built:
        built: Built = build(code)
        return Built({}, built.marker, built.obj)

    return inner


def _search(a: Built, b: Built) -> dict[str, str]:
    return {"q": "测试"}


def _children(code: str) -> Built:
    """The village's parent town, whose children list must show the village."""
    region = Region.objects.get(code=code)
    return Built({"code": region.parent_id}, code, region)


def _geojson(code: str) -> Built:
    built = _grid(code)
    return Built({"code": code}, built.marker, built.obj)


def _grid_payload(b: Built) -> dict[str, Any]:
    return {"region_code": b.obj.region_code, "number": "99", "name": "越界网格"}


def _grid_created(b: Built) -> bool:
    return Grid.objects.filter(region_code=b.obj.region_code, number="99").exists()


def _centre_payload(b: Built) -> dict[str, Any]:
    return {"region_code": b.obj.region_code, "kind": "village", "name": "越界中心"}


def _centre_created(b: Built) -> bool:
    return Centre.objects.filter(name="越界中心").exists()


def _import_payload(b: Built) -> dict[str, Any]:
    return {"kind": "regions.regions", "region": b.obj.region_code}


def _job_created(b: Built) -> bool:
    return ImportJob.objects.filter(region_code=b.obj.region_code).exclude(pk=b.obj.pk).exists()


VIEWERS = {"city": "city_admin", "county": "county_admin", "town": "town_admin", "village": "grid_worker"}

ROUTES: list[Route] = [
    # pages
    Route("regions:tree", "list", _bare(_region), query=_search),
    Route("regions:detail", "detail", _region),
    Route("regions:grid_list", "list", _bare(_grid), role_at=VIEWERS),
    Route("regions:grid_detail", "detail", _grid, role_at=VIEWERS),
    Route("regions:centre_list", "list", _bare(_centre)),
    Route("regions:export", "list", _bare(_region)),
    Route("regions:import", "action", _bare(_job), method="POST", payload=_import_payload, changed=_job_created),
    Route("core:import_job", "detail", _job),
    Route("core:import_job_progress", "detail", _job),
    # API
    Route("regions_list_regions", "list", _bare(_region), api=True, query=_search),
    Route("regions_get_region", "detail", _region, api=True),
    Route("regions_list_children", "list", _children, api=True, levels=("city", "county", "town")),
    Route("regions_region_geojson", "list", _geojson, api=True),
    Route("regions_list_grids", "list", _bare(_grid), api=True, role_at=VIEWERS),
    Route("regions_get_grid", "detail", _grid_api, api=True),
    Route("regions_create_grid", "action", _bare(_grid), api=True, method="POST", payload=_grid_payload,
          changed=_grid_created),
    Route("regions_update_grid", "action", _grid_api, api=True, method="PATCH",
          payload=lambda b: {"name": b.marker + "x"},
          changed=lambda b: Grid.objects.get(pk=b.obj.pk).name != b.marker),
    Route("regions_list_centres", "list", _bare(_centre), api=True),
    Route("regions_get_centre", "detail", _centre, api=True),
    Route("regions_create_centre", "action", _bare(_centre), api=True, method="POST", payload=_centre_payload,
          changed=_centre_created),
    Route("regions_update_centre", "action", _centre, api=True, method="PATCH",
          payload=lambda b: {"name": b.marker + "x"},
          changed=lambda b: Centre.objects.get(pk=b.obj.pk).name != b.marker),
]
