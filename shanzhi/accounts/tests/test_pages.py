import pytest
from django.db import transaction
from django.urls import reverse

from shanzhi.accounts.models import ApiToken, RoleAssignment, User
from shanzhi.core import audit
from shanzhi.core.models import AuditEntry
from shanzhi.testing.factories import PASSWORD

STRONG = "Strong-Passw0rd-2026"


@pytest.fixture
def admin(client, tree, make_user):
    user = make_user("town_admin", tree.town_a1a)
    client.force_login(user)
    return user


def test_user_list_is_scoped_and_searchable(client, admin, tree, make_user):
    make_user("grid_worker", tree.village_a1a1, username="inside-worker")
    make_user("grid_worker", tree.village_a1b1, username="sibling-worker")
    page = client.get(reverse("accounts:user_list")).content.decode()
    assert "inside-worker" in page and "sibling-worker" not in page
    page = client.get(reverse("accounts:user_list"), {"q": "sibling"}).content.decode()
    assert "sibling-worker" not in page and "inside-worker" not in page
    page = client.get(reverse("accounts:user_list"), {"role": "grid_worker"}).content.decode()
    assert "inside-worker" in page and f">{admin.username}</a>" not in page
    assert client.get(reverse("accounts:user_list"), {"role": "emperor"}).status_code == 422
    assert client.get(reverse("accounts:user_list"), {"region": "33x"}).status_code == 422


def test_user_list_query_count_is_pinned(client, admin, tree, make_user, django_assert_max_num_queries):
    for i in range(40):
        u = make_user("grid_worker", tree.village_a1a1, username=f"w{i:02d}")
        RoleAssignment.objects.create(user=u, role="village_cadre", region_id=tree.village_a1a2,
                                      region_code=tree.village_a1a2)
    client.get("/")  # the idle-timeout middleware writes the session once a minute: not measured here
    # session, user, role rows, count, page of users, their assignments, the top bar's region names
    with django_assert_max_num_queries(7):
        response = client.get(reverse("accounts:user_list"))
    assert response.content.decode().count('data-testid="user-row"') == 41


def test_pages_need_the_permission(client, tree, make_user):
    client.force_login(make_user("grid_worker", tree.village_a1a1))
    assert client.get(reverse("accounts:user_list")).status_code == 403
    assert client.get(reverse("accounts:user_create")).status_code == 403
    assert client.get(reverse("accounts:audit_log")).status_code == 403


