"""Dashboard figures measured in the browser (Debian ``chromium`` driven by Playwright).

    .venv/bin/python bench/bench_ui.py [--runs 5] [--machines 1000] [--components 5] [--skip-large]

1. The demo plant (``twinbridge demo``): the first view with an empty cache -- bytes transferred
   (compressed, as on the wire, headers included, from the browser's Resource Timing; the event
   stream is left out, it never ends) and the time from navigation start until the tree is on
   screen ("usable") and until the roll-up KPIs are filled; then the same page reloaded with a
   warm cache. Baseline measured in the same run: the offline Swagger UI (``/api/v3.0/docs``), the
   only page twinbridge served before the dashboard.
2. A 6,000-shell plant (``bench_plant``'s 1,000 machines × 5 components, ``twinbridge serve``,
   no devices): ``GET /hierarchy`` time and size, the first view, a search, and the frame
   intervals while the virtualised tree is scrolled from top to bottom (p50/p99, rows in the DOM).

Medians over ``--runs``; the machine's load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import yaml
from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).parent))
from bench_plant import description  # a sibling script, not a package

ROOT = Path(__file__).resolve().parent.parent
TWINBRIDGE = ROOT / ".venv" / "bin" / "twinbridge"
CHROMIUM = "/usr/bin/chromium"

MARKS = """
window.__marks = {};
new MutationObserver(() => {
  if (!window.__marks.tree && document.querySelector('[role=treeitem]')) window.__marks.tree = performance.now();
  if (!window.__marks.kpi && document.querySelector('[data-kpi]')) window.__marks.kpi = performance.now();
}).observe(document, { subtree: true, childList: true });
"""

WEIGHT = """() => {
  const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
    .filter((entry) => !entry.name.includes('/events'));
  return { transferred: entries.reduce((sum, e) => sum + e.transferSize, 0),
           decoded: entries.reduce((sum, e) => sum + e.decodedBodySize, 0), requests: entries.length };
}"""

SCROLL = """async () => {
  const tree = document.querySelector('[role=tree]');
  const frames = [];
  let last = performance.now();
  while (tree.scrollTop + tree.clientHeight < tree.scrollHeight - 1) {
    tree.scrollTop += 400;
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const now = performance.now();
    frames.push(now - last);
    last = now;
  }
  return { frames, rows: document.querySelectorAll('[role=treeitem]').length, total: Number(tree.dataset.rows) };
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(args: list[str], timeout: float) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([str(TWINBRIDGE), *args, "--memory", "--no-opcua", "--port", str(port)],
                                   cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield _started(process, f"http://127.0.0.1:{port}", log, args[0], timeout)
        finally:
            # SIGTERM, then SIGKILL: a demo that ran for minutes was seen not to stop on SIGTERM (not ours to fix here)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _started(process: subprocess.Popen[bytes], origin: str, log: IO[bytes], command: str, timeout: float) -> str:
    """``origin`` once the server answers ``/hierarchy``; the server's log in the error otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{origin}/api/v3.0/hierarchy", timeout=30).status_code == 200:
                return origin
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"twinbridge {command} did not start:\n{log.read().decode()[-2000:]}")
        time.sleep(0.5)


def first_view(browser: Browser, url: str, ready: str) -> dict[str, Any]:
    """One cold load and one warm reload in a fresh context; times in ms from navigation start."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.add_init_script(MARKS)
    figures: dict[str, Any] = {}
    for kind in ("cold", "warm"):
        if kind == "cold":
            page.goto(url)
        else:
            page.reload()
        page.locator(ready).first.wait_for(timeout=60_000)
        if "treeitem" in ready:
            page.locator("[data-kpi]").first.wait_for(timeout=60_000)
        marks = page.evaluate("() => window.__marks")
        nav = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
        figures[kind] = {**page.evaluate(WEIGHT), "usable_ms": marks.get("tree"), "kpis_ms": marks.get("kpi"),
                         "load_ms": nav["loadEventEnd"], "ready_ms": page.evaluate("() => performance.now()")}
    context.close()
    return figures


def median(runs: list[dict[str, Any]], kind: str, key: str) -> float:
    values = [run[kind][key] for run in runs if run[kind].get(key) is not None]
    return statistics.median(values) if values else float("nan")


def demo_figures(browser: Browser, runs: int) -> None:
    with server(["demo", "--mqtt-port", str(free_port())], timeout=120) as origin:
        time.sleep(5)  # live values flowing, roll-ups computed
        dashboard = [first_view(browser, f"{origin}/", "[role=treeitem]") for _ in range(runs)]
        docs = [first_view(browser, f"{origin}/api/v3.0/docs", ".opblock") for _ in range(runs)]
    print(f"demo plant, first view, median of {runs} (load average {os.getloadavg()[0]:.1f}):")
    for kind in ("cold", "warm"):
        weight = median(dashboard, kind, "transferred")
        print(f"  dashboard {kind}: {weight / 1024:.1f} KiB transferred in {median(dashboard, kind, 'requests'):.0f} "
              f"requests ({median(dashboard, kind, 'decoded') / 1024:.1f} KiB decoded); tree usable "
              f"{median(dashboard, kind, 'usable_ms'):.0f} ms, KPIs {median(dashboard, kind, 'kpis_ms'):.0f} ms, "
              f"load event {median(dashboard, kind, 'load_ms'):.0f} ms")
        base = median(docs, kind, "transferred")
        print(f"  baseline Swagger UI {kind}: {base / 1024:.1f} KiB transferred, operations listed after "
              f"{median(docs, kind, 'ready_ms'):.0f} ms, load event {median(docs, kind, 'load_ms'):.0f} ms "
              f"(dashboard/baseline weight {weight / base:.2f})")


def large_figures(browser: Browser, runs: int, machines: int, components: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        plant = Path(folder) / "plant.yaml"
        plant.write_text(yaml.safe_dump({"plant": description(machines, components)}, sort_keys=False))
        with server(["serve", "--config", str(plant)], timeout=600) as origin:
            times, size = [], 0
            for _ in range(runs):
                start = time.perf_counter()
                response = httpx.get(f"{origin}/api/v3.0/hierarchy", timeout=60)
                times.append(time.perf_counter() - start)
                size = len(response.content)
            searched = []
            for query in ("M999", "0173-1#02", "nothing-matches"):
                start = time.perf_counter()
                httpx.get(f"{origin}/api/v3.0/hierarchy/search", params={"q": query}, timeout=60)
                searched.append((time.perf_counter() - start) * 1000)
            views, scrolls, searches = [], [], []
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.add_init_script(MARKS)
                page.goto(f"{origin}/")
                page.locator("[role=treeitem]").first.wait_for(timeout=120_000)
                views.append(page.evaluate("() => window.__marks.tree"))
                scrolls.append(page.evaluate(SCROLL))
                start = time.perf_counter()
                page.get_by_label("Search idShort or semanticId").fill("M999")
                page.get_by_text("matching shell").wait_for()
                searches.append((time.perf_counter() - start) * 1000)
                context.close()
    frames = sorted(f for scroll in scrolls for f in scroll["frames"])
    p99 = frames[min(len(frames) - 1, int(len(frames) * 0.99))]
    shells = machines * (components + 1)
    print(f"{scrolls[0]['total']} tree rows open of a {machines}-machine plant ({shells}+ shells), "
          f"median of {runs} (load average {os.getloadavg()[0]:.1f}):")
    print(f"  GET /hierarchy {statistics.median(times) * 1000:.0f} ms, {size / 1024 / 1024:.2f} MiB; first view usable "
          f"{statistics.median(views):.0f} ms; search 'M999' shown in {statistics.median(searches):.0f} ms "
          f"(typing pause 200 ms included); GET /hierarchy/search {', '.join(f'{t:.0f}' for t in searched)} ms "
          "(an idShort, a semanticId, no match)")
    print(f"  scrolling top to bottom: {len(frames)} frames, interval p50 {statistics.median(frames):.1f} ms, "
          f"p99 {p99:.1f} ms; rows in the DOM {max(s['rows'] for s in scrolls)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--machines", type=int, default=1000)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true", help="only the demo plant")
    options = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        demo_figures(browser, options.runs)
        if not options.skip_large:
            large_figures(browser, options.runs, options.machines, options.components)
        browser.close()


if __name__ == "__main__":
    main()
