import pytest

from shanzhi.accounts import services
from shanzhi.accounts.models import RoleAssignment
from shanzhi.accounts.roles import Role
from shanzhi.core.errors import NotFound, PermissionDenied, ValidationFailed
from shanzhi.core.models import AuditEntry
from shanzhi.testing.factories import PASSWORD

STRONG = "Strong-Passw0rd-2026"


def test_user_create_audited_and_scoped(tree, make_user):
    admin = make_user("town_admin", tree.town_a1a)
    user = services.user_create(actor=admin, username="newbie", password=STRONG, role="grid_worker",
                                region_code=tree.village_a1a1)
    assert user.check_password(STRONG)
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["accounts.user.create",
                                                                         "accounts.role.grant"]
    with pytest.raises(NotFound):  # sibling town
        services.user_create(actor=admin, username="x1", password=STRONG, role="grid_worker",
                             region_code=tree.village_a1b1)


def test_town_admin_cannot_create_a_county_admin(tree, make_user):
    admin = make_user("town_admin", tree.town_a1a)
    with pytest.raises(NotFound):  # the county is outside the town
        services.user_create(actor=admin, username="boss", password=STRONG, role="county_admin",
                             region_code=tree.county_a1)
    # a role without a fixed level, given at the town, is fine; an admin role of the town level too
    services.user_create(actor=admin, username="peer", password=STRONG, role="town_admin",
                         region_code=tree.town_a1a)


def test_no_escalation_beyond_held_permissions(tree, make_user):
    """An auditor holds accounts.view but not accounts.change; a supervisor neither."""
    auditor = make_user("auditor", tree.county_a1)
    with pytest.raises(PermissionDenied):
        services.user_create(actor=auditor, username="y", password=STRONG, role="resident",
                             region_code=tree.village_a1a1)


def test_operational_roles_can_be_granted_but_never_to_oneself(tree, make_user):
    admin = make_user("village_admin", tree.village_a1a1)
    worker = services.user_create(actor=admin, username="gw1", password=STRONG, role="grid_worker",
                                  region_code=tree.village_a1a1)
    services.role_grant(actor=admin, user=worker, role="supervisor", region_code=tree.village_a1a1)
    with pytest.raises(PermissionDenied):
        services.role_grant(actor=admin, user=admin, role="supervisor", region_code=tree.village_a1a1)
    assert not admin.role_assignments.filter(role="supervisor").exists()


def test_bad_inputs_change_nothing(tree, make_user):
    admin = make_user("county_admin", tree.county_a1)
    before = AuditEntry.objects.count()
    cases = [
        dict(role="emperor", region_code=tree.village_a1a1),
        dict(role="grid_worker", region_code="330902999999"),
        dict(role="grid_worker", region_code=tree.town_a1a),  # grid workers sit at village level
        dict(role="county_admin", region_code=tree.town_a1a),
    ]
    for case in cases:
        with pytest.raises(ValidationFailed):
            services.user_create(actor=admin, username="z", password=STRONG, **case)
    with pytest.raises(ValidationFailed):  # weak password for an official
        services.user_create(actor=admin, username="z", password="short1", role="grid_worker",
                             region_code=tree.village_a1a1)
    with pytest.raises(ValidationFailed):
        services.user_create(actor=admin, username="bad name!", password=STRONG, role="grid_worker",
                             region_code=tree.village_a1a1)
    existing = make_user("resident", tree.village_a1a1)
    with pytest.raises(ValidationFailed):
        services.user_create(actor=admin, username=existing.username, password=STRONG, role="resident",
                             region_code=tree.village_a1a1)
    assert AuditEntry.objects.count() == before


def test_grant_and_revoke(tree, make_user):
    admin = make_user("town_admin", tree.town_a1a)
    worker = make_user("grid_worker", tree.village_a1a1)
    grant = services.role_grant(actor=admin, user=worker, role="village_cadre", region_code=tree.village_a1a2)
    assert grant.granted_by == admin and grant.region_code == tree.village_a1a2
    with pytest.raises(ValidationFailed):  # twice
        services.role_grant(actor=admin, user=worker, role="village_cadre", region_code=tree.village_a1a2)
    with pytest.raises(NotFound):  # region outside the town
        services.role_grant(actor=admin, user=worker, role="village_cadre", region_code=tree.village_a1b1)
    with pytest.raises(NotFound):  # a county role, above the town
        services.role_grant(actor=admin, user=worker, role="county_admin", region_code=tree.county_a1)
    services.role_revoke(actor=admin, assignment=grant)
    assert not RoleAssignment.objects.filter(pk=grant.pk).exists()
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions == ["accounts.role.grant", "accounts.role.revoke"]


