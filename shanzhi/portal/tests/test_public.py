"""Public pages: no login, no residents' data, small enough for a cheap phone, readable without JavaScript."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from shanzhi.portal.models import GridContact
from shanzhi.testing import factories

from . import helpers

pytestmark = pytest.mark.django_db

LIMIT = 200 * 1024


def _weight(answer: Any) -> int:
    """The page plus every stylesheet and script it loads (images are not used on these pages)."""
    html = answer.content.decode()
    total = len(answer.content)
    for ref in set(re.findall(r'(?:href|src)="/static/([^"?]+)', html)):
        path = finders.find(ref)
        assert path, ref
        total += Path(str(path)).stat().st_size
    return total


def _seed(tree: factories.Tree) -> dict[str, Any]:
    grid = tree.grids[tree.village_a1a1]
    leader = factories.make_user("grid_worker", tree.village_a1a1, display_name="网格长老王")
    grid.leader = leader
    grid.save()
    GridContact.objects.create(grid=grid, duty_phone="0580-6666666", region_code=tree.village_a1a1)
    resident, user = helpers.resident_user(tree.village_a1a1, name="隐私居民", address="秘密路1号")
    helpers.report(user, title="居民的私事")
    for i in range(30):
        helpers.notice(tree.village_a1a1, title=f"公告{i:02d}")
    return {"resident": resident}


def test_village_page_shows_public_contacts_and_no_personal_data(tree: factories.Tree) -> None:
    seed = _seed(tree)
    answer = Client().get(reverse("portal:village", args=[tree.village_a1a1]))
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "测试一村" in page and "网格长老王" in page and "0580-6666666" in page
    assert "公告29" in page and "公告00" not in page  # only the recent notices
    resident = seed["resident"]
    for secret in (resident.name, resident.phone, resident.id_number, "秘密路1号", "居民的私事"):
        assert secret not in page
    assert "<script" not in re.sub(r'<script src="[^"]+" defer></script>', "", page)  # only the deferred htmx


def test_every_public_page_is_under_200_kb(tree: factories.Tree) -> None:
    _seed(tree)
    client = Client()
    notice = helpers.notice(tree.village_a1a1, title="大公告")
    urls = [reverse("portal:index"), reverse("portal:index") + "?q=测试",
            reverse("portal:village", args=[tree.village_a1a1]),
            reverse("portal:village_search", args=[tree.village_a1a1]) + "?q=公告",
            reverse("portal:notice", args=[tree.village_a1a1, notice.pk]),
            reverse("portal:login"), reverse("portal:login_password")]
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert _weight(answer) < LIMIT, url
    _r, user = helpers.resident_user(tree.village_a1a1)
    for i in range(25):
        helpers.report(user, title=f"报告{i}")
    client.force_login(user)
    for name in ("portal:me", "portal:my_reports", "portal:report_new", "portal:my_data", "portal:my_corrections"):
        answer = client.get(reverse(name))
        assert answer.status_code == 200 and _weight(answer) < LIMIT, name


def test_index_search_and_town_listing(tree: factories.Tree) -> None:
    client = Client()
    page = client.get(reverse("portal:index")).content.decode()
    assert "测试一村" in page and "马岙街道" in page
    page = client.get(reverse("portal:index"), {"q": "测试二"}).content.decode()
    assert "测试二村" in page and "测试一村" not in page
    page = client.get(reverse("portal:index"), {"q": "金塘"}).content.decode()  # by town
    assert "测试三村" in page and "测试一村" not in page


def test_village_search_and_unknown_village(tree: factories.Tree) -> None:
    helpers.notice(tree.village_a1a1, title="秋收通知")
    helpers.notice(tree.village_a1a2, title="别村通知")
    client = Client()
    page = client.get(reverse("portal:village_search", args=[tree.village_a1a1]), {"q": "通知"}).content.decode()
    assert "秋收通知" in page and "别村通知" not in page
    assert client.get(reverse("portal:village", args=["330902008999"])).status_code == 404
    assert client.get(reverse("portal:village", args=[tree.town_a1a])).status_code == 404  # not a village
    other = helpers.notice(tree.village_a1a2)
    assert client.get(reverse("portal:notice", args=[tree.village_a1a1, other.pk])).status_code == 404


def test_print_stylesheet_hides_navigation(tree: factories.Tree) -> None:
    page = Client().get(reverse("portal:village", args=[tree.village_a1a1])).content.decode()
    assert "@media print" in page


def test_affairs_hooks_are_used_when_present(tree: factories.Tree, monkeypatch: Any) -> None:
    module = types.ModuleType("shanzhi.affairs.portal_links")
    module.links = lambda code: [("三务公开", f"/affairs/public/{code}/")]  # type: ignore[attr-defined]
    module.open_votes = lambda user: [("修路方案表决", "/affairs/votes/1/")]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shanzhi.affairs.portal_links", module)
    client = Client()
    page = client.get(reverse("portal:village", args=[tree.village_a1a1])).content.decode()
    assert f"/affairs/public/{tree.village_a1a1}/" in page and "三务公开" in page
    page = client.get(reverse("portal:village_search", args=[tree.village_a1a1]), {"q": "三务"}).content.decode()
    assert "三务公开" in page
    _r, user = helpers.resident_user(tree.village_a1a1)
    client.force_login(user)
    page = client.get(reverse("portal:me")).content.decode()
    assert "修路方案表决" in page
    monkeypatch.delitem(sys.modules, "shanzhi.affairs.portal_links")
