"""A local run of the accounts routes against sibling scopes (the lead's matrix test walks all apps)."""

import pytest
from django.urls import reverse

from shanzhi.accounts.tests.authz_spec import ROUTES
from shanzhi.testing.authz import LEVELS
from shanzhi.testing.factories import make_token, make_user


def _api_path(name, kwargs):
    from shanzhi.api.root import api

    schema = api.get_openapi_schema()
    for path, ops in schema["paths"].items():
        for op in ops.values():
            if op.get("operationId") == name:
                return path.format(**kwargs)
    raise AssertionError(f"no API operation {name}")


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_sibling_scope(client, tree, route, level):
    a_code, b_code = tree.siblings[level]
    actor = make_user(route.role_at[level], a_code)
    a, b = route.build(a_code), route.build(b_code)
    headers = {}
    if route.api:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {make_token(actor)}"}
        url_a, url_b = _api_path(route.name, a.kwargs), _api_path(route.name, b.kwargs)
    else:
        client.force_login(actor)
        url_a, url_b = reverse(route.name, kwargs=a.kwargs), reverse(route.name, kwargs=b.kwargs)
    if route.kind == "detail":
        assert client.get(url_a, **headers).status_code == 200
        assert client.get(url_b, **headers).status_code == 404
    elif route.kind == "list":
        body = client.get(url_a, **headers).content.decode()
        assert a.marker in body and b.marker not in body
    else:
        payload = route.payload(b)
        if route.api and route.method != "DELETE":
            response = client.generic(route.method, url_b, data=__import__("json").dumps(payload),
                                      content_type="application/json", **headers)
        elif route.api:
            response = client.generic(route.method, url_b, **headers)
        else:
            response = client.post(url_b, payload)
        assert response.status_code in (403, 404, 422), response.content
        if route.name.endswith("create_user"):
            assert response.status_code == 404
        assert not route.changed(b)
