import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shanzhi.accounts.models import RoleAssignment
from shanzhi.core.errors import NotFound, PermissionDenied
from shanzhi.core.scope import access, require_scope
from shanzhi.regions.models import Grid, Region

pytestmark = pytest.mark.django_db


def test_restrict_follows_prefixes(tree, make_user):
    town_admin = make_user("town_admin", tree.town_a1a)
    visible = set(Grid.objects.restrict(town_admin, "regions.view").values_list("region_code", flat=True))
    assert visible == {tree.village_a1a1, tree.village_a1a2}
    city_admin = make_user("city_admin", tree.city_a)
    assert Grid.objects.restrict(city_admin, "regions.view").count() == 4
    assert Region.objects.restrict(town_admin, "regions.view").filter(code=tree.town_a1b).count() == 0


def test_out_of_scope_is_not_found_like_missing(tree, make_user):
    user = make_user("village_admin", tree.village_a1a1)
    other = tree.grids[tree.village_a1a2]
    with pytest.raises(NotFound) as forbidden:
        access(Grid.objects.all(), user, "regions.view", pk=other.pk)
    with pytest.raises(NotFound) as missing:
        access(Grid.objects.all(), user, "regions.view", pk=999999)
    assert forbidden.value.as_dict() == missing.value.as_dict()


def test_permission_comes_from_the_matrix(tree, make_user):
    resident = make_user("resident", tree.village_a1a1)
    assert Grid.objects.restrict(resident, "regions.view").count() == 0
    with pytest.raises(PermissionDenied):
        require_scope(resident, "regions.change", tree.village_a1a1)
    admin = make_user("town_admin", tree.town_a1a)
    require_scope(admin, "regions.change", tree.village_a1a1)
    with pytest.raises(NotFound):
        require_scope(admin, "regions.change", tree.village_a1b1)


def test_one_query_whatever_the_number_of_assignments(tree, make_user):
    user = make_user("dispatcher", tree.village_a1a1)
    for code in [tree.village_a1a2, tree.village_a1b1, tree.village_a2a1, tree.village_b1]:
        RoleAssignment.objects.create(user=user, role="dispatcher", region_id=code, region_code=code)
    user.forget_scope()
    with CaptureQueriesContext(connection) as ctx:
        rows = list(Grid.objects.restrict(user, "regions.view"))
    # one query for the assignments (cached on the user afterwards), one for the rows
    assert len(ctx.captured_queries) == 2
    assert len(rows) == 5
    with CaptureQueriesContext(connection) as ctx:
        list(Grid.objects.restrict(user, "regions.view"))
    assert len(ctx.captured_queries) == 1
    sql = ctx.captured_queries[0]["sql"]
    assert "LIKE" not in sql.upper()


def test_inactive_user_sees_nothing(tree, make_user):
    user = make_user("city_admin", tree.city_a)
    user.is_active = False
    assert Grid.objects.restrict(user, "regions.view").count() == 0
