from __future__ import annotations

from typing import Any

import pytest

from shanzhi.events.models import Category
from shanzhi.testing import factories


@pytest.fixture
def ev(tree: factories.Tree, db: Any) -> Any:
    """A tree with centres at every level, desks and handlers, and the seeded categories."""

    from types import SimpleNamespace

    ctx = SimpleNamespace()
    ctx.tree = tree
    ctx.village = tree.village_a1a1
    ctx.grid = tree.grids[tree.village_a1a1]
    ctx.grid_worker = factories.make_user("grid_worker", tree.village_a1a1, username="gw")
    ctx.grid.members.add(ctx.grid_worker)
    ctx.village_desk = factories.make_user("dispatcher", tree.village_a1a1, username="vdesk")
    ctx.town_desk = factories.make_user("dispatcher", tree.town_a1a, username="tdesk")
    ctx.county_desk = factories.make_user("dispatcher", tree.county_a1, username="cdesk")
    ctx.city_desk = factories.make_user("dispatcher", tree.city_a, username="citydesk")
    ctx.handler = factories.make_user("handler", tree.village_a1a1, username="handler")
    ctx.resident = factories.make_user("resident", tree.village_a1a1, username="resident")
    ctx.other_desk = factories.make_user("dispatcher", tree.village_a1a2, username="otherdesk")
    if not Category.objects.exists():  # a transactional test before this one flushed the seeded dictionary
        from shanzhi.events.seed import seed_categories
        from shanzhi.regions.models import DepartmentType

        seed_categories(Category, DepartmentType)
    ctx.category = Category.objects.get(code="neighbour_dispute")
    return ctx
