"""Interactive API docs that work without internet: Swagger UI at ``{prefix}/docs``, ReDoc at ``{prefix}/redoc``.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a plant network without internet
``/docs`` is a blank page. The JavaScript and CSS come from the ``fastapi-offline`` package
instead (it ships Swagger UI and ReDoc bundles as package data) and are served by this app under
``{prefix}/docs/static``; ReDoc's Google fonts are switched off, and a Content-Security-Policy
keeps the browser on this origin (ReDoc would still fetch its "powered by" logo from
cdn.redoc.ly). Nothing the pages load leaves the machine.

This module is the one place that knows ``fastapi-offline``'s file layout (its ``static``
folder); ``assets()`` checks it when the app is built, so a changed layout fails at start-up
with the missing file named, not as a blank page.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
# Both UIs run inline bootstrap scripts and styles; ReDoc builds a search worker from a blob.
SAME_ORIGIN_ONLY = ("default-src 'self'; script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; "
                    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:")


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = SAME_ORIGIN_ONLY
    return page


def assets() -> Path:
    """The folder holding ``ASSETS``; RuntimeError naming what is missing otherwise."""
    folder = Path(str(resources.files("fastapi_offline").joinpath("static")))
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"fastapi-offline at {folder} lacks {', '.join(missing)}: the offline API docs "
                           "cannot be served (reinstall with the version pinned in constraints.txt)")
    return folder


def install(app: FastAPI, prefix: str, openapi_url: str | None = None) -> None:
    """Add ``{prefix}/docs`` (+ its OAuth2 redirect), ``{prefix}/redoc`` and the assets under ``{prefix}/docs/static``,
    showing ``openapi_url`` (default: the app's own document).

    The app must be created with ``docs_url=None, redoc_url=None`` so FastAPI's CDN pages are not mounted.
    """
    static = f"{prefix}/docs/static"
    openapi_url = openapi_url or app.openapi_url or f"{prefix}/openapi.json"
    redirect_url = f"{prefix}/docs/oauth2-redirect"
    app.mount(static, StaticFiles(directory=assets()), name="offline-docs")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _local_only(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} - Swagger UI", oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{static}/swagger-ui-bundle.js", swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon.png", swagger_ui_parameters=app.swagger_ui_parameters,
        ))

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(f"{prefix}/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _local_only(get_redoc_html(
            openapi_url=openapi_url, title=f"{app.title} - ReDoc", redoc_js_url=f"{static}/redoc.standalone.js",
            redoc_favicon_url=f"{static}/favicon.png", with_google_fonts=False,
        ))
