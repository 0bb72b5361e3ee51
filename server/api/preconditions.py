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
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import CheckVersion
from twinbridge.aas.twin import Twin
from twinbridge.server.api.ids import decode_id
from twinbridge.server.api.results import ApiError, result_body

_READS = frozenset({b"GET", b"HEAD"})
_KINDS = {"shells": ObjectKind.SHELL, "submodels": ObjectKind.SUBMODEL,
          "concept-descriptions": ObjectKind.CONCEPT_DESCRIPTION}
_TARGET = re.compile(r"/(shells|submodels|concept-descriptions)/([^/$][^/]*)(?:/submodels/([^/$][^/]*))?")
_TAG = re.compile(r'\s*(?:W/)?"?([0-9]+)"?\s*')


def etag(version: int) -> str:
    return f'"{version}"'


class Preconditions:
    def __init__(self, app: ASGIApp, twin: Twin, prefix: str) -> None:
        self.app = app
        self.twin = twin
        self.prefix = prefix
        self.shared = twin.store.backend.version(ObjectKind.SHELL, "") is not None

    def _target(self, path: str) -> tuple[ObjectKind, str] | None:
        if not path.startswith(self.prefix):
            return None
        match = _TARGET.match(path, len(self.prefix))
        if match is None:
            return None
        collection, first, submodel = match.groups()
        try:
            if submodel is not None and collection == "shells":
                return ObjectKind.SUBMODEL, decode_id(submodel, "submodelIdentifier")
            return _KINDS[collection], decode_id(first, "identifier")
        except ApiError:
            return None  # the route answers the bad encoding

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self._target(scope["path"]) if scope["type"] == "http" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        twin = self.twin

        async def send_with_etag(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300 \
                    and twin.exists(*target):
                message["headers"] = [*message.get("headers", ()),
                                      (b"etag", etag(twin.version(*target)).encode())]
            await send(message)

        method = scope["method"].encode()
        if_match = None if method in _READS else _header(scope, b"if-match")
        if if_match is None or not twin.exists(*target):
            await self.app(scope, receive, send_with_etag)
            return
        current = twin.version(*target)
        if if_match.strip() == "*":
            await self.app(scope, receive, send_with_etag)
            return
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
