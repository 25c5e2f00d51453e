"""A local run of this app's authorization specs (the lead's matrix test runs every app's)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from shanzhi.testing.factories import make_token

from .authz_spec import ROUTES

pytestmark = pytest.mark.django_db

API_PATHS = {
    "people_list_residents": "/api/v1/people/residents",
    "people_get_resident": "/api/v1/people/residents/{resident_id}",
    "people_create_resident": "/api/v1/people/residents",
    "people_update_resident": "/api/v1/people/residents/{resident_id}",
    "people_unmask_resident": "/api/v1/people/residents/{resident_id}/unmask",
    "people_list_households": "/api/v1/people/households",
    "people_get_household": "/api/v1/people/households/{household_id}",
    "people_create_household": "/api/v1/people/households",
    "people_list_houses": "/api/v1/people/houses", "people_get_house": "/api/v1/people/houses/{house_id}",
    "people_create_house": "/api/v1/people/houses",
    "people_list_organisations": "/api/v1/people/organisations",
    "people_get_organisation": "/api/v1/people/organisations/{organisation_id}",
    "people_create_organisation": "/api/v1/people/organisations",
    "vessels_list": "/api/v1/vessels", "vessels_get": "/api/v1/vessels/{vessel_id}",
    "vessels_create": "/api/v1/vessels",
}


@pytest.mark.parametrize("level", ["town"])
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_route_respects_sibling_scope(route: Any, level: str, tree: Any, make_user: Any, client: Any) -> None:
    code_a, code_b = tree.siblings[level]
    a, b = route.build(code_a), route.build(code_b)
    user = make_user(route.role_at[level], code_a)
    headers: dict[str, str] = {}
    if route.api:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {make_token(user)}"}

        def url(built: Any) -> str:
            return API_PATHS[route.name].format(**built.kwargs)
    else:
        client.force_login(user)

        def url(built: Any) -> str:
            return reverse(route.name, kwargs=built.kwargs)
    if route.kind == "detail":
        assert client.get(url(a), **headers).status_code < 400
        assert client.get(url(b), **headers).status_code == 404
    elif route.kind == "list":
        query = route.query(a, b) if route.query else {}
        resp = client.get(url(a), query, **headers)
        assert resp.status_code == 200
        if resp.get("Content-Type", "").startswith("application/vnd.openxml"):
            import io

            from openpyxl import load_workbook
            sheet: Any = load_workbook(io.BytesIO(b"".join(resp.streaming_content))).active
            body = str(list(sheet.iter_rows(values_only=True)))
        else:
            body = resp.content.decode()
        assert a.marker in body and b.marker not in body
    else:
        payload = route.payload(b) if route.payload else {}
        method = getattr(client, route.method.lower())
        if route.api:
            resp = method(url(b), json.dumps(payload, default=str), content_type="application/json", **headers)
        elif route.method == "POST":
            resp = client.post(url(b), payload)
        assert resp.status_code in (403, 404, 422), resp.content[:300]
        assert route.changed is not None and not route.changed(b)
