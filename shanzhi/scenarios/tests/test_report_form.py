"""The grid worker's report form offers a pack's categories only where the pack is enabled."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from shanzhi.events.models import Event
from shanzhi.scenarios import services
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db


def test_pack_categories_follow_activation(client: Any, tree: Any) -> None:
    services.sync_all(actor="system")
    worker = factories.make_user("grid_worker", tree.village_a1a1)
    tree.grids[tree.village_a1a1].members.add(worker)
    client.force_login(worker)
    page = client.get(reverse("events:report")).content.decode()
    assert 'value="exposed_garbage"' in page  # a built-in category
    assert 'value="sorting_inspection"' not in page  # the garbage-sorting pack is not enabled here
    refused = client.post(reverse("events:report"), {"category": "sorting_inspection", "title": "t",
                                                     "grid": tree.grids[tree.village_a1a1].pk,
                                                     "idempotency_key": "k1"})
    assert refused.status_code == 422 and not Event.objects.exists()
    admin = factories.make_user("city_admin", tree.city_a)
    services.pack_enable(actor=admin, pack_code="garbage_sorting", region_code=tree.city_a)
    page = client.get(reverse("events:report")).content.decode()
    assert 'value="sorting_inspection"' in page
