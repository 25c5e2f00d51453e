"""A real browser (Playwright driving Debian's chromium) logs in as two users of sibling villages.

Install the browser with ``apt-get install chromium``; without /usr/bin/chromium these tests are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shanzhi.testing import factories

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's chromium at /usr/bin/chromium: apt-get install chromium"),
]


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _login(browser: Any, base: str, username: str) -> Any:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    page.goto(f"{base}/")
    assert "/accounts/login/" in page.url  # the home page needs a login
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")
    return page


def test_two_village_users_each_see_only_their_own(live_server: Any, browser: Any) -> None:
    tree = factories.build_tree()
    one = factories.make_user("village_admin", tree.village_a1a1, username="admin_one")
    two = factories.make_user("village_admin", tree.village_a1a2, username="admin_two")
    names = {one: factories.NAMES[tree.village_a1a1], two: factories.NAMES[tree.village_a1a2]}
    codes = {one: tree.village_a1a1, two: tree.village_a1a2}

    for user, other in ((one, two), (two, one)):
        page = _login(browser, live_server.url, user.username)
        assert page.get_by_test_id("whoami").inner_text() == user.username
        roles = page.get_by_test_id("my-roles").inner_text()
        assert names[user] in roles and codes[user] in roles
        assert page.get_by_test_id("topbar-regions").inner_text() == names[user]
        region = page.get_by_test_id("my-region")
        assert region.get_attribute("data-region") == codes[user]
        body = page.locator("body").inner_text()
        assert names[other] not in body and codes[other] not in body
        assert "我的角色" in body  # zh-Hans is the default language
        # htmx and the stylesheet are served by the app itself (no CDN)
        assert page.evaluate("typeof window.htmx") == "object"
        page.context.close()


def test_switching_to_english(live_server: Any, browser: Any) -> None:
    tree = factories.build_tree()
    user = factories.make_user("town_admin", tree.town_a1a, username="town_one")
    page = _login(browser, live_server.url, user.username)
    assert "我的角色" in page.locator("body").inner_text()
    with page.expect_navigation():
        page.get_by_test_id("language").select_option("en")
    body = page.locator("body").inner_text()
    assert "My roles" in body and "Log out" in body and "town administrator" in body
    assert "我的角色" not in body
    # the choice sticks on the next page load
    page.goto(f"{live_server.url}/")
    assert "My roles" in page.locator("body").inner_text()
    page.context.close()


def test_wrong_password_is_refused(live_server: Any, browser: Any) -> None:
    factories.build_tree()
    factories.make_user("village_admin", "330902008201", username="admin_three")
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "admin_three")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit].primary")
    assert "/accounts/login/" in page.url
    assert page.get_by_role("alert").is_visible()
    page.close()
