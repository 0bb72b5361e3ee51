"""The live mirror: change bus → OPC UA Value nodes, and structure events → node edits.

Values take the fastest path asyncua offers: the DataValue goes straight into the node's
Value attribute and its monitored-item callbacks (what ``write_attribute_value`` does, minus
the NodeId and attribute lookups and the type check, which the codec already guarantees).
The bus coalesces per element, so a burst of changes never stalls ingest: the mirror sees
the latest value of each element when it gets to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Awaitable, Callable

from asyncua import ua
from basyx.aas import model

from twinbridge.aas.bus import ChangeBatch, Follower
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ChangeKind, ObjectKind, StructureChanged, ValueChanged
from twinbridge.aas.live import LiveElement
from twinbridge.aas.paths import PathError, format_path, parse
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.builder import EnvironmentBuilder, ValueNode, element_node_id
from twinbridge.server.opcua.datatypes import codec_for, data_value, utc

_log = logging.getLogger(__name__)
_YIELD_EVERY = 256

AfterStructure = Callable[[bool], Awaitable[None]]
"""Called after structure events were applied; the flag says whether shells/submodels changed."""


async def publish(entry: ValueNode, value: ua.DataValue) -> None:
    """Store ``value`` in the node and notify its monitored items."""
    attribute = entry.attribute
    attribute.value = value
    callbacks = attribute.datachange_callbacks
    if callbacks:
        for handle, callback in tuple(callbacks.items()):
            try:
                await callback(handle, value)
            except Exception:
                _log.exception("monitored item callback failed for %s", entry.node_id)


class Mirror:
    def __init__(self, twin: Twin, builder: EnvironmentBuilder, after_structure: AfterStructure) -> None:
        self._twin = twin
        self._builder = builder
        self._after_structure = after_structure
        self._by_key: dict[int, ValueNode] = {}
        self._follower = Follower(twin.bus, self._on_batch, "OPC UA mirror")
        self.applied = 0
        """Value changes written into the address space (benchmarks read it)."""

    def subscribe(self) -> None:
        """Start collecting changes (call before building the address space)."""
        self._follower.subscribe()

    def start(self) -> None:
        """Start applying what was collected and everything after it."""
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def echo(self, entry: ValueNode, handle: LiveElement) -> None:
        """Show a value the twin just accepted from an OPC UA client without waiting for the bus."""
        element = handle.element
        if isinstance(element, model.Property) and entry.codec is not None:
            now = datetime.datetime.now(datetime.UTC)
            await publish(entry, data_value(entry.codec, element.value, handle.quality,
                                            utc(handle.timestamp) or now, now))

    async def _on_batch(self, batch: ChangeBatch) -> None:
        # Value writes of non-Property kinds (Range, MultiLanguageProperty, File...) arrive as
        # ValueChanged since issue 8; until they get value nodes of their own, rebuild that element.
        structure = batch.structure + [
            StructureChanged(ChangeKind.UPDATED, ObjectKind.SUBMODEL, event.element.submodel_id, event.element.path)
            for event in batch.values if not isinstance(event.element.element, model.Property)
        ]
        if structure:
            await self._apply_structure(structure)
        if batch.values:
            await self._apply_values(batch.values)

    async def _apply_values(self, events: list[ValueChanged]) -> None:
        now = datetime.datetime.now(datetime.UTC)
        by_key = self._by_key
        by_path = self._builder.by_path
        for count, event in enumerate(events, 1):
            if not count % _YIELD_EVERY:
                await asyncio.sleep(0)  # a large batch must not starve publish responses and REST
            handle = event.element
            entry = by_key.get(handle.key)
            if entry is None:
                entry = by_path.get((handle.submodel_id, handle.path))
                if entry is None or entry.codec is None:
                    continue
                by_key[handle.key] = entry
            await publish(entry, data_value(entry.codec, event.value, event.quality,  # type: ignore[arg-type]
                                            utc(event.timestamp), now))
        self.applied += len(events)

    async def _apply_structure(self, events: list[StructureChanged]) -> None:
        self._by_key.clear()
        containers_changed = False
        for event in events:
            try:
                if event.object_kind is ObjectKind.SHELL:
                    self._sync_shell(event.identifier)
                    containers_changed = True
                elif event.object_kind is ObjectKind.SUBMODEL:
                    if event.path is None:
                        self._sync_submodel(event.identifier)
                        containers_changed = True
                    else:
                        await self._sync_element(event)
            except Exception:
                _log.exception("OPC UA mirror could not apply %s", event)
        await self._after_structure(containers_changed)

    def _sync_shell(self, shell_id: str) -> None:
        builder = self._builder
        builder.remove_shell(shell_id)
        shell = self._twin.shells.get(shell_id)
        if shell is not None:
            builder.add_shell(shell)

    def _sync_submodel(self, submodel_id: str) -> None:
        builder = self._builder
        builder.remove_submodel(submodel_id)
        submodel = self._twin.submodels.get(submodel_id)
        if submodel is not None:
            builder.add_submodel(submodel)

    async def _sync_element(self, event: StructureChanged) -> None:
        submodel_id, path = event.identifier, event.path
        assert path is not None
        if event.kind is ChangeKind.UPDATED and await self._refresh_property(submodel_id, path):
            return
        try:
            segments = parse(path)
        except PathError:
            return
        # list items are addressed by index: an insert or delete shifts siblings, so rebuild the list
        while len(segments) > 1 and isinstance(segments[-1], int):
            segments = segments[:-1]
        target = format_path(segments)
        self._builder.remove_element(submodel_id, target)
        with contextlib.suppress(NotFound):
            self._builder.add_element(submodel_id, target)

    async def _refresh_property(self, submodel_id: str, path: str) -> bool:
        """An in-place edit of a Property ($value, $metadata PATCH): update its Value node only."""
        entry = self._builder.by_path.get((submodel_id, path))
        if entry is None or entry.codec is None:
            return False
        try:
            element = self._twin.element(submodel_id, path)
        except NotFound:
            return False
        if not isinstance(element, model.Property) or codec_for(element.value_type) is not entry.codec:
            return False
        if element_node_id(self._builder.ns, submodel_id, path) not in self._builder.factory.aspace:
            return False
        handle = self._twin.find_live(submodel_id, path)
        now = datetime.datetime.now(datetime.UTC)
        quality = handle.quality if handle is not None else Quality.GOOD
        source = utc(handle.timestamp) if handle is not None and handle.timestamp else now
        await publish(entry, data_value(entry.codec, element.value, quality, source, now))
        return True
