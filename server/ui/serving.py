"""Serves the dashboard at ``/`` and ``/ui``: offline, compressed, cached.

``make ui`` (``ui/build.mjs``) bundles the front end into ``static/``: ``index.html`` and
content-hashed assets under ``static/assets/`` with Brotli (``.br``) and gzip (``.gz``) twins
made at build time, so the server never compresses per request and the Python package needs
no Brotli library. Assets are immutable (their name changes with their content) and cached
for a year; ``index.html`` is revalidated on every load (``no-cache`` + ETag) and carries the
API prefix (``<meta name="twinbridge-api">``) and a Content-Security-Policy that keeps the page
on this origin: nothing it loads leaves the plant network.

Everything is read once when the app is built (the whole build is ~200 KB); a missing build
stops the start with a message naming ``make ui`` instead of serving a blank page.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

STATIC = Path(__file__).with_name("static")
API_PREFIX_MARK = "%TWINBRIDGE_API%"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".svg": "image/svg+xml", ".html": "text/html; charset=utf-8", ".map": "application/json"}
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
"""Preferred first: Brotli is ~15 % smaller than gzip on the bundle."""
IMMUTABLE = "public, max-age=31536000, immutable"
# uPlot and Preact set styles through the CSSOM (allowed); 'unsafe-inline' styles cover uPlot's
# legend markup. No script runs inline, and connections stay on this origin (REST and SSE).
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@dataclass(frozen=True)
class Asset:
    """One file as served: its bytes plain and per content-coding, its media type and ETag."""

    media_type: str
    plain: bytes
    encoded: dict[str, bytes]
    etag: str

    @classmethod
    def of(cls, media_type: str, plain: bytes, encoded: dict[str, bytes]) -> Asset:
        return cls(media_type, plain, encoded, '"' + hashlib.sha256(plain).hexdigest()[:32] + '"')


def _accepted(header: str) -> set[str]:
    """Content-codings an ``Accept-Encoding`` header allows (``q=0`` refuses one)."""
    accepted = set()
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        quality = params.strip().removeprefix("q=")
        if name and not (params.strip().startswith("q=") and _is_zero(quality)):
            accepted.add(name.strip().lower())
    return accepted


def _is_zero(quality: str) -> bool:
    try:
        return float(quality) == 0.0
    except ValueError:
        return False


def respond(asset: Asset, request: Request, cache_control: str, extra: dict[str, str] | None = None) -> Response:
    headers = {"Cache-Control": cache_control, "ETag": asset.etag, "Vary": "Accept-Encoding", **(extra or {})}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    accepted = _accepted(request.headers.get("accept-encoding", ""))
    for coding, _suffix in ENCODINGS:
        body = asset.encoded.get(coding)
        if body is not None and coding in accepted:
            return Response(body, media_type=asset.media_type, headers={**headers, "Content-Encoding": coding})
    return Response(asset.plain, media_type=asset.media_type, headers=headers)


class Dashboard:
    """The build in ``folder``, ready to serve for an API under ``api_prefix``."""

    def __init__(self, api_prefix: str, folder: Path = STATIC) -> None:
        index = folder / "index.html"
        if not index.is_file():
            raise RuntimeError(f"the dashboard build is missing ({index}); run `make ui` to build it from ui/")
        page = index.read_bytes().replace(API_PREFIX_MARK.encode(), api_prefix.rstrip("/").encode())
        self.index = Asset.of(MEDIA_TYPES[".html"], page, {"gzip": gzip.compress(page, 9, mtime=0)})
        self.assets: dict[str, Asset] = {}
        for path in sorted((folder / "assets").iterdir()):
            if path.suffix not in MEDIA_TYPES:
                continue  # the .br/.gz twins, read with their file
            encoded = {coding: twin.read_bytes() for coding, suffix in ENCODINGS
                       if (twin := path.with_name(path.name + suffix)).is_file()}
            self.assets[path.name] = Asset.of(MEDIA_TYPES[path.suffix], path.read_bytes(), encoded)

    def router(self) -> APIRouter:
        """``/``, ``/ui`` (the page) and ``/ui/assets/{name}``; mount at the server's root."""
        router = APIRouter(include_in_schema=False)

        async def page(request: Request) -> Response:
            return respond(self.index, request, "no-cache", {"Content-Security-Policy": PAGE_POLICY,
                                                             "X-Content-Type-Options": "nosniff"})

        for path in ("/", "/ui", "/ui/"):
            router.add_api_route(path, page, methods=["GET"])

        @router.get("/ui/assets/{name}")
        async def asset(name: str, request: Request) -> Response:
            found = self.assets.get(name)
            if found is None:
                return Response(f"no dashboard asset {name!r} (the page may be older than the server: reload it)",
                                status_code=404, media_type="text/plain")
            return respond(found, request, IMMUTABLE, {"X-Content-Type-Options": "nosniff"})

        return router
