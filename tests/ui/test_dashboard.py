"""The dashboard end to end: headless Debian Chromium against the running demo plant.

Every page here may reach only the demo's origin (``page.route`` aborts anything else and the test
fails if something tried) and must log no console error. Screenshots go to the ``shots`` folder.
"""

from __future__ import annotations

import base64
import re
import time

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import TOKEN, RunningDemo, Watched, open_page
from twinbridge.analytics.alarms import AlarmRule, Severity

BASE = "https://example.com/twinbridge/"
FILLER = f"{BASE}aas/DemoPlant/Line1/Cell1/Filler1"
FILLER_DATA = f"{BASE}sm/DemoPlant/Line1/Cell1/Filler1/OperationalData"
CURRENT = "Segments.LiveValues.Records.Current"


def _b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def _asset(demo: RunningDemo, shell_id: str = FILLER) -> str:
    return f"{demo.origin}/ui#/asset/{_b64(shell_id)}"


def _sign_in(page: Page) -> None:
    page.get_by_role("button", name="Sign in to write").click()
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Use token").click()
    expect(page.get_by_text("Token set")).to_be_visible()


def _points(page: Page, at_least: int, timeout: float = 15.0) -> None:
    """The first trend chart holds ``at_least`` points (polled from here: the page's CSP forbids
    the string evaluation ``page.wait_for_function`` polls with)."""
    chart = page.locator("figure.trend").first
    _until(lambda: int(chart.get_attribute("data-points") or 0) >= at_least, timeout, f"{at_least} points on the chart")


def _until(probe: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def test_the_tree_shows_the_demo_plant_with_status_kpis_search_and_keys(
        watched: Watched, demo: RunningDemo, shots: object) -> None:
    page = watched.page
    page.goto(demo.origin + "/")
    rows = page.locator("[role=treeitem]")
    expect(rows.first).to_contain_text("DemoPlant")
    names = page.locator("[role=treeitem] .name").all_inner_texts()
    assert names[:4] == ["DemoPlant", "Line1", "Cell1", "Filler1"]
    assert {"Line2", "Cell3", "Palletizer1", "Wrapper1", "Conveyor1"} <= set(names)
    plant = page.locator(f'[data-id="{BASE}aas/DemoPlant"]')
    expect(plant.locator("[data-kpi=TotalPower]")).to_have_text(re.compile(r"^[1-9][\d,]*(\.\d+)?$"))
    worst = {row.get_attribute("data-id"): row.get_attribute("data-worst") for row in rows.all()}
    rank = ["NoLiveData", "Good", "Uncertain", "Bad"]
    assert rank.index(worst[f"{BASE}aas/DemoPlant"]) == max(rank.index(status) for status in worst.values())
    page.screenshot(path=f"{shots}/plant.png")

    tree = page.get_by_role("tree")
    tree.focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator("[role=treeitem][aria-selected=true]")).to_contain_text("Line1")
    page.keyboard.press("ArrowLeft")  # Line1 is open: closes it
    expect(page.locator(f'[data-id="{BASE}aas/DemoPlant/Line1"]')).to_have_attribute("aria-expanded", "false")
    expect(page.locator(f'[data-id="{BASE}aas/DemoPlant/Line1/Cell1"]')).to_have_count(0)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator("[role=treeitem][aria-selected=true]")).to_contain_text("Cell1")

    page.get_by_label("Search idShort or semanticId").fill("0173-1#02-AAV232")  # Temperature's ECLASS IRDI
    expect(page.get_by_text(re.compile(r"^\d+ matching shells?$"))).to_be_visible()
    found = page.locator("[role=treeitem].matched .name").all_inner_texts()
    assert {"Filler1", "Filler1Motor", "Palletizer1Robot"} <= set(found)
    page.get_by_label("Search idShort or semanticId").fill("Wrapper")
    expect(page.locator("[role=treeitem].matched .name")).to_have_text(["Wrapper1"])
    page.screenshot(path=f"{shots}/plant-search.png")
    expect(page.locator("[role=treeitem][aria-selected=true]")).to_contain_text("Wrapper1")  # focus follows
    page.get_by_role("tree").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Wrapper1")


