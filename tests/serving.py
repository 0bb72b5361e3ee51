"""One way for a test to run the whole composed application over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import uvicorn
from starlette.types import ASGIApp

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


@contextlib.contextmanager
def serving_in_thread(app: ASGIApp) -> Iterator[str]:
    """``app`` alone (no application around it) served by uvicorn in a background thread, for
    synchronous tests and clients; yields ``http://127.0.0.1:<port>``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
