"""The authorization matrix: every URL route and API operation, checked against sibling scopes.

Each app declares its routes in ``shanzhi/<app>/tests/authz_spec.py`` as ``ROUTES: list[Route]``.  The matrix
test (``shanzhi/core/tests/test_authz_matrix.py``) enumerates every named URL pattern and every API operation;
a route that no spec names (and that is not in ``PUBLIC``, with a reason) fails the test.

For each route and each level (city, county, town, village) it takes two sibling regions A and B, builds one
object in each with ``route.build(region_code)``, logs in a user holding ``route.role_at[level]`` at A, and:

* ``kind="detail"``: the URL for A's object answers 2xx/3xx, the URL for B's object answers 404 — exactly
  like a missing one;
* ``kind="list"`` (lists, counts, exports, maps, statistics): the answer contains A's marker and not B's.
  ``query`` may add query parameters (e.g. a search for B's marker).
* ``kind="action"`` (POST/PUT/PATCH/DELETE): with ``payload(b_obj)`` against B's object (or naming B's
  region) the answer is 404 (or 403/422 where the route is not object-bound), and nothing changed — the
  route's ``changed(b_obj)`` returns False.

``build`` returns a :class:`Built`: the kwargs of the URL (or the API path parameters), a marker string that
appears in any answer that includes the object (a unique name or id — never personal data, which is masked),
and the object itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

LEVELS = ("city", "county", "town", "village")
ADMIN_AT = {"city": "city_admin", "county": "county_admin", "town": "town_admin", "village": "village_admin"}


@dataclass
class Built:
    kwargs: dict[str, Any]
    marker: str
    obj: Any = None


@dataclass
class Route:
    name: str  # URL name ("people:resident_detail") or API operation id ("people_list_residents")
    kind: Literal["detail", "list", "action"]
    build: Callable[[str], Built]
    api: bool = False  # True: an API operation (bearer token), False: a page (session login)
    api_key: bool = False  # a page route authenticated by an ``api_key`` parameter (Open311)
    method: str = "GET"
    role_at: dict[str, str] = field(default_factory=lambda: dict(ADMIN_AT))
    # lists: (a, b) -> query params; details: called as (x, x) for each side
    query: Callable[[Built, Built], dict[str, str]] | None = None
    payload: Callable[[Built], dict[str, Any]] | None = None  # for actions: the body aimed at B
    changed: Callable[[Built], bool] | None = None  # for actions: did B's object change?
    levels: tuple[str, ...] = LEVELS
    # routes scoped by the caller's own identity (a resident's own reports): the user who logs in, given A's
    # object (instead of a fresh user holding ``role_at[level]`` at A)
    login_as: Callable[[Built], Any] | None = None


# Routes that need no region scope, with the reason; the matrix test accepts them without a spec.
# An app may add its own in its authz_spec module as ``UNSCOPED: dict[str, str]``.
PUBLIC: dict[str, str] = {
    "accounts:login": "the login page",
    "accounts:logout": "ends the caller's own session",
    "accounts:otp": "the caller's own second factor",
    "set_language": "the caller's language preference",
    "core:home": "shows only the caller's own assignments and counts already scoped by selectors",
    "api:openapi-json": "the API description",
    "api:openapi-view": "the API documentation page",
    "regions_list_department_types": "the configurable list of department types: reference data, no region",
}
