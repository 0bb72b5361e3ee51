"""Every failure is a Part 2 Result: unknown routes, wrong methods, twin errors, unexpected exceptions."""

from __future__ import annotations

import httpx
from fastapi import APIRouter

from tests.api.conftest import PREFIX
from tests.api.test_shells import assert_result
from twinbridge.aas.errors import NotWritable, WriteRejected
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app


def failing_router() -> APIRouter:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    @router.get("/not-writable")
    async def not_writable() -> None:
        raise NotWritable("Temperature is fed by a device and has no write-back")

    @router.get("/rejected")
    async def rejected() -> None:
        raise WriteRejected("the device refused 7")

    return router


async def test_errors_become_results(full_twin: Twin) -> None:
    app = create_app(full_twin, prefix=PREFIX, extra_routers=[failing_router()])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://t{PREFIX}") as http:
        boom = await http.get("/boom")
        assert_result(boom, 500, "internal error", "logged")
        assert "kaput" not in boom.text and "RuntimeError" not in boom.text  # internals stay in the log
        assert_result(await http.get("/not-writable"), 403, "no write-back")
        assert_result(await http.get("/rejected"), 422, "refused 7")
        assert_result(await http.get("/no-such-route"), 404)
        assert_result(await http.patch("/description"), 405)
