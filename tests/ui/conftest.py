"""The demo plant running in a thread of its own (simulated Modbus and MQTT devices, analytics,
history) and Debian's Chromium driven by Playwright, for the dashboard's end-to-end tests.

The demo gets its own event loop in a background thread because Playwright's sync API refuses to
run inside one; the tests reach into the demo (the Modbus simulator's registers, the alarm book)
through ``RunningDemo.call``, on the demo's loop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

from tests.peers import missing_peer
from tests.ports import free_port
from tests.serving import serving
from twinbridge.server.application import Application, Options
from twinbridge.server.cli import EXAMPLE_PLANT
from twinbridge.server.config import load_plant_file
from twinbridge.server.demo import DemoDevices

CHROMIUM = "/usr/bin/chromium"
TOKEN = "dashboard-test-token-" + "x" * 16
T = TypeVar("T")


@dataclass
class RunningDemo:
    origin: str
    """``http://127.0.0.1:<port>``: the dashboard is at ``/``, the API under ``/api/v3.0``."""
    application: Application
    loop: asyncio.AbstractEventLoop

    def call(self, work: Callable[[], T], timeout: float = 10.0) -> T:
        """``work()`` on the demo's event loop (its objects are not thread-safe)."""
        async def run() -> T:
            return work()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def await_(self, work: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        async def run() -> T:
            return await work()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def devices(self) -> DemoDevices:
        return next(s for s in self.application.services if isinstance(s, DemoDevices))


@dataclass
class _Thread:
    started: threading.Event = field(default_factory=threading.Event)
    demo: RunningDemo | None = None
    failure: BaseException | None = None
    stop: asyncio.Event | None = None


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    plant_file = load_plant_file(EXAMPLE_PLANT)
    ports: list[int] = []
    while len(ports) < 3:  # distinct: the kernel may hand the same free port out twice
        port = free_port()
        if port not in ports:
            ports.append(port)
    modbus = plant_file.southbound.sources[0]
    plant_file = plant_file.with_sources({modbus.name: modbus.model_copy(update={"port": ports[0]})})
    options = Options(host="127.0.0.1", port=ports[1], data=tmp_path_factory.mktemp("demo"), token=TOKEN,
                      opcua=False, demo=True, mqtt_port=ports[2])
    state = _Thread()

    async def main() -> None:
        state.stop = asyncio.Event()
        async with serving(Application(plant_file, options)) as application:
            state.demo = RunningDemo(f"http://127.0.0.1:{options.port}", application, asyncio.get_running_loop())
            state.started.set()
            await state.stop.wait()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:
            state.failure = error
        finally:
            state.started.set()

    thread = threading.Thread(target=run, name="dashboard-demo", daemon=True)
    thread.start()
    state.started.wait(120)
    if state.demo is None:
        raise RuntimeError(f"the demo did not start: {state.failure!r}")
    yield state.demo
    stop = state.stop
    assert stop is not None
    state.demo.loop.call_soon_threadsafe(stop.set)
    thread.join(60)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        missing_peer("Debian chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests leave screenshots: ``$TWINBRIDGE_UI_SCREENSHOTS`` or a pytest temp folder."""
    chosen = os.environ.get("TWINBRIDGE_UI_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("dashboard-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Watched:
    """A page whose requests leave only to the demo, with every console error and refused request kept."""

    page: Page
    errors: list[str] = field(default_factory=list)
    leaving: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    refusals: set[int] = field(default_factory=set)
    """HTTP statuses a test provokes on purpose: Chromium logs every failed response as a console
    error ("Failed to load resource: ... 401"), however the page handles it."""

    def expect_refusal(self, status: int) -> None:
        self.refusals.add(status)

    def unexpected_errors(self) -> list[str]:
        allowed = tuple(f"the server responded with a status of {status} " for status in self.refusals)
        return [error for error in self.errors if not any(text in error for text in allowed)]


def open_page(browser: Browser, demo: RunningDemo, width: int = 1280, height: int = 900) -> Watched:
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    watched = Watched(page)

    def only_local(route: Route) -> None:
        url = route.request.url
        watched.requested.append(url)
        if url.startswith(demo.origin + "/"):
            route.continue_()
        else:
            watched.leaving.append(url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    page.route("**/*", only_local)
    page.on("console", console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    return watched


@pytest.fixture
def watched(browser: Browser, demo: RunningDemo) -> Iterator[Watched]:
    """A desktop-sized page; the test fails if the page logged an error or tried to leave the machine."""
    watched = open_page(browser, demo)
    yield watched
    watched.page.context.close()
    assert watched.unexpected_errors() == []
    assert watched.leaving == []
