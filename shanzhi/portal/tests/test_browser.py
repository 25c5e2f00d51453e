"""A real browser: a resident logs in with phone + code (LocMemSender), reports a problem, sees it listed.

Needs Debian's chromium at /usr/bin/chromium (``apt-get install chromium``); skipped otherwise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shanzhi.people.tests.helpers import make_resident
from shanzhi.portal.sms import LocMemSender
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


def test_resident_logs_in_with_a_code_reports_and_follows(live_server: Any, browser: Any) -> None:
    tree = factories.build_tree()
    # an earlier transactional test may have flushed the categories the migration seeds
    from shanzhi.events.models import Category
    from shanzhi.events.seed import seed_categories
    from shanzhi.regions.models import DepartmentType

    seed_categories(Category, DepartmentType)
    make_resident(tree.village_a1a1, phone="13955550001", name="浏览器居民")
    base = live_server.url
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/portal/{tree.village_a1a1}/")
    assert "测试一村" in page.inner_text("[data-testid=village-name]")
    page.click("[data-testid=portal-login]")
    page.fill("input[name=phone]", "13955550001")
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/portal/login/code/")
    code = re.search(r"\d{6}", LocMemSender.outbox[-1][1])
    assert code and LocMemSender.outbox[-1][0] == "13955550001"
    page.fill("input[name=code]", code.group(0))
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/portal/me/")
    page.click("[data-testid=report-link]")
    page.fill("input[name=title]", "村口路灯不亮")
    page.fill("textarea[name=description]", "晚上很黑")
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r".*/portal/me/reports/\d+/$"))
    assert "村口路灯不亮" in page.content()
    page.goto(f"{base}/portal/me/reports/")
    rows = page.locator("[data-testid=my-report]")
    assert rows.count() == 1 and "村口路灯不亮" in rows.first.inner_text()
    context.close()
