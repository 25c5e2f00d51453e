import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from shanzhi.accounts.models import ApiToken, RoleAssignment, User
from shanzhi.core import audit
from shanzhi.core.models import AuditEntry
from shanzhi.testing.factories import make_token

STRONG = "Strong-Passw0rd-2026"


def _auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def town_admin(tree, make_user):
    user = make_user("town_admin", tree.town_a1a, display_name="镇管理员")
    return user, make_token(user)


def test_me(client, town_admin, tree):
    user, token = town_admin
    body = client.get("/api/v1/me", **_auth(token)).json()
    assert body["username"] == user.username and body["display_name"] == "镇管理员"
    assert body["roles"] == [{"id": user.role_assignments.get().pk, "role": "town_admin",
                              "region_code": tree.town_a1a, "region_name": "马岙街道", "region_level": "town"}]
    perms = {p["permission"]: p["prefixes"] for p in body["permissions"]}
    assert perms["accounts.change"] == ["330902008"] and "portal.self" not in perms


@pytest.mark.parametrize("kind", ["forged", "revoked", "expired", "wrong_prefix", "garbage", "inactive"])
def test_bad_tokens_answer_401_with_the_json_error(client, town_admin, kind):
    user, token = town_admin
    row = ApiToken.objects.get(user=user)
    if kind == "forged":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif kind == "revoked":
        ApiToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    elif kind == "expired":
        ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    elif kind == "wrong_prefix":
        token = "xx" + token[2:]
    elif kind == "garbage":
        token = "sz_nothing"
    elif kind == "inactive":
        User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get("/api/v1/me", **_auth(token))
    assert response.status_code == 401
    assert response.json() == {"code": "unauthenticated", "message": "Authentication is required.",
                               "detail": None}


def test_no_credentials_is_401(client, db):
    assert client.get("/api/v1/users").status_code == 401


def test_list_users_is_scoped_with_only_visible_roles(client, town_admin, tree, make_user):
    _user, token = town_admin
    inside = make_user("grid_worker", tree.village_a1a1, username="inside")
    RoleAssignment.objects.create(user=inside, role="dispatcher", region_id=tree.county_a2,
                                  region_code=tree.county_a2)
    make_user("grid_worker", tree.village_a1b1, username="sibling")
    make_user("county_admin", tree.county_a1, username="above")
    body = client.get("/api/v1/users", **_auth(token)).json()
    names = [u["username"] for u in body["results"]]
    assert "inside" in names and "sibling" not in names and "above" not in names
    assert body["count"] == len(names)
    inside_row = next(u for u in body["results"] if u["username"] == "inside")
    assert [r["region_code"] for r in inside_row["roles"]] == [tree.village_a1a1]  # the county role is hidden


def test_list_users_filters_and_pages(client, town_admin, tree, make_user):
    _user, token = town_admin
    for i in range(5):
        make_user("grid_worker", tree.village_a1a2, username=f"w{i}")
    make_user("village_cadre", tree.village_a1a1, username="cadre")
    body = client.get("/api/v1/users?role=grid_worker&page_size=2&page=2", **_auth(token)).json()
    assert body["count"] == 5 and [u["username"] for u in body["results"]] == ["w2", "w3"]
    body = client.get(f"/api/v1/users?region={tree.village_a1a1}", **_auth(token)).json()
    assert [u["username"] for u in body["results"]] == ["cadre"]
    body = client.get("/api/v1/users?q=cad", **_auth(token)).json()
    assert [u["username"] for u in body["results"]] == ["cadre"]


@pytest.mark.parametrize("query", ["role=emperor", "region=abc", "region=3309020", "page=0", "page=x",
                                   "page_size=1000"])
def test_list_users_bad_filters_are_422(client, town_admin, query):
    _user, token = town_admin
    response = client.get(f"/api/v1/users?{query}", **_auth(token))
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


def test_list_users_query_count_does_not_grow(client, town_admin, tree, make_user, django_assert_max_num_queries):
    _user, token = town_admin
    for i in range(30):
        u = make_user("grid_worker", tree.village_a1a1, username=f"u{i:02d}")
        RoleAssignment.objects.create(user=u, role="village_cadre", region_id=tree.village_a1a2,
                                      region_code=tree.village_a1a2)
    with django_assert_max_num_queries(6):
        body = client.get("/api/v1/users?page_size=100", **_auth(token)).json()
    assert body["count"] == 31 and all(len(u["roles"]) == 2 for u in body["results"] if u["username"][0] == "u")


def test_user_without_permission_is_403(client, tree, make_user):
    worker = make_user("grid_worker", tree.village_a1a1)
    response = client.get("/api/v1/users", **_auth(make_token(worker)))
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_get_user_in_and_out_of_scope(client, town_admin, tree, make_user):
    _user, token = town_admin
    inside = make_user("grid_worker", tree.village_a1a1)
    outside = make_user("grid_worker", tree.village_a1b1)
    assert client.get(f"/api/v1/users/{inside.pk}", **_auth(token)).json()["username"] == inside.username
    missing = client.get("/api/v1/users/999999", **_auth(token))
    hidden = client.get(f"/api/v1/users/{outside.pk}", **_auth(token))
    assert missing.status_code == hidden.status_code == 404
    assert missing.json() == hidden.json()
    assert client.get("/api/v1/users/abc", **_auth(token)).status_code in (404, 422)


