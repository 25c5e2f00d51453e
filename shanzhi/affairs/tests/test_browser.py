"""A real browser walks a decision from proposal to the published implementation result through the pages.

Publication periods are shortened to zero for the walk (``settings.SHANZHI_AFFAIRS``); the periods
themselves are tested in test_procedure.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shanzhi.affairs.models import Decision, Meeting
from shanzhi.testing import factories

from . import helpers

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
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")
    return page


def _step(page: Any, action: str, meeting: str = "", opinion: str = "") -> None:
    page.get_by_test_id("step-action").select_option(action)
    if meeting:
        page.get_by_test_id("step-meeting").select_option(str(Meeting.objects.get(title=meeting).pk))
    if opinion:
        page.get_by_test_id("step-opinion").fill(opinion)
    with page.expect_navigation():
        page.get_by_test_id("step-form").locator("button[type=submit]").click()


def _meeting(page: Any, base: str, kind: str, title: str, decision: Decision) -> None:
    page.goto(f"{base}/affairs/meetings/")
    form = page.get_by_test_id("meeting-form")
    form.locator("input[name=title]").fill(title)
    form.locator("select[name=kind]").select_option(kind)
    now = dt.datetime.now()
    form.locator("input[name=notice_at]").fill((now - dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=held_at]").fill((now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    form.locator("select[name=decisions]").select_option(str(decision.pk))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    boxes = page.get_by_test_id("roster-check")
    for i in range(boxes.count()):
        boxes.nth(i).check()
    with page.expect_navigation():
        page.get_by_test_id("sign-in").click()
    present = boxes.count()  # all signed in: no boxes left
    assert present == 0
    page.get_by_test_id("tally-for").fill(str(len(page.locator("ul.roster li").all())))
    with page.expect_navigation():
        page.get_by_test_id("tally-save").click()
    page.get_by_test_id("minutes").fill("会议纪要：一致同意。")
    page.get_by_test_id("signatures").fill("主持人\n记录人")
    with page.expect_navigation():
        page.get_by_test_id("close-meeting").click()
    assert "通过" in page.get_by_test_id("result").inner_text()


def test_walk_a_decision_through_the_pages(live_server: Any, browser: Any, settings: Any) -> None:
    settings.SHANZHI_AFFAIRS = {"plan_publish_days": 0, "result_publish_days": 0}
    tree = factories.build_tree()
    code = tree.village_a1a1
    helpers.people(code)
    factories.make_user("village_cadre", code, username="cadre_one")
    base = live_server.url
    page = _login(browser, base, "cadre_one")

    page.goto(f"{base}/affairs/")
    form = page.get_by_test_id("decision-form")
    form.locator("input[name=title]").fill("村道硬化工程")
    form.locator("select[name=matter_type]").select_option("project")
    form.locator("input[name=amount]").fill("650000")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    decision = Decision.objects.get(title="村道硬化工程")
    detail = f"{base}/affairs/decisions/{decision.pk}/"
    assert page.url == detail

    _step(page, "branch_propose")
    assert page.get_by_test_id("stage").inner_text() == "村党组织提议"

    for kind, action, title in [("joint", "joint_deliberate", "联席会议"),
                                ("party_assembly", "assembly_review", "党员大会"),
                                ("representatives", "villagers_resolve", "村民代表会议")]:
        _meeting(page, base, kind, title, decision)
        page.goto(detail)
        _step(page, action, meeting=title)
    assert page.get_by_test_id("stage").inner_text() == "村民（代表）会议决议"
    _step(page, "publish_result")
    _step(page, "implement")
    _step(page, "publish_implementation", opinion="道路已硬化完成，验收合格。")
    assert page.get_by_test_id("stage").inner_text() == "实施结果公开"
    decision.refresh_from_db()
    assert decision.stage == "implementation_published"

    # the public page (no login) shows the stage and a code that verifies
    public = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    public.goto(f"{base}/affairs/public/{code}/decisions/{decision.pk}/")
    assert public.get_by_test_id("public-stage").inner_text() == "实施结果公开"
    codes = public.get_by_test_id("public-code")
    assert codes.count() == 3  # plan, result, implementation
    codes.last.click()
    public.wait_for_load_state()
    assert "核验通过" in public.get_by_test_id("verify-result").inner_text()
    public.context.close()
    page.context.close()
