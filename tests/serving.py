"""One way for a test to run the whole composed application over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from twinbridge.server.application import Application


@contextlib.asynccontextmanager
async def serving(application: Application) -> AsyncIterator[Application]:
    """Start ``application``, serve HTTP until the block ends, then stop it the way SIGTERM would."""
    await application.start()
    assert application.http is not None
    server = asyncio.create_task(application.http.serve())
    while not application.http.started:
        await asyncio.sleep(0.02)
    try:
        yield application
    finally:
        application.http.should_exit = True
        await server
        await application.stop()
