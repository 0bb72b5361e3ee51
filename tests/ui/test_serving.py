"""The dashboard's static build as served: compressed by what the browser accepts, cached by kind, offline-only."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.serving import serving_in_thread
from twinbridge.server.ui.serving import IMMUTABLE, Dashboard


@pytest.fixture(scope="module")
def dashboard() -> Dashboard:
    return Dashboard("/custom/api/")


@pytest.fixture(scope="module")
def http(dashboard: Dashboard) -> Iterator[httpx.Client]:
    app = FastAPI()
    app.include_router(dashboard.router())
    with serving_in_thread(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


def _script(dashboard: Dashboard) -> str:
    return next(name for name in dashboard.assets if name.endswith(".js"))


def test_the_page_names_the_api_and_keeps_the_browser_on_this_origin(http: httpx.Client) -> None:
    for path in ("/", "/ui", "/ui/"):
        page = http.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<meta name="twinbridge-api" content="/custom/api">' in page.text
        assert page.headers["cache-control"] == "no-cache"
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "connect-src 'self'" in policy
        assert "http" not in page.text.replace('href="data:,"', "").lower().split("<body>")[0]  # nothing remote
    etag = http.get("/").headers["etag"]
    assert http.get("/", headers={"If-None-Match": etag}).status_code == 304


def test_assets_come_brotli_or_gzip_as_accepted_and_are_immutable(http: httpx.Client, dashboard: Dashboard) -> None:
    name = _script(dashboard)
    plain = dashboard.assets[name].plain
    brotli = http.get(f"/ui/assets/{name}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert brotli.headers["content-encoding"] == "br"
    assert brotli.content in (plain, dashboard.assets[name].encoded["br"])  # httpx decodes br only with brotli
    assert int(brotli.headers["content-length"]) < len(plain) / 2
    assert brotli.headers["cache-control"] == IMMUTABLE and brotli.headers["vary"] == "Accept-Encoding"
    zipped = http.get(f"/ui/assets/{name}", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain
    refused = http.get(f"/ui/assets/{name}", headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert "content-encoding" not in refused.headers and refused.content == plain
    assert http.get("/ui/assets/app-OLD.js").status_code == 404


def test_the_build_is_complete_and_every_twin_matches_its_file(dashboard: Dashboard) -> None:
    kinds = sorted(name.rsplit(".", 1)[1] for name in dashboard.assets)
    assert kinds == ["css", "js"]
    for asset in dashboard.assets.values():
        assert set(asset.encoded) == {"br", "gzip"}
        assert gzip.decompress(asset.encoded["gzip"]) == asset.plain
    page = dashboard.index.plain.decode()
    assert all(f"/ui/assets/{name}" in page for name in dashboard.assets)


def test_a_missing_build_stops_the_start_naming_make_ui(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="make ui"):
        Dashboard("/api/v3.0", tmp_path)
