"""The authorization matrix: every page route and API operation, for users of sibling scopes at four levels.

Routes are declared by each app in ``shanzhi/<app>/tests/authz_spec.py`` (see ``shanzhi/testing/authz.py``).
A route that is neither declared nor listed in ``PUBLIC`` fails ``test_every_route_is_in_the_matrix``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from shanzhi.api.root import api
from shanzhi.testing import factories
from shanzhi.testing.authz import PUBLIC, Built, Route

ADMIN_NAMESPACE = "admin"


def _page_route_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[Any], namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or ""
                full = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
                if full in {"api", ADMIN_NAMESPACE}:
                    continue
                walk(p.url_patterns, full)
            elif isinstance(p, URLPattern) and p.name:
                names.add(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver().url_patterns, "")
    return names


def _api_operations() -> dict[str, tuple[str, str]]:
    """operationId -> (method, path template)."""
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    result = {}
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            result[op["operationId"]] = (method.upper(), path)
    return result


UNSCOPED: dict[str, str] = dict(PUBLIC)


def _declared_routes() -> list[Route]:
    routes: list[Route] = []
    for config in apps.get_app_configs():
        if not config.name.startswith("shanzhi."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.tests.authz_spec")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"{config.name}.tests"):
                continue
            raise
        routes.extend(module.ROUTES)
        UNSCOPED.update(getattr(module, "UNSCOPED", {}))
    return routes


ROUTES = _declared_routes()


def test_every_route_is_in_the_matrix() -> None:
    declared = {r.name for r in ROUTES}
    pages = _page_route_names()
    operations = set(_api_operations())
    missing = sorted((pages | operations) - declared - set(UNSCOPED))
    assert not missing, f"routes without an authorization spec (add them to <app>/tests/authz_spec.py): {missing}"
    unknown = sorted(declared - pages - operations)
    assert not unknown, f"specs for routes that do not exist: {unknown}"


def _cases() -> Iterator[Any]:
    for route in ROUTES:
        for level in route.levels:
            yield pytest.param(route, level, id=f"{route.name}@{level}")


def _sibling_regions(tree: factories.Tree, level: str) -> tuple[str, str]:
    """The region the user is given (A, at ``level``), and a village-level region in the sibling B."""
    a, b = tree.siblings[level]
    return a, b


def _village_under(tree: factories.Tree, code: str) -> str:
    """A village of the test tree under ``code`` (objects live in villages)."""
    from shanzhi.core.codes import prefix_of

    prefix = prefix_of(code)
    for village in [tree.village_a1a1, tree.village_a1a2, tree.village_a1b1, tree.village_a2a1, tree.village_b1]:
        if village.startswith(prefix):
            return village
    raise AssertionError(f"test tree has no village under {code}")


def _url(route: Route, built: Built) -> tuple[str, str]:
    if route.api:
        method, template = _api_operations()[route.name]
        path = template
        for key, value in built.kwargs.items():
            path = path.replace("{" + key + "}", str(value))
        return method, path
    return route.method, reverse(route.name, kwargs=built.kwargs or None)


def _request(client: Client, route: Route, method: str, url: str, token: str | None,
             query: dict[str, str] | None, body: dict[str, Any] | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token and route.api else {}
    if route.api_key and token:
        if method == "GET":
            query = {**(query or {}), "api_key": token}
        else:
            body = {**(body or {}), "api_key": token}
    if method == "GET":
        return client.get(url, query or {}, headers=headers)
    if route.api:
        return client.generic(method, url, data=json.dumps(body or {}), content_type="application/json",
                              headers=headers)
    return client.generic(method, url, data=_form(body or {}), content_type="application/x-www-form-urlencoded",
                          headers=headers)


def _form(data: Any) -> str:
    from urllib.parse import urlencode

    return urlencode(data, doseq=True)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "level"), list(_cases()))
def test_sibling_scope_never_leaks(route: Route, level: str, tree: factories.Tree) -> None:
    region_a, region_b = _sibling_regions(tree, level)
    built_a = route.build(_village_under(tree, region_a))
    built_b = route.build(_village_under(tree, region_b))
    user = route.login_as(built_a) if route.login_as else factories.make_user(route.role_at[level], region_a)
    client = Client()
    token = None
    if route.api or route.api_key:
        token = factories.make_token(user)
    else:
        client.force_login(user)

    if route.kind == "detail":
        method, url_a = _url(route, built_a)
        query_a = route.query(built_a, built_a) if route.query else None
        answer_a = _request(client, route, method, url_a, token, query_a, None)
        assert answer_a.status_code < 400, f"{route.name}: own object answered {answer_a.status_code}"
        method, url_b = _url(route, built_b)
        query_b = route.query(built_b, built_b) if route.query else None
        answer_b = _request(client, route, method, url_b, token, query_b, None)
        assert answer_b.status_code == 404, f"{route.name}: sibling's object answered {answer_b.status_code}"
        assert built_b.marker not in answer_b.content.decode("utf-8", "replace")
    elif route.kind == "list":
        method, url = _url(route, built_a)
        query = route.query(built_a, built_b) if route.query else None
        answer = _request(client, route, method, url, token, query, None)
        assert answer.status_code == 200, f"{route.name}: answered {answer.status_code}"
        text = _body_text(answer)
        assert built_a.marker in text, f"{route.name}: own object missing (the check could not fail otherwise)"
        assert built_b.marker not in text, f"{route.name}: sibling's object leaked at level {level}"
    else:
        method, url = _url(route, built_b)
        body = route.payload(built_b) if route.payload else {}
        answer = _request(client, route, method, url, token, None, body)
        assert answer.status_code in (403, 404, 422), f"{route.name}: write into sibling answered {answer.status_code}"
        if route.changed is not None:
            assert not route.changed(built_b), f"{route.name}: sibling's object changed"


def _body_text(answer: Any) -> str:
    data = b"".join(answer.streaming_content) if hasattr(answer, "streaming_content") else answer.content
    content_type = answer.get("Content-Type", "")
    if "spreadsheetml" in content_type:
        import io

        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        cells: list[str] = []
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                cells.extend(str(c) for c in row if c is not None)
        return "\n".join(cells)
    return data.decode("utf-8", "replace")


@pytest.mark.django_db
def test_admin_site_is_for_superusers_only(tree: factories.Tree) -> None:
    staff = factories.make_user("city_admin", tree.city_a)
    staff.is_staff = True
    staff.save()
    client = Client()
    client.force_login(staff)
    answer = client.get("/admin/")
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]
