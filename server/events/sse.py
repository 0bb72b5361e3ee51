"""``GET /events``: Server-Sent Events of every change in the twin, as CloudEvents.

Each client has its own bus subscription in EVERY mode with a bounded queue (``capacity``): the
producer only appends to that deque, so a slow client never slows ingest or the other
clients. A client is dropped (its stream ends) when it fell ``capacity`` events behind or when
one write to it has not completed within ``send_timeout_s`` (it stopped reading; the TCP
window is full). Idle streams carry a comment line every ``heartbeat_s`` so proxies keep them
open and clients notice a dead server.

Filters (query): ``submodel`` and ``semanticId`` (base64url-encoded, as Part 2 encodes ids in
queries; repeatable), ``idShortPath`` (a prefix: ``Motor`` matches ``Motor`` and ``Motor.Speed``)
and ``types`` (``created,updated,deleted,valueChanged``). Submodel and semanticId filters on
value events run on the publishing side (the bus), the rest here.

Event ids are ``{boot}-{sequence}``. ``Last-Event-ID`` cannot resume yet: replaying what a
client missed needs the history journal (a later issue); until then a reconnecting client is
told so in a comment and the stream continues from now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Subscription
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.ids import decode_ids
from twinbridge.server.api.results import ApiError
from twinbridge.server.events.model import EVENT_TYPES, TYPE_PREFIX, EventIds, TwinEvent, structure_event, value_event
from twinbridge.server.events.settings import SseConfig
from twinbridge.server.events.stats import EventStats

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class EventFilter:
    """What one client asked for; ``None`` fields take everything."""

    submodels: frozenset[str] | None = None
    semantic_ids: frozenset[str] | None = None
    path_prefix: str | None = None
    types: frozenset[str] = frozenset(EVENT_TYPES)

    def wants(self, event: TwinEvent) -> bool:
        if event.type not in self.types:
            return False
        if self.submodels is not None and (event.object_kind is not ObjectKind.SUBMODEL
                                           or event.identifier not in self.submodels):
            return False
        if self.semantic_ids is not None and event.semantic_id not in self.semantic_ids:
            return False
        prefix = self.path_prefix
        if prefix is None:
            return True
        path = event.path
        return path is not None and (path == prefix or path.startswith((prefix + ".", prefix + "[")))


def parse_types(values: Iterable[str]) -> frozenset[str]:
    """``valueChanged,deleted`` or full CloudEvents types; an unknown name is a 400 naming it."""
    wanted = set()
    for value in values:
        for name in filter(None, (part.strip() for part in value.split(","))):
            short = name.removeprefix(TYPE_PREFIX)
            if short not in EVENT_TYPES:
                raise ApiError(400, f"types: unknown event type {name!r} (known: {', '.join(EVENT_TYPES)})")
            wanted.add(short)
    return frozenset(wanted) if wanted else frozenset(EVENT_TYPES)


class EventStream:
    """The ASGI response of one client: its subscription, its filter, its heartbeat."""

    def __init__(self, twin: Twin, subscription: Subscription, event_filter: EventFilter, ids: EventIds,
                 base_url: str, settings: SseConfig, stats: EventStats, greeting: bytes) -> None:
        self.twin = twin
        self.subscription = subscription
        self.filter = event_filter
        self.ids = ids
        self.base_url = base_url
        self.settings = settings
        self.stats = stats
        self.greeting = greeting
        self.ended = False
        """Set before the stream task is cancelled; the loop checks it because Python 3.11's
        ``asyncio.wait_for`` drops a cancellation that arrives as its inner await completes (it
        returns the result instead): the stream then wrote heartbeats to a gone client for ever,
        and the server's shutdown waited on it (seen after a dashboard tab closed)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.stats.sse_clients += 1
        key = f"sse:{id(self)}"
        subscription = self.subscription
        self.stats.queue_depths[key] = lambda: subscription.depth
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
            ]})
            stream = asyncio.ensure_future(self._stream(send))
            gone = asyncio.ensure_future(_disconnected(receive))
            try:
                await asyncio.wait((stream, gone), return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.ended = True
                for task in (stream, gone):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            self.subscription.close()
            self.stats.sse_clients -= 1
            del self.stats.queue_depths[key]

    async def _stream(self, send: Send) -> None:
        if not await self._write(send, self.greeting):
            return
        heartbeat = self.settings.heartbeat_s
        while not self.ended:
            try:
                batch = await asyncio.wait_for(self.subscription.next_batch(), heartbeat)
            except TimeoutError:
                chunk = b": heartbeat\n\n"
            else:
                if batch.dropped or batch.overflowed:
                    self._drop(batch.dropped, "fell behind by more than its queue holds")
                    await self._write(send, b"event: dropped\ndata: {}\n\n", more=False)
                    return
                chunk = self._frames(batch)
                if not chunk:
                    continue
            if not await self._write(send, chunk):
                self._drop(0, f"did not read for {self.settings.send_timeout_s} s")
                return

    def _frames(self, batch: ChangeBatch) -> bytes:
        events = [structure_event(change, self.twin) for change in batch.structure]
        events.extend(value_event(change) for change in batch.values)
        wanted = self.filter.wants
        parts = []
        for event in events:
            if wanted(event):
                event_id = self.ids.next()
                body = orjson.dumps(event.encode(event_id, self.base_url))
                parts.append(b"id: %s\nevent: %s\ndata: %s\n\n" % (event_id.encode(), event.type.encode(), body))
        self.stats.count("sse", published=len(parts))
        return b"".join(parts)

    async def _write(self, send: Send, chunk: bytes, more: bool = True) -> bool:
        try:
            await asyncio.wait_for(send({"type": "http.response.body", "body": chunk, "more_body": more}),
                                   self.settings.send_timeout_s)
        except TimeoutError:
            return False
        return True

    def _drop(self, lost: int, why: str) -> None:
        self.stats.clients_dropped += 1
        self.stats.count("sse", dropped=lost)
        log.warning("dropped an SSE client that %s (%d events lost)", why, lost)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class _StreamResponse(Response):
    """Hands the ASGI call to an ``EventStream`` (FastAPI needs a Response subclass)."""

    def __init__(self, stream: EventStream) -> None:
        super().__init__(media_type="text/event-stream")
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        await self.stream(scope, receive, send)


def events_router(settings: SseConfig | None = None) -> APIRouter:
    """The ``/events`` route; mount it under the API prefix (``create_app(extra_routers=...)``)."""
    config = settings if settings is not None else SseConfig()
    router = APIRouter(tags=["Events"])

    @router.get("/events", dependencies=[ReadAccess], response_class=Response,
                responses={200: {"content": {"text/event-stream": {}},
                                 "description": "CloudEvents (JSON) as Server-Sent Events"}})
    async def events(
        request: Request,
        submodel: Annotated[list[str] | None, Query(description="base64url-encoded submodel id")] = None,
        semantic_id: Annotated[list[str] | None, Query(alias="semanticId",
                                                       description="base64url-encoded semanticId")] = None,
        id_short_path: Annotated[str | None, Query(alias="idShortPath", description="idShortPath prefix")] = None,
        types: Annotated[list[str] | None, Query(description="created,updated,deleted,valueChanged")] = None,
    ) -> Response:
        """Every change in the twin as it happens: Server-Sent Events carrying CloudEvents (JSON)."""
        twin: Twin = request.app.state.twin
        submodels = frozenset(decode_ids(submodel, "submodel")) if submodel else None
        semantic_ids = frozenset(decode_ids(semantic_id, "semanticId")) if semantic_id else None
        event_filter = EventFilter(submodels, semantic_ids, id_short_path or None, parse_types(types or ()))
        wants_values = "valueChanged" in event_filter.types
        subscription = twin.bus.subscribe(
            mode=DeliveryMode.EVERY, submodels=submodels, semantic_ids=semantic_ids,
            capacity=config.capacity, structure_capacity=config.capacity, structure_only=not wants_values,
        )
        greeting = b": twinbridge events\nretry: 2000\n\n"
        if request.headers.get("last-event-id"):
            greeting += b": resuming after Last-Event-ID needs the history journal; continuing from now\n\n"
        base_url = str(request.url.replace(query="", fragment="")).removesuffix("/events")
        return _StreamResponse(EventStream(twin, subscription, event_filter, _ids(request), base_url, config,
                                           event_stats(request.app.state), greeting))

    return router


def _ids(request: Request) -> EventIds:
    ids = getattr(request.app.state, "event_ids", None)
    if ids is None:
        ids = request.app.state.event_ids = EventIds()
    assert isinstance(ids, EventIds)
    return ids


def event_stats(state: Any) -> EventStats:
    """The app's ``EventStats`` (one per app, shared by SSE, MQTT and ``/metrics``)."""
    stats = getattr(state, "event_stats", None)
    if stats is None:
        stats = state.event_stats = EventStats()
    assert isinstance(stats, EventStats)
    return stats
