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

The publisher never slows ingest: it has its own bus subscription in EVERY mode bounded by
``capacity``; while the broker is slow or absent that queue fills and then drops the oldest
events, counted in ``EventStats`` and logged. Encoding happens in the publisher's task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import aiomqtt
import orjson

from twinbridge.aas import documents
from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Subscription
from twinbridge.aas.events import ChangeKind, ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.adapters.mqtt.config import MqttSource
from twinbridge.adapters.mqtt.connection import client_options
from twinbridge.adapters.supervisor import describe
from twinbridge.server.api.ids import encode_id
from twinbridge.server.events.model import EventIds, structure_event, value_event
from twinbridge.server.events.settings import MqttEvents
from twinbridge.server.events.stats import EventStats

log = logging.getLogger(__name__)

Message = tuple[str, bytes]
_BASYX_KINDS = {ChangeKind.CREATED: "created", ChangeKind.REPLACED: "updated", ChangeKind.UPDATED: "updated",
                ChangeKind.DELETED: "deleted"}
_RETRY_S = (0.5, 1.0, 2.0, 5.0)
_CHUNK = 1_000


class MqttEventPublisher:
    """A ``Service``: ``start`` subscribes and connects in the background; ``stop`` ends both."""

    def __init__(self, twin: Twin, settings: MqttEvents, base_url: str, stats: EventStats,
                 ids: EventIds | None = None) -> None:
        self.twin = twin
        self.settings = settings
        self.base_url = base_url
        self.stats = stats
        self.ids = ids if ids is not None else EventIds()
        self.connected = False
        self._options = client_options(MqttSource(
            name="events", url=settings.url, username=settings.username, password=settings.password,
            client_id=settings.client_id, keepalive_s=settings.keepalive_s, tls=settings.tls,
        ))
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._encode = self._async_aas if settings.topic_layout == "async-aas" else self._basyx

    async def start(self) -> None:
        self._subscription = self.twin.bus.subscribe(mode=DeliveryMode.EVERY, capacity=self.settings.capacity,
                                                     structure_capacity=self.settings.capacity)
        subscription = self._subscription
        self.stats.queue_depths["mqtt"] = lambda: subscription.depth
        self.stats.queue_drops["mqtt"] = lambda: subscription.dropped
        self._task = asyncio.create_task(self._run(subscription), name="mqtt events")

    async def stop(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.stats.queue_depths.pop("mqtt", None)
        self.stats.queue_drops.pop("mqtt", None)
        self._task = self._subscription = None

    def banner_lines(self) -> list[str]:
        return [f"  MQTT events ({self.settings.topic_layout}) to {self.settings.url}"]

    async def _run(self, subscription: Subscription) -> None:
        failures = 0
        while True:
            try:
                async with aiomqtt.Client(**self._options) as client:
                    client.pending_calls_threshold = _CHUNK  # a chunk in flight is expected, not a warning
                    self.connected, failures = True, 0
                    log.info("publishing events to %s", self.settings.url)
                    async for batch in subscription:
                        await self._publish(client, batch)
                    return  # the subscription was closed: stopping
            except aiomqtt.MqttError as error:
                # what was in hand is lost (counted in _publish); what arrives meanwhile waits, bounded
                log.warning("MQTT events: broker %s: %s; retrying (%d events dropped so far)", self.settings.url,
                            describe(error), subscription.dropped)
            finally:
                self.connected = False
            await asyncio.sleep(_RETRY_S[min(failures, len(_RETRY_S) - 1)])
            failures += 1

    async def _publish(self, client: aiomqtt.Client, batch: ChangeBatch) -> None:
        if batch.dropped or batch.overflowed:  # counted by the queue itself (EventStats.queue_drops)
            log.warning("MQTT events: the broker fell behind; %d value events dropped%s", batch.dropped,
                        " and structure events lost" if batch.overflowed else "")
        messages = list(self._encode(batch))
        qos, retain = self.settings.qos, self.settings.retain
        sent = 0
        try:
            # A chunk is awaited together (QoS 1/2: one wait for all acknowledgements, not one round
            # trip each); chunks bound the futures in flight. The ceiling is paho's one send() per
            # message (bench_events.py: ~6,000 msg/s at load 4-5 on 2 cores, also for raw aiomqtt).
            for start in range(0, len(messages), _CHUNK):
                chunk = messages[start:start + _CHUNK]
                await asyncio.gather(*(client.publish(topic, payload, qos=qos, retain=retain)
                                       for topic, payload in chunk))
                sent += len(chunk)
        finally:
            self.stats.count("mqtt", published=sent, dropped=len(messages) - sent)

    # ------------------------------------------------------------ layouts
    def _async_aas(self, batch: ChangeBatch) -> Iterator[Message]:
        topic, ids, base = self.settings.topic, self.ids, self.base_url
        for change in batch.structure:
            yield topic, orjson.dumps(structure_event(change, self.twin).encode(ids.next(), base))
        for value in batch.values:
            yield topic, orjson.dumps(value_event(value).encode(ids.next(), base))

    def _basyx(self, batch: ChangeBatch) -> Iterator[Message]:
        sm_repo = f"sm-repository/{self.settings.repo_id}/submodels"
        for change in batch.structure:
            kind = _BASYX_KINDS[change.kind]
            event = structure_event(change, self.twin)
            if change.object_kind is ObjectKind.SUBMODEL and change.path is not None:
                payload = event.data if event.data is not None else {"idShort": change.path.rsplit(".", 1)[-1]}
                topic = f"{sm_repo}/{encode_id(change.identifier)}/submodelElements/{change.path}/{kind}"
            elif change.object_kind is ObjectKind.SUBMODEL:
                payload = event.data if event.data is not None else {"id": change.identifier}
                topic = f"{sm_repo}/{kind}"
            elif change.object_kind is ObjectKind.SHELL:
                payload = event.data if event.data is not None else {"id": change.identifier}
                topic = f"aas-repository/{self.settings.aas_repo_id}/shells/{kind}"
            else:
                continue
            yield topic, orjson.dumps(payload)
        for value in batch.values:
            handle = value.element
            element = handle.element
            if element is None:
                continue
            topic = f"{sm_repo}/{encode_id(handle.submodel_id)}/submodelElements/{handle.path}/updated"
            yield topic, documents.encode(element)

