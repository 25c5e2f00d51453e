from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shanzhi.core.crypto import blind_index
from shanzhi.core.errors import ValidationFailed
from shanzhi.core.models import AuditEntry
from shanzhi.people import services
from shanzhi.people.models import FishingVessel, Resident
from shanzhi.people.validators import credit_check_char, validate_credit_code
from shanzhi.testing.factories import make_token

from .helpers import make_household, make_resident, new_id_number, sea_grid

pytestmark = pytest.mark.django_db


def bearer(user: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {make_token(user)}"}


@pytest.fixture
def admin(tree: Any, make_user: Any) -> Any:
    return make_user("village_admin", tree.village_a1a1)


def _create(admin: Any, tree: Any, **data: Any) -> Resident:
    payload = {"region_code": tree.village_a1a1, "name": "张演示", "id_number": new_id_number(tree.village_a1a1)}
    payload.update(data)
    return services.create_resident(actor=admin, data=payload)


# --- validation ---------------------------------------------------------------------------------------------


def test_create_derives_sex_birth_and_indexes(admin: Any, tree: Any) -> None:
    number = new_id_number(tree.village_a1a1)
    r = _create(admin, tree, id_number=number, phone="13812345678")
    assert r.sex == ("M" if int(number[16]) % 2 else "F")
    assert r.birth_date is not None
    assert r.birth_date.strftime("%Y%m%d") == number[6:14]
    assert r.id_number_bidx == blind_index("id_number", number)
    raw = Resident.objects.filter(pk=r.pk).values_list("id_number", flat=True).query
    with connection.cursor() as cur:
        cur.execute(*raw.sql_with_params())
        stored = cur.fetchone()[0]
    assert number not in stored
    entry = AuditEntry.objects.get(action="people.resident.create", object_id=str(r.pk))
    assert number not in json.dumps(entry.after) and "13812345678" not in json.dumps(entry.after)


def test_bad_id_checksum_rejected(admin: Any, tree: Any) -> None:
    good = new_id_number(tree.village_a1a1)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(ValidationFailed) as exc:
        _create(admin, tree, id_number=bad)
    assert "id_number" in exc.value.detail["fields"]
    assert not Resident.objects.exists()


def test_bad_phone_rejected(admin: Any, tree: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        _create(admin, tree, phone="12345")
    assert "phone" in exc.value.detail["fields"]


def test_duplicate_active_id_number_conflicts(admin: Any, tree: Any, client: Any) -> None:
    number = new_id_number(tree.village_a1a1)
    _create(admin, tree, id_number=number)
    body = {"region_code": tree.village_a1a1, "name": "李演示", "id_number": number}
    resp = client.post("/api/v1/people/residents", body, content_type="application/json", **bearer(admin))
    assert resp.status_code == 409
    assert Resident.objects.count() == 1


def test_grid_must_be_in_same_village(admin: Any, tree: Any) -> None:
    other = tree.grids[tree.village_a1a2]
    with pytest.raises(ValidationFailed) as exc:
        _create(admin, tree, grid_id=other.pk)
    assert "grid_id" in exc.value.detail["fields"]
    assert _create(admin, tree, grid_id=tree.grids[tree.village_a1a1].pk).grid_id == tree.grids[tree.village_a1a1].pk


def test_credit_code_checksum() -> None:
    body = "91330902MA2A0B1C2"
    good = body + credit_check_char(body)
    assert validate_credit_code(good) == good
    from django.core.exceptions import ValidationError

    wrong = next(c for c in "0123456789" if c != good[-1])
    with pytest.raises(ValidationError):
        validate_credit_code(body + wrong)
    with pytest.raises(ValidationError):
        validate_credit_code("91330902MA2A0B1C2I")
    # a published example code (GB 32100 format) verifies
    assert validate_credit_code("91350100M000100Y43") == "91350100M000100Y43"


def test_vessel_validation(admin: Any, tree: Any, client: Any) -> None:
    grid = sea_grid(tree.village_a1a1)
    captain = _create(admin, tree)
    base = {"sea_grid_id": grid.pk, "mmsi": "412345678", "captain_id": captain.pk, "crew_ids": [captain.pk]}
    for field, value in (("ship_number", "浙岱03215"), ("mmsi", "812345678")):
        body = base | {"ship_number": "浙岱渔03215"} | {field: value}
        resp = client.post("/api/v1/vessels", body, content_type="application/json", **bearer(admin))
        assert resp.status_code == 422, resp.content
        assert field in resp.json()["detail"]["fields"]
    land = tree.grids[tree.village_a1a1]
    resp = client.post("/api/v1/vessels", base | {"ship_number": "浙岱渔03215", "sea_grid_id": land.pk},
                       content_type="application/json", **bearer(admin))
    assert resp.status_code == 422 and "sea_grid_id" in resp.json()["detail"]["fields"]
    stranger = make_resident(tree.village_a1a2)
    resp = client.post("/api/v1/vessels", base | {"ship_number": "浙岱渔03215", "crew_ids": [stranger.pk]},
                       content_type="application/json", **bearer(admin))
    assert resp.status_code == 422 and "crew_ids" in resp.json()["detail"]["fields"]
    assert not FishingVessel.objects.exists()
    resp = client.post("/api/v1/vessels", base | {"ship_number": "浙岱渔03215"},
                       content_type="application/json", **bearer(admin))
    assert resp.status_code == 201, resp.content
    data = resp.json()
    assert data["crew"][0]["name"] == captain.name[0] + "*" * (len(captain.name) - 1)
    assert captain.name not in resp.content.decode()


# --- masking, lookup, scope ---------------------------------------------------------------------------------


def test_lists_never_contain_plain_values(admin: Any, tree: Any, client: Any) -> None:
    r = _create(admin, tree, phone="13912345678", address="测试一村幸福路88号")
    client.force_login(admin)
    html = client.get(reverse("people:resident_list")).content.decode()
    detail = client.get(reverse("people:resident_detail", args=[r.pk])).content.decode()
    api_list = client.get("/api/v1/people/residents", **bearer(admin)).content.decode()
    api_get = client.get(f"/api/v1/people/residents/{r.pk}", **bearer(admin)).content.decode()
    for text in (html, detail, api_list, api_get):
        assert r.id_number not in text
        assert "13912345678" not in text
        assert "幸福路88号" not in text
        assert r.name not in text
    assert r.id_number[:3] + "*" * 11 + r.id_number[-4:] in html
    assert "139****5678" in api_list


def test_blind_index_lookup(admin: Any, tree: Any, client: Any) -> None:
    a = _create(admin, tree, phone="13700001111")
    b = _create(admin, tree, phone="13700002222")
    resp = client.get("/api/v1/people/residents", {"q": a.id_number}, **bearer(admin)).json()
    assert [i["id"] for i in resp["items"]] == [a.pk]
    resp = client.get("/api/v1/people/residents", {"q": "137 0000 2222"}, **bearer(admin)).json()
    assert [i["id"] for i in resp["items"]] == [b.pk]
    resp = client.get("/api/v1/people/residents", {"q": "13700003333"}, **bearer(admin)).json()
    assert resp["count"] == 0
    client.force_login(admin)
    html = client.get(reverse("people:resident_list"), {"q": a.id_number.lower()}).content.decode()
    assert f"/people/residents/{a.pk}/" in html and f"/people/residents/{b.pk}/" not in html


def test_out_of_scope_is_404_like_missing(admin: Any, tree: Any, client: Any) -> None:
    other = make_resident(tree.village_a1a2)
    missing = client.get("/api/v1/people/residents/999999", **bearer(admin))
    hidden = client.get(f"/api/v1/people/residents/{other.pk}", **bearer(admin))
    assert missing.status_code == hidden.status_code == 404
    assert missing.json() == hidden.json()
    client.force_login(admin)
    assert client.get(reverse("people:resident_detail", args=[other.pk])).status_code == 404
    resp = client.patch(f"/api/v1/people/residents/{other.pk}", {"name": "改"}, content_type="application/json",
                        **bearer(admin))
    assert resp.status_code == 404
    body = {"region_code": tree.village_a1a2, "name": "越权", "id_number": new_id_number(tree.village_a1a2)}
    resp = client.post("/api/v1/people/residents", body, content_type="application/json", **bearer(admin))
    assert resp.status_code == 404
    assert Resident.objects.filter(region_code=tree.village_a1a2).count() == 1


def test_update_and_move_out(admin: Any, tree: Any, client: Any) -> None:
    r = _create(admin, tree)
    hh = make_household(tree.village_a1a1)
    resp = client.patch(f"/api/v1/people/residents/{r.pk}", {"household_id": hh.pk, "relation": "head",
                                                               "tags": ["living_alone"]},
                        content_type="application/json", **bearer(admin))
    assert resp.status_code == 200, resp.content
    assert resp.json()["tags"] == ["living_alone"]
    resp = client.patch(f"/api/v1/people/residents/{r.pk}", {"tags": ["nonsense"]},
                        content_type="application/json", **bearer(admin))
    assert resp.status_code == 422
    services.move_out_resident(actor=admin, resident_id=r.pk)
    assert client.get(f"/api/v1/people/residents/{r.pk}", **bearer(admin)).status_code == 404
    # the ID number is free again for a new active record
    _create(admin, tree, id_number=r.id_number)


# --- unmask -------------------------------------------------------------------------------------------------


def test_unmask_requires_permission(admin: Any, tree: Any, client: Any, make_user: Any) -> None:
    r = _create(admin, tree)
    cadre = make_user("village_cadre", tree.village_a1a1)  # people.view, no people.unmask
    resp = client.post(f"/api/v1/people/residents/{r.pk}/unmask", {"reason": "核实身份信息"},
                       content_type="application/json", **bearer(cadre))
    assert resp.status_code == 403
    assert r.id_number not in resp.content.decode()
    client.force_login(cadre)
    page = client.post(reverse("people:resident_unmask", args=[r.pk]), {"reason": "核实身份信息"})
    assert page.status_code == 403 and r.id_number not in page.content.decode()
    detail = client.get(reverse("people:resident_detail", args=[r.pk])).content.decode()
    assert 'name="reason"' not in detail
    assert not AuditEntry.objects.filter(action="people.resident.unmask").exists()


def test_unmask_requires_reason(admin: Any, tree: Any, client: Any) -> None:
    r = _create(admin, tree)
    for body in ({}, {"reason": "  看 "}):
        resp = client.post(f"/api/v1/people/residents/{r.pk}/unmask", body, content_type="application/json",
                           **bearer(admin))
        assert resp.status_code == 422
        assert r.id_number not in resp.content.decode()
    client.force_login(admin)
    page = client.post(reverse("people:resident_unmask", args=[r.pk]), {"reason": ""})
    assert page.status_code == 422
    assert not AuditEntry.objects.filter(action="people.resident.unmask").exists()


def test_unmask_shows_plain_once_and_audits(admin: Any, tree: Any, client: Any) -> None:
    r = _create(admin, tree, phone="13600001234")
    resp = client.post(f"/api/v1/people/residents/{r.pk}/unmask", {"reason": "上门核实身份"},
                       content_type="application/json", **bearer(admin))
    assert resp.status_code == 200
    assert resp.json() == {"name": r.name, "id_number": r.id_number, "phone": "13600001234", "address": ""}
    assert "no-store" in resp["Cache-Control"]
    entry = AuditEntry.objects.get(action="people.resident.unmask")
    assert entry.after is not None
    assert entry.after["reason"] == "上门核实身份" and entry.object_id == str(r.pk)
    assert r.id_number not in json.dumps(entry.after)
    client.force_login(admin)
    page = client.post(reverse("people:resident_unmask", args=[r.pk]), {"reason": "上门核实身份"})
    assert page.status_code == 200 and r.id_number in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    assert AuditEntry.objects.filter(action="people.resident.unmask").count() == 2
    # out of scope: 404 exactly like a missing one, nothing audited
    other = make_resident(tree.village_a1a2)
    resp = client.post(f"/api/v1/people/residents/{other.pk}/unmask", {"reason": "上门核实身份"},
                       content_type="application/json", **bearer(admin))
    assert resp.status_code == 404
    assert AuditEntry.objects.filter(action="people.resident.unmask").count() == 2


# --- query counts -------------------------------------------------------------------------------------------


def _count_queries(func: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        func()
    return len(ctx.captured_queries)


def test_list_query_counts_do_not_grow(admin: Any, tree: Any, client: Any) -> None:
    grid = sea_grid(tree.village_a1a1)
    hh = make_household(tree.village_a1a1)
    client.force_login(admin)
    headers = bearer(admin)
    urls = [reverse(n) for n in ("people:resident_list", "people:household_list", "people:house_list",
                                 "people:organisation_list", "people:vessel_list")]
    apis = ["/api/v1/people/residents", "/api/v1/people/households", "/api/v1/people/houses",
            "/api/v1/people/organisations", "/api/v1/vessels"]

    def add(n: int) -> None:
        from .helpers import make_house, make_organisation, make_vessel

        for _ in range(n):
            res = make_resident(tree.village_a1a1, household=hh, grid=tree.grids[tree.village_a1a1])
            make_house(tree.village_a1a1)
            make_organisation(tree.village_a1a1)
            v = make_vessel(tree.village_a1a1)
            v.captain = res
            v.save()
            v.crew.add(res)
        assert grid

    add(2)
    for u in urls:  # warm up (session, user and permission caches, token last-used stamp)
        client.get(u)
    for u in apis:
        client.get(u, **headers)
    small = [_count_queries(lambda u=u: client.get(u)) for u in urls]
    small_api = [_count_queries(lambda u=u: client.get(u, **headers)) for u in apis]
    add(8)
    big = [_count_queries(lambda u=u: client.get(u)) for u in urls]
    big_api = [_count_queries(lambda u=u: client.get(u, **headers)) for u in apis]
    assert big == small
    assert big_api == small_api
    assert max(big) <= 10 and max(big_api) <= 8, (big, big_api)
