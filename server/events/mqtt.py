"""The MQTT event publisher: every change in the twin, to a configured broker.

Two topic layouts, chosen per deployment so existing consumers work unchanged:

- ``async-aas`` (as FA³ST's CloudEvents message bus): every event is a CloudEvent (JSON) on one
  topic (``topic``, FA³ST's default ``noauth``); consumers dispatch on ``type`` and ``source``.
- ``basyx`` (as BaSyx's MQTT eventing features; topics from its ``MqttSubmodelRepositoryTopicFactory``):
  ``sm-repository/{repoId}/submodels/{created|updated|deleted}`` with the submodel JSON,
  ``sm-repository/{repoId}/submodels/{b64url id}/submodelElements/{idShortPath}/{created|updated|deleted}``
  with the element JSON (a value change is an element ``updated``, as BaSyx publishes a value
  PATCH), and ``aas-repository/{aasRepoId}/shells/{created|updated|deleted}`` with the shell JSON.
  BaSyx sends the deleted object; we no longer have it, so a ``deleted`` payload names it
  (``{"id": ...}`` or ``{"idShort": ...}``). Concept descriptions have no BaSyx topic: not sent.

The publisher never slows ingest: it reads the event hub's log from its own cursor. While the
broker is slow or absent the cursor falls behind; past the log's size the oldest events are
overwritten and counted as dropped (``EventStats``, logged); after a reconnect it goes on from
its cursor, so a short outage loses nothing. A batch of events leaves as one socket write
(``wire.MqttWire``): see BENCHMARKS.md for the rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import orjson

from twinbridge.aas import documents
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.adapters.supervisor import describe
from twinbridge.server.api.ids import encode_id
from twinbridge.server.events.hub import EventHub, Logged
from twinbridge.server.events.settings import MqttEvents
from twinbridge.server.events.stats import EventStats
from twinbridge.server.events.wire import Endpoint, MqttWire, MqttWireError

log = logging.getLogger(__name__)

Message = tuple[str, bytes]
_STRUCTURE = frozenset({"created", "updated", "deleted"})
_RETRY_S = (0.5, 1.0, 2.0, 5.0)
_CHUNK = 5_000
"""Events per socket write (about 2 MB of CloudEvents)."""


class MqttEventPublisher:
    """A ``Service``: ``start`` connects in the background and follows the hub; ``stop`` ends it."""

    def __init__(self, twin: Twin, settings: MqttEvents, hub: EventHub, stats: EventStats) -> None:
        self.twin = twin
        self.settings = settings
        self.hub = hub
        self.stats = stats
        self.connected = False
        self.cursor = 0
        self._endpoint = Endpoint.from_url(settings.url, settings.username, settings.password, settings.tls)
        self._task: asyncio.Task[None] | None = None
        self._encode = self._async_aas if settings.topic_layout == "async-aas" else self._basyx

    async def start(self) -> None:
        self.cursor = self.hub.head  # what happens from now on
        self.stats.queue_depths["mqtt"] = lambda: min(self.hub.head - self.cursor, self.hub.size)
        # overwritten before this publisher read them (an absent broker): counted at once, not on reconnect
        self.stats.queue_drops["mqtt"] = lambda: max(0, self.hub.head - self.hub.size - self.cursor)
        self._task = asyncio.create_task(self._run(), name="mqtt events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.stats.queue_depths.pop("mqtt", None)
        self.stats.queue_drops.pop("mqtt", None)
        self._task = None

    def banner_lines(self) -> list[str]:
        return [f"  MQTT events ({self.settings.topic_layout}) to {self.settings.url}"]

    async def _run(self) -> None:
        failures = 0
        client_id = self.settings.client_id or f"twinbridge-events-{self.hub.boot}"
        while True:
            wire = MqttWire(self._endpoint, client_id, keepalive_s=self.settings.keepalive_s)
            try:
                await wire.connect()
                self.connected, failures = True, 0
                log.info("publishing events to %s", self.settings.url)
                await self._follow(wire)
                return  # the hub stopped
            except (MqttWireError, OSError, TimeoutError) as error:
                log.warning("MQTT events: broker %s: %s; retrying (%d events behind)", self.settings.url,
                            describe(error), self.hub.head - self.cursor)
            finally:
                self.connected = False
                await wire.close()
            await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
            failures += 1

    async def _follow(self, wire: MqttWire) -> None:
        hub, settings = self.hub, self.settings
        assert wire.closed is not None
        while not hub.closed:
            if hub.head <= self.cursor:
                await asyncio.wait((hub.grown(), wire.closed), return_when=asyncio.FIRST_COMPLETED)
                if wire.closed.done():
                    wire.closed.result()  # raises why the connection ended
                continue
            lost, events = hub.since(self.cursor, _CHUNK)
            if lost:
                self.stats.count("mqtt", dropped=lost)
                log.warning("MQTT events: the broker fell behind; %d events dropped", lost)
            if not events:
                continue
            if self._encode == self._async_aas:  # one topic: the batch path (no tuple per event)
                sent = wire.publish_batch(settings.topic, hub.json_many(events), settings.qos, settings.retain)
            else:
                sent = wire.publish_many(self._encode(events), settings.qos, settings.retain)
            self.cursor = events[-1].seq
            if settings.qos:
                await wire.acknowledged()
            await wire.drain()
            self.stats.count("mqtt", published=sent)

    # ------------------------------------------------------------ layouts
    def _async_aas(self, events: list[Logged]) -> Iterator[Message]:
        topic, encode = self.settings.topic, self.hub.json
        for logged in events:
            yield topic, encode(logged)

    def _basyx(self, events: list[Logged]) -> Iterator[Message]:
        sm_repo = f"sm-repository/{self.settings.repo_id}/submodels"
        for logged in events:
            event = logged.event
            kind = event.type
            if kind == "valueChanged":
                handle = self.twin.find_live(event.identifier, event.path or "")
                if handle is None or handle.element is None:
                    continue
                yield (f"{sm_repo}/{encode_id(event.identifier)}/submodelElements/{event.path}/updated",
                       documents.encode(handle.element))
            elif kind not in _STRUCTURE:
                continue  # writes and alarms have no BaSyx topic
            elif event.object_kind is ObjectKind.SUBMODEL and event.path is not None:
                payload = event.data if event.data is not None else {"idShort": event.path.rsplit(".", 1)[-1]}
                yield (f"{sm_repo}/{encode_id(event.identifier)}/submodelElements/{event.path}/{kind}",
                       orjson.dumps(payload))
            elif event.object_kind is ObjectKind.SUBMODEL:
                yield f"{sm_repo}/{kind}", orjson.dumps(event.data if event.data is not None
                                                        else {"id": event.identifier})
            elif event.object_kind is ObjectKind.SHELL:
                yield (f"aas-repository/{self.settings.aas_repo_id}/shells/{kind}",
                       orjson.dumps(event.data if event.data is not None else {"id": event.identifier}))
