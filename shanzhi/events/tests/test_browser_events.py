"""A real phone browser: a grid worker reports an event through the mobile form (location from the phone), a
village dispatcher accepts and dispatches it on the event page.  Skipped without /usr/bin/chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shanzhi.events.models import Category, Event, Status
from shanzhi.events.seed import seed_categories
from shanzhi.regions.models import DepartmentType
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


def _login(browser: Any, base: str, username: str, **context: Any) -> Any:
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, **context)
    page = ctx.new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")
    return page


def test_grid_worker_reports_and_dispatcher_dispatches(live_server: Any, browser: Any, settings: Any,
                                                       tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    # earlier transactional tests flush the categories the migration seeded: put them back
    seed_categories(Category, DepartmentType)
    tree = factories.build_tree()
    village = tree.village_a1a1
    worker = factories.make_user("grid_worker", village, username="gw_phone")
    tree.grids[village].members.add(worker)
    factories.make_user("dispatcher", village, username="desk_one")
    handler = factories.make_user("handler", village, username="handler_one")

    # the grid worker, on a phone that knows where it is
    page = _login(browser, live_server.url, worker.username,
                  geolocation={"latitude": 30.0123, "longitude": 122.1065}, permissions=["geolocation"])
    page.goto(f"{live_server.url}/events/report/")
    page.wait_for_function("document.querySelector('[name=lat]').value !== ''")
    page.select_option("select[name=category]", "exposed_garbage")
    page.fill("input[name=title]", "桥头垃圾堆放")
    page.fill("textarea[name=description]", "桥头东侧有生活垃圾")
    assert page.locator("select[name=grid]").input_value() == str(tree.grids[village].pk)
    page.get_by_test_id("report-submit").click()
    page.wait_for_url("**/events/*/?new=1")
    event = Event.objects.get()
    assert event.title == "桥头垃圾堆放" and event.grid_id == tree.grids[village].pk
    assert event.lat == pytest.approx(30.0123) and event.lng == pytest.approx(122.1065)
    assert page.get_by_test_id("event-status").get_attribute("data-status") == "reported"
    assert page.get_by_test_id("no-actions").is_visible()
    page.context.close()

    # the village dispatcher accepts and dispatches it to the handler
    page = _login(browser, live_server.url, "desk_one")
    page.goto(f"{live_server.url}/events/?queue=centre")
    page.get_by_role("link", name="桥头垃圾堆放").click()
    page.get_by_test_id("action-accept").click()
    page.get_by_test_id("submit-accept").click()
    page.wait_for_selector("[data-testid=event-status][data-status=accepted]")
    assert page.url.endswith(f"/events/{event.pk}/")  # swapped in place by htmx, no full page load
    page.get_by_test_id("action-dispatch").click()
    # neither a handler nor a department: the service refuses, the reason shows in the form (swapped in from
    # the 422 answer) and nothing changes
    page.get_by_test_id("submit-dispatch").click()
    page.wait_for_selector("text=请选择处置人或部门")
    assert Event.objects.get(pk=event.pk).status == Status.ACCEPTED
    page.select_option("select[name=dispatch-assignee_id]", str(handler.pk))
    page.fill("textarea[name=dispatch-opinion]", "请尽快清理")
    page.get_by_test_id("submit-dispatch").click()
    page.wait_for_selector("[data-testid=event-status][data-status=dispatched]")
    assert page.get_by_test_id("event-assignee").inner_text() == "handler_one"
    timeline = page.get_by_test_id("timeline").inner_text()
    assert "受理" in timeline and "派遣" in timeline and "请尽快清理" in timeline
    page.context.close()
    event.refresh_from_db()
    assert event.status == Status.DISPATCHED and event.assignee_id == handler.pk


def test_statistics_page_draws_its_charts_and_map(live_server: Any, browser: Any) -> None:
    from shanzhi.events.services import Intake, event_create

    seed_categories(Category, DepartmentType)
    tree = factories.build_tree()
    worker = factories.make_user("grid_worker", tree.village_a1a1)
    event_create(actor=worker, data=Intake(title="统计用事件", category="exposed_garbage",
                                           region_code=tree.village_a1a1, lat=30.01, lng=122.1))
    factories.make_user("dispatcher", tree.town_a1a, username="town_desk")
    page = _login(browser, live_server.url, "town_desk")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/events/stats/")
    for chart in ("chart-trend", "chart-category", "chart-source", "chart-ranking"):
        page.wait_for_selector(f"#{chart} canvas")
    page.wait_for_selector("#stats-map path.leaflet-interactive")  # the event's marker
    assert "小事不出村" in page.locator("body").inner_text()
    page.get_by_role("link", name="测试一村").first.click()
    page.wait_for_url(f"**region={tree.village_a1a1}**")
    assert errors == []
    page.context.close()
