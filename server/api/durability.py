"""Mutating requests are answered only when their changes are durable.

The twin hands changes to its store's writer thread and returns at once; a client told "done"
before the write reached the disk could lose it to a crash. This middleware holds the response
of every non-read request until ``twin.persisted()`` covers the writes made since the request
began. Concurrent requests wait for the same transaction (group commit), so this costs one
fsync per batch, not per request. If the store failed, the response becomes a Result with the
store error's status instead of the route's success.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twinbridge.aas.errors import StorageError
from twinbridge.aas.twin import Twin
from twinbridge.server.api.results import result_body, status_of

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class DurableWrites:
    def __init__(self, app: ASGIApp, twin: Twin) -> None:
        self.app = app
        self.twin = twin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return
        twin = self.twin
        position = twin.store.position
        failed = False

        async def send_when_durable(message: Message) -> None:
            nonlocal failed
            if failed:
                return  # the route's own response was replaced by the store error
            if message["type"] == "http.response.start" and twin.store.position != position:
                try:
                    await twin.persisted(since=position)
                except StorageError as error:
                    failed = True
                    status = status_of(error)
                    body = orjson.dumps(result_body(status, str(error)))
                    await send({"type": "http.response.start", "status": status,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    return
            await send(message)

        await self.app(scope, receive, send_when_durable)
