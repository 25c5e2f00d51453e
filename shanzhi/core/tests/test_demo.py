"""The demo city: valid, complete, deterministic, audited; the command is idempotent; the home page."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from shanzhi.accounts.demo_users import DEMO_PASSWORD
from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.accounts.roles import Role
from shanzhi.core import audit, codes
from shanzhi.core.management.commands import demo as demo_command
from shanzhi.core.models import AuditEntry
from shanzhi.regions.demo_city import LAT_RANGE, LNG_RANGE, _hull
from shanzhi.regions.models import Centre, CentreKind, Grid, GridKind, Region

pytestmark = pytest.mark.django_db


def _digest() -> str:
    h = hashlib.sha256()
    querysets = [
        Region.objects.order_by("code").values_list("code", "name", "parent_id", "boundary"),
        Grid.objects.order_by("region_code", "number").values_list(
            "region_code", "number", "name", "kind", "polygon", "leader__username"
        ),
        Centre.objects.order_by("region_code", "name").values_list("region_code", "kind", "name", "phone"),
        RoleAssignment.objects.order_by("user__username", "role").values_list(
            "user__username", "role", "region_code"
        ),
    ]
    for qs in querysets:
        for row in qs:
            h.update(json.dumps(list(row), ensure_ascii=False).encode())
    return h.hexdigest()


@pytest.fixture
def small_demo():
    return demo_command.build("small")


def test_codes_are_valid_and_the_tree_is_whole(small_demo) -> None:
    regions = list(Region.objects.all())
    assert {r.level for r in regions} == {"province", "city", "county", "town", "village"}
    for region in regions:
        level = codes.validate(region.code, level=codes.Level(region.level),
                               parent=region.parent_id)
        assert level.value == region.level
        if region.level == "village":
            assert region.code[9:12] < "400"
            assert region.boundary is not None and region.boundary["type"] == "Polygon"
            assert region.centroid_lat is not None and region.centroid_lng is not None
            assert LAT_RANGE[0] <= region.centroid_lat <= LAT_RANGE[1]
            assert LNG_RANGE[0] <= region.centroid_lng <= LNG_RANGE[1]
    villages = [r for r in regions if r.level == "village"]
    assert 30 <= len(villages) <= 55  # small: one county, about 40 villages
    assert all(r.code.startswith("330902") for r in villages)
    names_by_town: dict[str, set[str]] = {}
    for v in villages:
        town = str(v.parent_id)
        assert v.name not in names_by_town.setdefault(town, set())
        names_by_town[town].add(v.name)
    # the real skeleton is kept: 马岙街道 with its statistical code
    assert Region.objects.get(code="330902008000").name == "马岙街道"


def test_every_village_has_grids_and_a_centre(small_demo) -> None:
    villages = Region.objects.filter(level="village")
    for village in villages:
        land = village.grids.filter(kind=GridKind.LAND)
        assert 2 <= land.count() <= 6
        assert all(g.leader_id is not None and g.members.exists() for g in land)
        assert Centre.objects.filter(region=village, kind=CentreKind.VILLAGE).count() == 1
    assert Grid.objects.filter(kind=GridKind.SEA).count() >= 1
    for level, kind in [("town", CentreKind.TOWN), ("county", CentreKind.COUNTY), ("city", CentreKind.CITY)]:
        for region in Region.objects.filter(level=level):
            assert Centre.objects.filter(region=region, kind=kind).exists(), region
    assert Centre.objects.filter(kind=CentreKind.DEPARTMENT, region_code="330902000000").count() >= 3
    assert Centre.objects.get(region_code="330902008000", kind=CentreKind.TOWN).name == "马岙街道镇街小脑"


def test_every_role_has_a_user_who_can_log_in(small_demo, client) -> None:
    held = set(RoleAssignment.objects.values_list("role", flat=True))
    assert held == {r.value for r in Role}
    for username in ("city_admin", "county_admin_dinghai", "town_admin_maao", "dispatcher_town_maao",
                     "handler_police_dinghai", "auditor_city"):
        assert User.objects.filter(username=username).exists(), username
    # a bulk-created user logs in with the shared password
    bulk = User.objects.filter(username__startswith="grid_worker_").order_by("-username").first()
    assert bulk is not None and bulk.check_password(DEMO_PASSWORD)
    # the printed logins cover every role
    printed = {d.split(" · ")[0] for _u, _p, d in small_demo.logins}
    assert len(printed) == len(Role)


def test_the_audit_chain_verifies_after_the_build(small_demo) -> None:
    result = audit.verify()
    assert result.ok, result
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"regions.region.demo_build", "regions.grid.demo_build", "accounts.user.demo_build"} <= actions


def test_two_builds_are_identical() -> None:
    digests = []
    for _ in range(2):
        with transaction.atomic():
            demo_command.build("small")
            digests.append(_digest())
            transaction.set_rollback(True)
    assert digests[0] == digests[1]
    assert not Region.objects.exists()


def test_the_command_is_idempotent() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("demo", "--size", "small", "--no-serve", stdout=out, stderr=err)
    assert "city_admin" in out.getvalue() and DEMO_PASSWORD in out.getvalue()
    assert "http://127.0.0.1:8000/" in out.getvalue()
    before = (Region.objects.count(), User.objects.count(), AuditEntry.objects.count())
    out2 = io.StringIO()
    call_command("demo", "--size", "small", "--no-serve", stdout=out2, stderr=io.StringIO())
    assert (Region.objects.count(), User.objects.count(), AuditEntry.objects.count()) == before
    assert "town_admin_maao" in out2.getvalue()


def test_a_foreign_database_is_not_overwritten(tree) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("demo", "--size", "small", "--no-serve", stdout=io.StringIO(), stderr=io.StringIO())


def test_progress_bar_reports_counts() -> None:
    stream = io.StringIO()
    items = list(demo_command.text_progress(stream)(range(7), "things", 7))
    assert items == list(range(7))
    assert "things" in stream.getvalue() and "7/7" in stream.getvalue()


def test_hull_encloses_points() -> None:
    points = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.5, 0.5)]
    assert sorted(_hull(points)) == [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]


def test_home_shows_own_region_only(small_demo, client, django_assert_max_num_queries) -> None:
    maao = Region.objects.get(code="330902008000")
    first, second = list(maao.children.order_by("code")[:2])
    client.force_login(User.objects.get(username=f"village_admin_{first.code}"))
    # shell (session, user, roles, region names) + region summary + one or two counts per home card; constant,
    # whatever the size of the region (no per-row queries)
    with django_assert_max_num_queries(24):
        page = client.get("/").content.decode()
    assert first.name in page and first.code in page
    assert second.name not in page
    client.force_login(User.objects.get(username="town_admin_maao"))
    page = client.get("/").content.decode()
    assert "马岙街道" in page and 'data-testid="my-region"' in page
    villages = maao.children.count()
    assert f"<dd>{villages}</dd>" in page


def test_home_for_a_resident_has_no_region_counts(small_demo, client) -> None:
    resident = User.objects.filter(username__startswith="resident_").first()
    client.force_login(resident)
    page = client.get("/").content.decode()
    assert 'data-testid="assignment"' in page
    assert 'data-testid="my-region"' not in page


def test_home_needs_login(client) -> None:
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_static_assets_are_vendored() -> None:
    from django.contrib.staticfiles import finders

    for path in ("vendor/htmx/htmx.min.js", "vendor/htmx/LICENSE", "vendor/echarts/echarts.min.js",
                 "vendor/echarts/LICENSE", "shanzhi/shanzhi.css"):
        assert finders.find(path), path


def test_serve_runs_granian_wsgi() -> None:
    from shanzhi.core.management.commands.serve import processes

    web = processes("192.0.2.1", 8123, 2)[0]
    assert web[1:3] == ["-m", "granian"] and "wsgi" in web and "shanzhi.wsgi:application" in web
    assert "8123" in web and "2" in web
    assert not any("simulate" in cmd for cmd in processes("192.0.2.1", 8123, 2))
    *_, fleet = processes("192.0.2.1", 8123, 2, simulate=True)  # the demo keeps its device fleet sending
    assert fleet[-3:] == ["devices", "simulate", "--direct"]


def test_no_query_per_card_or_region_in_templates(small_demo, client) -> None:
    client.force_login(User.objects.get(username="city_admin"))
    with CaptureQueriesContext(connection) as ctx:
        client.get("/")
    assert len(ctx.captured_queries) <= 24  # same budget as test_home_shows_own_region_only


def test_region_summary_counts_stay_inside_the_scope(tree, make_user) -> None:
    from shanzhi.accounts.models import RoleAssignment
    from shanzhi.core.views import region_summaries

    town_admin = make_user("town_admin", tree.town_a1a)
    rows = list(RoleAssignment.objects.filter(user=town_admin).select_related("region"))
    [summary] = region_summaries(town_admin, rows)
    assert (summary.villages, summary.land_grids, summary.sea_grids) == (2, 2, 0)
    assert summary.path == ["浙江省", "舟山市", "定海区"]

    city_admin = make_user("city_admin", tree.city_a)
    RoleAssignment.objects.create(user=city_admin, role="town_admin", region_id=tree.town_a1a,
                                  region_code=tree.town_a1a)
    city_admin.forget_scope()
    rows = list(RoleAssignment.objects.filter(user=city_admin).select_related("region"))
    [summary] = region_summaries(city_admin, rows)  # the town lies inside the city: one summary
    assert summary.code == tree.city_a
    assert (summary.villages, summary.land_grids) == (4, 4)  # city B's village and grid are not counted

    resident = make_user("resident", tree.village_a1a1)
    rows = list(RoleAssignment.objects.filter(user=resident).select_related("region"))
    assert region_summaries(resident, rows) == []
