"""Every reach into uvicorn's private API, in one place, checked at start-up.

``uvicorn.Server.serve`` wraps the server in ``capture_signals()``, which installs its own
SIGINT/SIGTERM handlers and re-raises the captured signal once HTTP has stopped. twinbridge
still has to stop the adapters and flush the store after that, so ``HttpServer`` overrides the
hook with a no-op and the application handles the signals itself. If a uvicorn release renamed
the hook or stopped calling it from ``serve``, the override would do nothing and a SIGTERM
would kill the process before the store is flushed — ``check()`` verifies both.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import socket
from collections.abc import Iterator

import uvicorn

TESTED_VERSION = "0.54.0"


class UvicornCompatError(RuntimeError):
    """A uvicorn private hook that twinbridge relies on is missing or no longer called."""


class HttpServer(uvicorn.Server):
    """uvicorn without its own signal handling (see the module doc)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def check_port(host: str, port: int) -> None:
    """OSError naming the address when ``host:port`` cannot be bound (uvicorn would only log it
    after the start-up banner and exit with status 3); binds and closes at once, as uvicorn then
    binds again with the same SO_REUSEADDR."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        raise OSError(error.errno, f"the REST API cannot listen on {host}:{port}: {error.strerror or error} "
                                   "(choose another with --port or server.rest.port)") from error


def check() -> None:
    """Raise UvicornCompatError naming the hook that is missing (call once at start-up)."""
    problem = ""
    if not callable(getattr(uvicorn.Server, "capture_signals", None)):
        problem = "uvicorn.Server.capture_signals is missing"
    elif "self.capture_signals()" not in inspect.getsource(uvicorn.Server.serve):
        problem = "uvicorn.Server.serve no longer calls capture_signals() (its signal handling would stay on)"
    if problem:
        try:
            installed = importlib.metadata.version("uvicorn")
        except importlib.metadata.PackageNotFoundError:
            installed = "(version unknown)"
        raise UvicornCompatError(
            f"uvicorn {installed}: {problem}; twinbridge was tested with uvicorn {TESTED_VERSION} "
            f"(install it with `pip install -c constraints.txt .`)"
        )