def test_a_live_value_changes_on_screen_within_two_seconds(watched: Watched, demo: RunningDemo) -> None:
    page = watched.page
    page.goto(_asset(demo))
    row = page.locator(f'tr[data-path="{CURRENT}.Power"]')
    value = row.locator(".live-value")
    expect(value).to_have_attribute("data-value", re.compile(r"^\d"))
    expect(row).to_contain_text("Good")
    expect(row.locator("time")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d\.\d{3}$"))
    expect(page.get_by_text("● streaming")).to_be_visible()
    before = value.get_attribute("data-value")
    expect(value).not_to_have_attribute("data-value", before or "", timeout=2000)


def test_a_setpoint_is_refused_without_a_token_and_reaches_the_device_with_one(
        watched: Watched, demo: RunningDemo, shots: object) -> None:
    watched.expect_refusal(401)
    page = watched.page
    page.goto(_asset(demo))
    row = page.locator(f'tr[data-path="{CURRENT}.SpeedSetpoint"]')
    row.get_by_label("New value of SpeedSetpoint").fill("1234")
    row.get_by_role("button", name="Set").click()
    refusal = row.get_by_role("alert")
    expect(refusal).to_contain_text("Refused (401): this request needs a bearer token with the write role")
    page.screenshot(path=f"{shots}/asset-refused.png")
    assert demo.call(lambda: demo.devices().modbus.value("machine1.speed_setpoint")) != 1234  # type: ignore[union-attr]

    _sign_in(page)
    row.get_by_label("New value of SpeedSetpoint").fill("1234")
    row.get_by_role("button", name="Set").click()
    expect(row.get_by_role("status")).to_contain_text("the device accepted it")
    _until(lambda: demo.call(lambda: demo.devices().modbus.value("machine1.speed_setpoint")) == 1234,  # type: ignore[union-attr]
           10, "the Modbus simulator's holding register holds 1234")
    expect(row.locator(".live-value")).to_have_attribute("data-value", "1234")
    page.screenshot(path=f"{shots}/asset-written.png", full_page=True)


def test_a_trend_chart_shows_the_history_and_follows_ranges_and_zoom(
        watched: Watched, demo: RunningDemo, shots: object) -> None:
    url = f"{demo.origin}/api/v3.0/history/submodels/{_b64(FILLER_DATA)}/submodel-elements/{CURRENT}.Power"

    def recorded() -> int:
        return len(httpx.get(url, params={"limit": 1000}, timeout=10).json()["result"])

    _until(lambda: recorded() >= 60, 90, "the history holds 60 points of Filler1's power")
    page = watched.page
    page.goto(_asset(demo))
    trend = page.locator(f'figure.trend[data-path="{CURRENT}.Power"]')
    expect(trend.locator("canvas")).to_have_count(1)
    _points(page, 50)
    page.screenshot(path=f"{shots}/asset-trend.png", full_page=True)
    points = int(trend.get_attribute("data-points") or 0)
    trend.get_by_role("button", name="5 min", exact=True).click()
    expect(trend.get_by_role("button", name="5 min", exact=True)).to_have_attribute("aria-pressed", "true")
    _points(page, 50)
    trend.get_by_role("button", name="1 h", exact=True).click()  # beyond 15 min: buckets with avg, min and max
    expect(trend).to_contain_text("buckets")
    trend.get_by_role("button", name="15 min", exact=True).click()
    _points(page, points)
    trend.get_by_role("button", name="Zoom in on Power").click()
    trend.get_by_role("button", name="Reset zoom").click()
    page.get_by_label("Show the trend of Temperature").check()
    expect(page.locator("figure.trend")).to_have_count(2)


def test_alarms_are_listed_and_acknowledged_with_the_refusal_shown(
        watched: Watched, demo: RunningDemo, shots: object) -> None:
    analytics = demo.application.analytics
    assert analytics is not None
    book = analytics.alarms

    def raise_alarm() -> None:
        book.watch("DashboardTest", AlarmRule("overheat", 80.0, 70.0, severity=Severity.HIGH, message="bearing hot"))
        book.observe("DashboardTest", "overheat", 93.5, time.time())

    demo.call(raise_alarm)
    watched.expect_refusal(401)
    page = watched.page
    page.goto(f"{demo.origin}/ui#/alarms")
    row = page.locator("tr[data-alarm]", has_text="DashboardTest")
    expect(row).to_contain_text("bearing hot")
    expect(row).to_have_attribute("data-state", "active")
    row.get_by_role("button", name="Acknowledge").click()
    expect(row.get_by_role("alert")).to_contain_text("needs a bearer token")
    _sign_in(page)
    row.get_by_role("button", name="Acknowledge").click()
    expect(row).to_contain_text("by admin")
    page.screenshot(path=f"{shots}/alarms.png")


def test_a_what_if_scenario_shows_kpis_with_intervals_beside_the_baseline(
        watched: Watched, demo: RunningDemo, shots: object) -> None:
    page = watched.page
    page.goto(f"{demo.origin}/ui#/whatif")
    _sign_in(page)
    page.get_by_label("Line").select_option("Line1")
    page.get_by_label("Horizon (h)").fill("24")
    page.get_by_label("Replications").fill("2")
    page.get_by_role("button", name="Add a change").click()
    page.locator(".change").get_by_role("combobox").select_option("Labeller1")
    page.get_by_label("Speed factor").fill("1.2")
    page.get_by_role("button", name="Run scenario").click()
    table = page.get_by_role("region", name="KPIs of Line1")
    expect(table).to_be_visible(timeout=120_000)
    throughput = table.locator("tr[data-kpi=throughput_per_h] td.num")
    expect(throughput).to_have_count(3)
    assert all("±" in text for text in throughput.all_inner_texts())
    expect(table.locator("tr[data-kpi=throughput_per_h] svg.ci")).to_have_count(1)
    page.screenshot(path=f"{shots}/what-if.png", full_page=True)


def test_every_view_loads_completely_with_non_local_requests_blocked(watched: Watched, demo: RunningDemo) -> None:
    page = watched.page
    page.goto(demo.origin + "/")
    expect(page.locator("[role=treeitem]").first).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor") == "rgb(20, 33, 61)"
    page.goto(_asset(demo))
    expect(page.locator("figure.trend canvas")).to_have_count(1)
    expect(page.get_by_role("region", name="Nameplate")).to_contain_text("Krones")
    page.goto(f"{demo.origin}/ui#/alarms")
    expect(page.get_by_role("heading", name="Alarms")).to_be_visible()
    page.goto(f"{demo.origin}/ui#/whatif")
    expect(page.get_by_role("button", name="Run scenario")).to_be_visible()
    assert watched.requested and all(url.startswith(demo.origin + "/") for url in watched.requested)


def test_a_narrow_window_keeps_the_views_usable(browser: Browser, demo: RunningDemo, shots: object) -> None:
    watched = open_page(browser, demo, width=380, height=800)
    page = watched.page
    try:
        for url, ready in ((demo.origin + "/", "[role=treeitem]"), (_asset(demo), "table.live"),
                           (f"{demo.origin}/ui#/whatif", "form.scenario")):
            page.goto(url)
            expect(page.locator(ready).first).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url
        page.screenshot(path=f"{shots}/narrow-what-if.png")
        page.goto(demo.origin + "/")
        expect(page.locator("[role=treeitem]").first).to_be_visible()
        page.screenshot(path=f"{shots}/narrow-plant.png")
    finally:
        page.context.close()
    assert watched.unexpected_errors() == [] and watched.leaving == []