def test_anonymous_is_sent_to_login(client, db):
    for name in ["accounts:user_list", "accounts:me", "accounts:audit_log", "accounts:otp_setup"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_user_detail_and_out_of_scope_404(client, admin, tree, make_user):
    inside = make_user("grid_worker", tree.village_a1a1)
    outside = make_user("grid_worker", tree.village_a1b1)
    page = client.get(reverse("accounts:user_detail", args=[inside.pk]))
    assert page.status_code == 200 and inside.username in page.content.decode()
    assert client.get(reverse("accounts:user_detail", args=[outside.pk])).status_code == 404
    assert client.get(reverse("accounts:user_detail", args=[999999])).status_code == 404


def test_create_user_page(client, admin, tree):
    data = {"username": "fresh", "display_name": "新人", "password": STRONG, "role": "grid_worker",
            "region": tree.village_a1a1}
    response = client.post(reverse("accounts:user_create"), data)
    user = User.objects.get(username="fresh")
    assert response["Location"] == reverse("accounts:user_detail", args=[user.pk])
    for bad in [{**data, "username": "x", "region": tree.village_a1b1},  # out of scope -> 404
                ]:
        assert client.post(reverse("accounts:user_create"), bad).status_code == 404
    for bad in [{**data, "username": "y", "role": "emperor"}, {**data, "username": "y", "region": "12"},
                {**data, "username": "y", "password": "weak"}, {**data, "username": "fresh"},
                {**data, "username": "bad name"}, {"username": "y"}]:
        assert client.post(reverse("accounts:user_create"), bad).status_code == 422
    assert User.objects.filter(username__in=["x", "y"]).count() == 0


def test_grant_revoke_deactivate_pages(client, admin, tree, make_user):
    worker = make_user("grid_worker", tree.village_a1a1)
    url = reverse("accounts:role_grant", args=[worker.pk])
    assert client.post(url, {"role": "village_cadre", "region": tree.village_a1a2}).status_code == 302
    grant = worker.role_assignments.get(role="village_cadre")
    assert client.post(url, {"role": "village_cadre", "region": tree.village_a1b1}).status_code == 404
    assert client.post(url, {"role": "village_cadre", "region": tree.village_a1a2}).status_code == 422
    assert client.post(url, {"role": "x", "region": tree.village_a1a2}).status_code == 422
    assert client.get(url).status_code == 405
    revoke = reverse("accounts:role_revoke", args=[worker.pk, grant.pk])
    assert client.post(revoke).status_code == 302
    assert client.post(revoke).status_code == 404
    assert client.post(reverse("accounts:user_deactivate", args=[worker.pk])).status_code == 302
    worker.refresh_from_db()
    assert not worker.is_active
    assert client.post(reverse("accounts:user_deactivate", args=[admin.pk])).status_code == 422


def test_actions_on_out_of_scope_user_are_404(client, admin, tree, make_user):
    stranger = make_user("grid_worker", tree.village_a1b1)
    row = stranger.role_assignments.get()
    assert client.post(reverse("accounts:role_grant", args=[stranger.pk]),
                       {"role": "grid_worker", "region": tree.village_a1a1}).status_code == 404
    assert client.post(reverse("accounts:role_revoke", args=[stranger.pk, row.pk])).status_code == 404
    assert client.post(reverse("accounts:user_deactivate", args=[stranger.pk])).status_code == 404
    stranger.refresh_from_db()
    assert stranger.is_active and stranger.role_assignments.count() == 1


def test_my_account_password_and_tokens(client, tree, make_user):
    user = make_user("grid_worker", tree.village_a1a1)
    client.force_login(user)
    assert client.get(reverse("accounts:me")).status_code == 200
    url = reverse("accounts:password_change")
    bad = {"old_password": "wrong", "new_password": STRONG, "new_password2": STRONG}
    assert client.post(url, bad).status_code == 422
    assert client.post(url, {**bad, "old_password": PASSWORD, "new_password2": "other"}).status_code == 422
    assert client.post(url, {**bad, "old_password": PASSWORD, "new_password": "weak",
                             "new_password2": "weak"}).status_code == 422
    assert client.post(url, {**bad, "old_password": PASSWORD}).status_code == 302
    user.refresh_from_db()
    assert user.check_password(STRONG)
    assert client.get(reverse("accounts:me")).status_code == 200  # still logged in
    response = client.post(reverse("accounts:token_create"), {"name": "sync", "expires_in_days": "30"})
    token_text = response.content.decode()
    token = ApiToken.objects.get(user=user)
    assert f"sz_{token.prefix}_" in token_text and token.expires_at
    assert token.key_hash not in token_text
    again = client.get(reverse("accounts:me")).content.decode()
    assert f"sz_{token.prefix}_…" in again and 'data-testid="new-token"' not in again
    for bad_token in [{"name": ""}, {"name": "x", "expires_in_days": "0"}, {"name": "x", "expires_in_days": "z"}]:
        assert client.post(reverse("accounts:token_create"), bad_token).status_code == 422
    assert ApiToken.objects.filter(user=user).count() == 1
    assert client.post(reverse("accounts:token_revoke", args=[token.pk])).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_cannot_revoke_someone_elses_token(client, tree, make_user):
    owner = make_user("grid_worker", tree.village_a1a1)
    from shanzhi.testing.factories import make_token

    make_token(owner)
    token = ApiToken.objects.get(user=owner)
    client.force_login(make_user("village_admin", tree.village_a1a1))
    assert client.post(reverse("accounts:token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_audit_log_page(client, admin, tree, django_assert_max_num_queries):
    for code, oid in [(tree.village_a1a1, "mine"), (tree.village_a1b1, "theirs")]:
        with transaction.atomic():
            audit.record(actor=None, action="test.page", object_type="test", object_id=oid, region_code=code)
    client.get("/")
    with django_assert_max_num_queries(7):  # includes the top bar's region names
        page = client.get(reverse("accounts:audit_log")).content.decode()
    assert "test:mine<" in page and "test:theirs" not in page
    page = client.get(reverse("accounts:audit_log"), {"object": "test:theirs"}).content.decode()
    assert "test:theirs<" not in page and "audit-row" not in page
    assert client.get(reverse("accounts:audit_log"), {"region": "abc"}).status_code == 422
    assert AuditEntry.objects.count() == 2


def test_menu_entries(client, admin):
    page = client.get("/").content.decode()
    assert reverse("accounts:user_list") in page and reverse("accounts:audit_log") in page


def test_admin_sets_a_password_and_removes_the_second_factor(client, admin, tree, make_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    worker = make_user("grid_worker", tree.village_a1a1)
    TOTPDevice.objects.create(user=worker, name="default", confirmed=True)
    url = reverse("accounts:user_password", args=[worker.pk])
    assert client.post(url, {"new_password": "weak", "new_password2": "weak"}).status_code == 422
    assert client.post(url, {"new_password": STRONG, "new_password2": "other"}).status_code == 422
    assert client.post(url, {"new_password": STRONG, "new_password2": STRONG}).status_code == 302
    worker.refresh_from_db()
    assert worker.check_password(STRONG)
    assert b"accounts/users/%d/otp-reset/" % worker.pk in client.get(
        reverse("accounts:user_detail", args=[worker.pk])).content
    assert client.post(reverse("accounts:user_otp_reset", args=[worker.pk])).status_code == 302
    assert not TOTPDevice.objects.filter(user=worker).exists()
    assert AuditEntry.objects.filter(action="accounts.otp.reset", object_id=str(worker.pk)).exists()
    stranger = make_user("grid_worker", tree.village_a1b1)
    assert client.post(reverse("accounts:user_password", args=[stranger.pk]),
                       {"new_password": STRONG, "new_password2": STRONG}).status_code == 404
    assert client.post(reverse("accounts:user_otp_reset", args=[stranger.pk])).status_code == 404
