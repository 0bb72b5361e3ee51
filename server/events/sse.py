"""``GET /events``: Server-Sent Events of every change in the twin, as CloudEvents.

Each client reads the event hub's log from its own cursor (``hub.EventHub``): the producer
never waits for a client, and every client shares the one encoding of each event. A client is
dropped (its stream ends with an ``event: dropped``) when it fell ``capacity`` events behind or
when one write to it has not completed within ``send_timeout_s`` (it stopped reading; the TCP
window is full). Idle streams carry a comment line every ``heartbeat_s`` so proxies keep them
open and clients notice a dead server.

Filters (query): ``submodel`` and ``semanticId`` (base64url-encoded, as Part 2 encodes ids in
queries; repeatable), ``idShortPath`` (a prefix: ``Motor`` matches ``Motor`` and ``Motor.Speed``)
and ``types`` (``created,updated,deleted,valueChanged,writeRequested,...``).

Resuming: event ids are ``{boot}-{seq}[-{journal mark}]``, positions in the hub's log. A client
reconnecting with ``Last-Event-ID`` of this server's run gets every event after it that the log
still holds (``SseConfig.replay``, default 10,000), then the live stream, with nothing missed or
repeated. When the id is from an earlier run of the server, the structural changes and client
writes since then are replayed from the history journal (``resume.py``), then this run's events,
and a comment says what could not be replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from twinbridge.aas.events import ObjectKind
from twinbridge.server.api.auth import ReadAccess
from twinbridge.server.api.ids import decode_ids
from twinbridge.server.api.results import ApiError
from twinbridge.server.events.hub import EventHub, Logged, event_hub
from twinbridge.server.events.model import EVENT_TYPES, TYPE_PREFIX, TwinEvent
from twinbridge.server.events.resume import resume
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

    @property
    def everything(self) -> bool:
        return (self.submodels is None and self.semantic_ids is None and self.path_prefix is None
                and len(self.types) == len(EVENT_TYPES))

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
    """The ASGI response of one client: its cursor in the hub's log, its filter, its heartbeat."""

    def __init__(self, hub: EventHub, cursor: int, event_filter: EventFilter, settings: SseConfig,
                 stats: EventStats, greeting: bytes) -> None:
        self.hub = hub
        self.cursor = cursor
        self.filter = event_filter
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
        self.stats.queue_depths[key] = lambda: self.hub.head - self.cursor
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
            self.stats.sse_clients -= 1
            del self.stats.queue_depths[key]

    async def _stream(self, send: Send) -> None:
        if not await self._write(send, self.greeting):
            return
        hub, heartbeat, capacity = self.hub, self.settings.heartbeat_s, self.settings.capacity
        while not hub.closed and not self.ended:
            if hub.head <= self.cursor:
                grown, _ = await asyncio.wait((hub.grown(),), timeout=heartbeat)
                if not grown and not await self._write(send, b": heartbeat\n\n"):
                    self._drop(0, f"did not read for {self.settings.send_timeout_s} s")
                    return
                continue
            behind = hub.head - self.cursor
            if behind > capacity:
                self._drop(behind, "fell behind by more than its queue holds")
                await self._write(send, b"event: dropped\ndata: {}\n\n", more=False)
                return
            _, events = hub.since(self.cursor, _CHUNK)  # lost: impossible, ``behind`` was checked
            if not events:
                continue
            self.cursor = events[-1].seq
            chunk = self._frames(events)
            if chunk and not await self._write(send, chunk):
                self._drop(hub.head - self.cursor, f"did not read for {self.settings.send_timeout_s} s")
                return

    def _frames(self, events: list[Logged]) -> bytes:
        encode = self.hub.sse
        if self.filter.everything:
            self.stats.count("sse", published=len(events))
            return self.hub.sse_many(events)
        wanted = self.filter.wants
        parts = [encode(logged) for logged in events if wanted(logged.event)]
        self.stats.count("sse", published=len(parts))
        return b"".join(parts)

    async def _write(self, send: Send, chunk: bytes, more: bool = True) -> bool:
        # asyncio.timeout, not wait_for: wait_for makes a task per call (100 clients x 200 ticks/s)
        try:
            async with asyncio.timeout(self.settings.send_timeout_s):
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
        except TimeoutError:
            return False
        return True

    def _drop(self, lost: int, why: str) -> None:
        self.stats.clients_dropped += 1
        self.stats.count("sse", dropped=lost)
        log.warning("dropped an SSE client that %s (%d events behind)", why, lost)


_CHUNK = 5_000
"""Events per write to one client."""


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
        types: Annotated[list[str] | None, Query(description=", ".join(EVENT_TYPES))] = None,
    ) -> Response:
        """Every change in the twin as it happens: Server-Sent Events carrying CloudEvents (JSON)."""
        submodels = frozenset(decode_ids(submodel, "submodel")) if submodel else None
        semantic_ids = frozenset(decode_ids(semantic_id, "semanticId")) if semantic_id else None
        event_filter = EventFilter(submodels, semantic_ids, id_short_path or None, parse_types(types or ()))
        base_url = str(request.url.replace(query="", fragment="")).removesuffix("/events")
        stats = event_stats(request.app.state)
        hub = event_hub(request.app.state, request.app.state.twin, base_url, stats, config.replay)
        await hub.start()
        resumed = await resume(hub, request.headers.get("last-event-id"), config.capacity, config.replay)
        greeting = b": twinbridge events\nretry: 2000\n" + resumed.note + b"\n" + b"".join(
            _frame(event_id, event, hub.base_url) for event_id, event in resumed.replayed if event_filter.wants(event))
        return _StreamResponse(EventStream(hub, resumed.cursor, event_filter, config, stats, greeting))

    return router


def _frame(event_id: str, event: TwinEvent, base_url: str) -> bytes:
    """An SSE frame for a replayed event (live ones are framed once by the hub)."""
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (event_id.encode(), event.type.encode(),
                                                   event.json(event_id, base_url))


def event_stats(state: Any) -> EventStats:
    """The app's ``EventStats`` (one per app, shared by SSE, MQTT and ``/metrics``)."""
    stats = getattr(state, "event_stats", None)
    if stats is None:
        stats = state.event_stats = EventStats()
    assert isinstance(stats, EventStats)
    return stats
