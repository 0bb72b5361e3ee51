"""The outermost middleware of the API: limits in force, bodies bounded, no surprise leaks out.

- ``aas.limits.current()`` answers the app's configured ``Limits`` for the whole request (and in
  the worker threads that parse big bodies).
- A body larger than its limit is refused with 413 and a ``Result`` naming the limit, from the
  ``Content-Length`` before any of it is read, or as soon as a streamed body passes it. AASX
  uploads (``/packages``) have ``package_bytes``, other multipart uploads (attachments,
  thumbnails) ``attachment_bytes``, everything else ``body_bytes``.
- An unexpected exception becomes a 500 ``Result`` with a generic text and a reference that
  the log line carries with the traceback: exception text can hold paths, SQL or values of
  other clients. The exception is *not* re-raised: Starlette's error middleware re-raises it to
  uvicorn, which then closes the client's keep-alive connection.
"""

from __future__ import annotations

import logging
import secrets

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twinbridge.aas import limits as limits_module
from twinbridge.aas.errors import LimitExceeded
from twinbridge.aas.limits import Limits
from twinbridge.server.api.results import result_body, status_of

log = logging.getLogger(__name__)


_BODIES = frozenset({"POST", "PUT", "PATCH"})


class Door:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with limits_module.applied(self.limits):
            await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._limit_key(scope)
        # Only POST, PUT and PATCH routes read a body: another method's is never read, so it is
        # no reason to refuse (the OpenAPI document lists 413 for those three alone).
        limit: int = getattr(self.limits, key) if scope.get("method") in _BODIES else 1 << 62
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(send, 413, self._too_large(limit, key))
            return
        received = 0
        exceeded = False

        async def bounded_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise LimitExceeded(self._too_large(limit, key))
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the route made of the interrupted body (FastAPI: a 400), it was too large
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _answer(send, 413, self._too_large(limit, key))
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except LimitExceeded as error:  # raised by bounded_receive outside any route's handlers
            if not started:
                await _answer(send, status_of(error), str(error))
        except ClientDisconnect:  # the client left before its body ended: nobody to answer, nothing changed
            log.debug("%s %s: the client disconnected mid-request", scope.get("method"), scope.get("path"))
        except Exception:
            reference = secrets.token_hex(6)
            log.exception("unexpected error %s on %s %s", reference, scope.get("method"), scope.get("path"))
            if not started:
                await _answer(send, 500, f"internal error; the server logged it as {reference}")

    def _limit_key(self, scope: Scope) -> str:
        if "/packages" in scope.get("path", ""):
            return "package_bytes"
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                return "attachment_bytes" if value.lower().startswith(b"multipart/") else "body_bytes"
        return "body_bytes"

    def _too_large(self, limit: int, key: str) -> str:
        size = f"{limit // limits_module.MIB} MiB" if limit % limits_module.MIB == 0 else f"{limit} bytes"
        return f"the request body is larger than {size}; refused (limit {self.limits.key(key)})"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(send: Send, status: int, text: str) -> None:
    body = orjson.dumps(result_body(status, text))
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
