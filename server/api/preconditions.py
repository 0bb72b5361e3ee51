"""``ETag`` on reads and ``If-Match`` on writes of one shell, submodel or concept description.

The ETag of anything under ``/shells/{id}``, ``/submodels/{id}`` (also through a shell) or
``/concept-descriptions/{id}`` is the identifiable's version (``Twin.version``): on a shared
PostgreSQL store the id of the last outbox row that changed it, the same on every instance;
otherwise this process's count of its changes. An element's ETag is its submodel's.

A write with ``If-Match`` whose version is older than the one here is refused at once (412). On
a shared store the database decides the rest: the first unit the request writes carries a
``CheckVersion`` and commits only if the version there is still the client's (a concurrent write
through another instance makes it 412, and the replica reads the identifiable back). A client
holding a newer ETag than this instance has seen yet (it read through another instance) is not
refused for that: the database knows better. Without a shared store the check is this process's.

Being the first to look a submodel up, it is also where a bounded cache (``?cache=N``) reads one
that memory does not hold: awaited, off the loop and together with the misses of concurrent
requests (``ResidentTable.ready``), so the checks and the route after it find the row staged.
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twinbridge.aas.errors import StorageError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import CheckVersion
from twinbridge.aas.twin import Twin
from twinbridge.server.api.results import ApiError, error_response, result_body
from twinbridge.server.api.scope import decode_cached

_READS = frozenset({"GET", "HEAD"})
_MEMO_LIMIT = 4096
_KINDS = {"shells": ObjectKind.SHELL, "submodels": ObjectKind.SUBMODEL,
          "concept-descriptions": ObjectKind.CONCEPT_DESCRIPTION}
_TAG = re.compile(r'\s*(?:W/)?"?([0-9]+)"?\s*')


def etag(version: int) -> str:
    return f'"{version}"'


class Preconditions:
    def __init__(self, app: ASGIApp, twin: Twin, prefix: str) -> None:
        self.app = app
        self.twin = twin
        self.prefix = prefix
        self.shared = twin.store.backend.version(ObjectKind.SHELL, "") is not None
        self._targets: dict[str, tuple[ObjectKind, str] | None] = {}

    def _target(self, path: str) -> tuple[ObjectKind, str] | None:
        """The identifiable a path is about (memoised: hot reads repeat the same few paths)."""
        if path in self._targets:
            return self._targets[path]
        target = None
        if path.startswith(self.prefix):
            parts = path[len(self.prefix):].split("/", 5)  # "", collection, id, "submodels", id, ...
            kind = _KINDS.get(parts[1]) if len(parts) > 2 else None
            if kind is not None and parts[2] and not parts[2].startswith("$"):
                try:
                    if kind is ObjectKind.SHELL and len(parts) > 4 and parts[3] == "submodels" \
                            and parts[4] and not parts[4].startswith("$"):
                        target = (ObjectKind.SUBMODEL, decode_cached(parts[4], "submodelIdentifier"))
                    else:
                        target = (kind, decode_cached(parts[2], "identifier"))
                except ApiError:
                    target = None  # the route answers the bad encoding
        if len(self._targets) >= _MEMO_LIMIT:
            self._targets.clear()
        self._targets[path] = target
        return target

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self._target(scope["path"]) if scope["type"] == "http" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        twin = self.twin
        if twin.resident is not None and target[0] is ObjectKind.SUBMODEL:
            try:
                await twin.resident.ready(target[1])
            except StorageError as error:  # the store stayed away past its retries: 503, as a route says it
                await error_response(error)(scope, receive, send)
                return
        if scope["method"] in _READS:  # the version the read starts from (a read changes nothing)
            if not twin.exists(*target):
                await self.app(scope, receive, send)
                return
            header = (b"etag", etag(twin.version(*target)).encode())

            async def send_read(message: Message) -> None:
                if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            await self.app(scope, receive, send_read)
            return

        async def send_with_etag(message: Message) -> None:  # after the write is durable: its version
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300 \
                    and twin.exists(*target):
                message["headers"] = [*message.get("headers", ()),
                                      (b"etag", etag(twin.version(*target)).encode())]
            await send(message)

        if_match = _header(scope, b"if-match")
        if if_match is None or not twin.exists(*target) or if_match.strip() == "*":
            await self.app(scope, receive, send_with_etag)
            return
        current = twin.version(*target)
        tags = [int(match.group(1)) for part in if_match.split(",") if (match := _TAG.fullmatch(part))]
        if self.shared and len(tags) == 1 and tags[0] >= current:
            with twin.store.expecting(CheckVersion(target[0], target[1], tags[0])):
                await self.app(scope, receive, send_with_etag)
            return
        if current not in tags:
            await _refuse(send, f"If-Match {if_match} does not hold: {target[0].value} {target[1]!r} "
                                f"is at version {etag(current)}")
            return
        await self.app(scope, receive, send_with_etag)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _refuse(send: Send, text: str) -> None:
    body = orjson.dumps(result_body(412, text))
    await send({"type": "http.response.start", "status": 412,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