def test_create_user(client, town_admin, tree):
    _user, token = town_admin
    payload = {"username": "new1", "password": STRONG, "role": "grid_worker", "region": tree.village_a1a1}
    response = client.post("/api/v1/users", payload, content_type="application/json", **_auth(token))
    assert response.status_code == 201 and response.json()["roles"][0]["role"] == "grid_worker"
    assert AuditEntry.objects.filter(action="accounts.user.create").count() == 1


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"username": "n", "role": "grid_worker"}, 422),  # region missing
        ({"username": "n", "role": "grid_worker", "region": 330902008201}, 422),  # wrong type
        ({"username": "n", "role": "grid_worker", "region": "3309"}, 422),  # not 12 digits
        ({"username": "n", "role": "emperor", "region": "330902008201"}, 422),
        ({"username": "n", "role": "grid_worker", "region": "330902008299"}, 422),  # no such region
        ({"username": "n", "role": "grid_worker", "region": "330902100201"}, 404),  # sibling town
        ({"username": "n", "role": "county_admin", "region": "330902000000"}, 404),  # above the town
        ({"username": "n", "role": "grid_worker", "region": "330902008201", "password": "weak"}, 422),
        ({"username": "", "role": "grid_worker", "region": "330902008201"}, 422),
    ],
)
def test_create_user_bad_input_changes_nothing(client, town_admin, tree, payload, status):
    _user, token = town_admin
    users = User.objects.count()
    response = client.post("/api/v1/users", payload, content_type="application/json", **_auth(token))
    assert response.status_code == status, response.content
    assert set(response.json()) == {"code", "message", "detail"}
    assert User.objects.count() == users and not AuditEntry.objects.exists()


def test_create_user_with_malformed_json(client, town_admin):
    _user, token = town_admin
    response = client.post("/api/v1/users", "{not json", content_type="application/json", **_auth(token))
    assert 400 <= response.status_code < 500 and "code" in response.json()


def test_grant_revoke_deactivate(client, town_admin, tree, make_user):
    _user, token = town_admin
    worker = make_user("grid_worker", tree.village_a1a1)
    url = f"/api/v1/users/{worker.pk}/roles"
    response = client.post(url, {"role": "village_cadre", "region": tree.village_a1a2},
                           content_type="application/json", **_auth(token))
    assert response.status_code == 201 and len(response.json()["roles"]) == 2
    grant = worker.role_assignments.get(role="village_cadre")
    for bad, status in [({"role": "village_cadre", "region": tree.village_a1b1}, 404),
                        ({"role": "nope", "region": tree.village_a1a2}, 422),
                        ({"role": "village_cadre"}, 422)]:
        assert client.post(url, bad, content_type="application/json", **_auth(token)).status_code == status
    assert client.delete(f"{url}/{grant.pk}", **_auth(token)).status_code == 204
    assert client.delete(f"{url}/{grant.pk}", **_auth(token)).status_code == 404
    response = client.post(f"/api/v1/users/{worker.pk}/deactivate", **_auth(token))
    assert response.status_code == 200 and response.json()["is_active"] is False


def test_actions_on_out_of_scope_user_are_404_and_change_nothing(client, town_admin, tree, make_user):
    _user, token = town_admin
    stranger = make_user("grid_worker", tree.village_a1b1)
    row = stranger.role_assignments.get()
    assert client.post(f"/api/v1/users/{stranger.pk}/roles", {"role": "grid_worker",
                       "region": tree.village_a1a1}, content_type="application/json",
                       **_auth(token)).status_code == 404
    assert client.delete(f"/api/v1/users/{stranger.pk}/roles/{row.pk}", **_auth(token)).status_code == 404
    assert client.post(f"/api/v1/users/{stranger.pk}/deactivate", **_auth(token)).status_code == 404
    stranger.refresh_from_db()
    assert stranger.is_active and stranger.role_assignments.count() == 1 and not AuditEntry.objects.exists()


def _audit_row(region_code, action="test.thing", object_id="1"):
    with transaction.atomic():
        return audit.record(actor=None, action=action, object_type="test", object_id=object_id,
                            region_code=region_code)


def test_audit_api_is_scoped_and_filtered(client, town_admin, tree, django_assert_max_num_queries):
    _user, token = town_admin
    _audit_row(tree.village_a1a1, object_id="mine")
    _audit_row(tree.village_a1b1, object_id="theirs")
    _audit_row(tree.town_a1a, action="other.thing", object_id="mine2")
    _audit_row("", object_id="global")
    with django_assert_max_num_queries(5):
        body = client.get("/api/v1/audit", **_auth(token)).json()
    assert [e["object_id"] for e in body["results"]] == ["mine2", "mine"] and body["count"] == 2
    body = client.get("/api/v1/audit?action=test.", **_auth(token)).json()
    assert [e["object_id"] for e in body["results"]] == ["mine"]
    body = client.get("/api/v1/audit?object=test:mine2", **_auth(token)).json()
    assert [e["object_id"] for e in body["results"]] == ["mine2"]
    body = client.get(f"/api/v1/audit?region={tree.village_a1a1}", **_auth(token)).json()
    assert [e["object_id"] for e in body["results"]] == ["mine"]
    for bad in ["region=xyz", "page=0", "page_size=0"]:
        assert client.get(f"/api/v1/audit?{bad}", **_auth(token)).status_code == 422


def test_audit_api_needs_the_permission(client, tree, make_user):
    worker = make_user("grid_worker", tree.village_a1a1)
    assert client.get("/api/v1/audit", **_auth(make_token(worker))).status_code == 403
