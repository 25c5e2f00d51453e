"""The pack pages: list, detail with panel preview, enable/disable for a region in scope."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse

from shanzhi.core.models import AuditEntry
from shanzhi.events.services import Intake, event_create
from shanzhi.scenarios.models import PackActivation
from shanzhi.testing.factories import PASSWORD

from .conftest import VILLAGE


def login(client: Any, user: Any) -> None:
    assert client.login(username=user.username, password=PASSWORD)


def test_list_shows_every_pack_with_its_activations(client: Any, enabled: Any,
                                                    django_assert_max_num_queries: Any) -> None:
    login(client, enabled)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("scenarios:list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count(reverse("scenarios:detail", args=["fire"])) == 1 and "伏季休渔与非法捕捞" in body
    assert body.count("<code>330900000000</code>") == 20


def test_detail_shows_categories_rules_and_panel(client: Any, enabled: Any) -> None:
    login(client, enabled)
    event_create(actor=enabled, data=Intake(title="进港", category="vessel_port_report", region_code=VILLAGE, custom={
        "direction": "进港", "crew": 5, "safety_equipment_ok": True}))
    response = client.get(reverse("scenarios:detail", args=["vessel_safety"]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "渔船进出港报告" in body and "vessel-out-of-group" in body and "vessel_safety (critical)" in body
    panel = json.loads(body.split('id="pack-panel-data" type="application/json">')[1].split("</script>")[0])
    assert panel["chart"] == "line" and len(panel["days"]) == 30
    totals = [(s["label"], s["total"]) for s in panel["series"]]
    assert totals == [("进出港报告", 1), ("渔船安全事件", 0), ("海上预警", 0)]
    assert client.get(reverse("scenarios:detail", args=["no_such_pack"])).status_code == 404


def test_enable_and_disable_from_the_page(client: Any, synced: Any, make_user: Any, tree: Any) -> None:
    town_admin = make_user("town_admin", tree.town_a1a)
    login(client, town_admin)
    url = reverse("scenarios:enable", args=["campus"])
    response = client.post(url, {"region_code": VILLAGE})
    assert response.status_code == 302
    assert PackActivation.objects.filter(pack__code="campus", region_code=VILLAGE, enabled_by=town_admin).exists()
    # bad input: a clear message, nothing changes
    response = client.post(url, {"region_code": "12ab"}, follow=True)
    assert response.status_code == 200 and PackActivation.objects.count() == 1
    assert "region_code" in response.content.decode()
    response = client.post(url, {"region_code": VILLAGE}, follow=True)  # already enabled
    assert PackActivation.objects.count() == 1
    # outside the scope: 404
    assert client.post(url, {"region_code": tree.town_a1b}).status_code == 404
    response = client.post(reverse("scenarios:disable", args=["campus"]), {"region_code": VILLAGE})
    assert response.status_code == 302 and not PackActivation.objects.exists()
    assert list(AuditEntry.objects.filter(action__in=["scenarios.pack.enable", "scenarios.pack.disable"])
                .values_list("action", "actor_id")) == [("scenarios.pack.enable", town_admin.pk),
                                                        ("scenarios.pack.disable", town_admin.pk)]
    assert client.get(url).status_code == 405


def test_pages_need_alerts_configure(client: Any, synced: Any, make_user: Any) -> None:
    login(client, make_user("grid_worker", VILLAGE))
    assert client.get(reverse("scenarios:list")).status_code == 404
    assert client.post(reverse("scenarios:enable", args=["fire"]), {"region_code": VILLAGE}).status_code == 404
    assert not PackActivation.objects.exists()
