from django.urls import reverse

from shanzhi.accounts.models import ApiToken, User
from shanzhi.testing.factories import make_token


def test_admin_pages_hide_hashes(client, tree, make_user):
    root = User.objects.create_superuser("root", password="Strong-Passw0rd-2026")
    worker = make_user("grid_worker", tree.village_a1a1)
    make_token(worker)
    token = ApiToken.objects.get(user=worker)
    client.force_login(root)
    page = client.get(reverse("admin:accounts_user_change", args=[worker.pk])).content.decode()
    assert worker.username in page and worker.password not in page
    assert 'name="password"' not in page  # the hash is not an editable field
    page = client.get(reverse("admin:accounts_apitoken_change", args=[token.pk])).content.decode()
    assert token.prefix in page and token.key_hash not in page
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 403
    assert client.get(reverse("admin:accounts_roleassignment_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200