def test_grant_to_a_user_outside_scope_is_not_found(tree, make_user):
    admin = make_user("town_admin", tree.town_a1a)
    stranger = make_user("grid_worker", tree.village_a1b1)
    with pytest.raises(NotFound):
        services.role_grant(actor=admin, user=stranger, role="grid_worker", region_code=tree.village_a1a1)


def test_cannot_revoke_a_higher_role_held_in_scope(tree, make_user):
    """A county admin's assignment sits at the county code, outside a town admin's prefix."""
    town = make_user("town_admin", tree.town_a1a)
    county = make_user("county_admin", tree.county_a1)
    row = county.role_assignments.get()
    with pytest.raises(NotFound):
        services.role_revoke(actor=town, assignment=row)


def test_deactivate(tree, make_user, client):
    admin = make_user("town_admin", tree.town_a1a)
    worker = make_user("grid_worker", tree.village_a1a1)
    both = make_user("grid_worker", tree.village_a1a1)
    RoleAssignment.objects.create(user=both, role="county_admin", region_id=tree.county_a1,
                                  region_code=tree.county_a1)
    services.user_deactivate(actor=admin, user=worker)
    worker.refresh_from_db()
    assert not worker.is_active
    assert not client.login(username=worker.username, password=PASSWORD)
    with pytest.raises(NotFound):  # also a county admin: the town admin cannot switch them off
        services.user_deactivate(actor=admin, user=both)
    with pytest.raises(ValidationFailed):
        services.user_deactivate(actor=admin, user=admin)
    assert AuditEntry.objects.filter(action="accounts.user.deactivate").count() == 1


def test_password_change_own_and_by_admin(tree, make_user):
    user = make_user("grid_worker", tree.village_a1a1)
    with pytest.raises(ValidationFailed):
        services.password_change(actor=user, user=user, old_password="wrong", new_password=STRONG)
    with pytest.raises(ValidationFailed):  # too weak for an official
        services.password_change(actor=user, user=user, old_password=PASSWORD, new_password="abc")
    services.password_change(actor=user, user=user, old_password=PASSWORD, new_password=STRONG)
    user.refresh_from_db()
    assert user.check_password(STRONG) and user.password_changed_at
    admin = make_user("village_admin", tree.village_a1a1)
    services.password_change(actor=admin, user=user, new_password="Another-Passw0rd-1")
    other = make_user("village_admin", tree.village_a1a2)
    with pytest.raises(NotFound):
        services.password_change(actor=other, user=user, new_password="Another-Passw0rd-2")
    assert AuditEntry.objects.filter(action="accounts.user.password_change").count() == 2
    assert "password" not in str(AuditEntry.objects.values_list("after", flat=True)[0]).replace(
        "password_changed_at", "")


def test_token_create_and_revoke(tree, make_user):
    user = make_user("grid_worker", tree.village_a1a1)
    secret = services.token_create(actor=user, user=user, name="script")
    from shanzhi.api.auth import user_for_token

    assert user_for_token(secret) == user
    token = user.api_tokens.get()
    services.token_revoke(actor=user, token=token)
    assert user_for_token(secret) is None
    with pytest.raises(ValidationFailed):
        services.token_revoke(actor=user, token=token)
    with pytest.raises(ValidationFailed):
        services.token_create(actor=user, user=user, name="   ")


def test_admin_role_above_own_level_is_refused_before_anything_else(tree, make_user):
    admin = make_user("village_admin", tree.village_a1a1)
    with pytest.raises(PermissionDenied):
        services.check_may_grant(admin, Role.TOWN_ADMIN, tree.village_a1a1)
    services.check_may_grant(admin, Role.VILLAGE_ADMIN, tree.village_a1a1)


def test_audit_rows_about_a_user_are_filed_under_their_region(tree, make_user, settings):
    settings.SHANZHI_LOCKOUT_FAILURES = 1
    user = make_user("grid_worker", tree.village_a1a1)
    services.login_failed(username=user.username)
    services.password_change(actor=user, user=user, old_password=PASSWORD, new_password=STRONG)
    codes = set(AuditEntry.objects.values_list("region_code", flat=True))
    assert codes == {tree.village_a1a1}
    from shanzhi.core.api import audit_list

    town = make_user("town_admin", tree.town_a1a)
    sibling = make_user("town_admin", tree.town_a1b)
    assert audit_list(town).count() == 2 and audit_list(sibling).count() == 0
