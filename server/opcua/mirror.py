"""The live mirror: change bus → monitored OPC UA values, and structure events → stored nodes.

Reads are computed from the twin (``element_nodes``), so a value change only has to reach
the monitored items of that element: one dict lookup per change, and for a Property's Value
one DataValue encoded from the bus value itself. Every element kind with a value (Property,
Range, MultiLanguageProperty, File, Blob, ReferenceElement) publishes ``ValueChanged``; kinds
other than Property are read back from the twin, which holds the new value already. The bus
coalesces per element, so a burst never stalls ingest: the mirror sees the latest value.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable

from twinbridge.aas.bus import ChangeBatch, Follower
from twinbridge.aas.events import ObjectKind, StructureChanged, ValueChanged
from twinbridge.aas.paths import PathError, format_path, parse
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.builder import EnvironmentBuilder
from twinbridge.server.opcua.datatypes import data_value, utc
from twinbridge.server.opcua.element_nodes import ElementNodes
from twinbridge.server.opcua.model_changes import Change, ModelChanges
from twinbridge.server.opcua.watched import WatchedValue

_log = logging.getLogger(__name__)
_YIELD_EVERY = 256

AfterStructure = Callable[[bool], Awaitable[None]]
"""Called after structure events were applied; the flag says whether shells/submodels changed."""


class Mirror:
    def __init__(self, twin: Twin, builder: EnvironmentBuilder, elements: ElementNodes,
                 after_structure: AfterStructure, model_changes: ModelChanges) -> None:
        self._twin = twin
        self._builder = builder
        self._elements = elements
        self._after_structure = after_structure
        self._model_changes = model_changes
        self._follower = Follower(twin.bus, self._on_batch, "OPC UA mirror")
        self.applied = 0
        """Value changes handled (benchmarks read it)."""

    def subscribe(self) -> None:
        """Start collecting changes (call before building the address space)."""
        self._follower.subscribe()

    def start(self) -> None:
        """Start applying what was collected and everything after it."""
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def _on_batch(self, batch: ChangeBatch) -> None:
        if batch.structure:
            await self._apply_structure(batch.structure)
        if batch.values:
            await self._apply_values(batch.values)

    async def _apply_values(self, events: list[ValueChanged]) -> None:
        now = datetime.datetime.now(datetime.UTC)
        watched_of = self._elements.watchers.of
        read = self._elements.read_value
        for count, event in enumerate(events, 1):
            if not count % _YIELD_EVERY:
                await asyncio.sleep(0)  # a large batch must not starve publish responses and REST
            handle = event.element
            watched = watched_of((handle.submodel_id, handle.path))
            if watched is None:
                continue
            for value in tuple(watched.values()):
                codec = value.codec
                if codec is not None:
                    await value.notify(data_value(codec, event.value, event.quality, utc(event.timestamp), now))
                else:
                    await value.notify(read(value.node_id))
        self.applied += len(events)

    async def _apply_structure(self, events: list[StructureChanged]) -> None:
        self._elements.structure_changed()
        containers_changed = False
        watchers = self._elements.watchers
        changes: list[Change] = []
        for event in events:
            try:
                if event.object_kind is ObjectKind.SHELL:
                    self._sync_shell(event.identifier)
                    containers_changed = True
                    changes += self._model_changes.changes(event)
                    await self._refresh(watchers.within(event.identifier, None, shell=True))
                elif event.object_kind is ObjectKind.SUBMODEL:
                    if event.path is None:
                        parents = self._builder.parents_of(event.identifier)
                        self._sync_submodel(event.identifier)
                        containers_changed = True
                        parents += self._builder.parents_of(event.identifier)
                        changes += self._model_changes.changes(event, parents)
                    else:
                        changes += self._model_changes.changes(event)
                    await self._refresh(watchers.within(event.identifier, _scope(event.path)))
            except Exception:
                _log.exception("OPC UA mirror could not apply %s", event)
        await self._after_structure(containers_changed)
        await self._model_changes.emit(changes)

    async def _refresh(self, values: Iterable[WatchedValue]) -> None:
        """Monitored values below a changed node: their new value, or BadNodeIdUnknown if they went."""
        for value in values:
            target = self._elements.value_slot(value.node_id)
            if target is None:
                await value.notify_deleted()
                continue
            value.codec = target[1].codec  # a Property's valueType may have changed
            current = self._elements.read_value(value.node_id)
            if current.SourceTimestamp is None:  # an edit over REST: it happened now
                current = dataclasses.replace(current, SourceTimestamp=current.ServerTimestamp)
            await value.notify(current)

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


def _scope(path: str | None) -> str | None:
    """What an element event may have changed: the element, or the whole list whose items shifted."""
    if not path:
        return path
    try:
        segments = parse(path)
    except PathError:
        return path
    while len(segments) > 1 and isinstance(segments[-1], int):
        segments = segments[:-1]
    if isinstance(segments[-1], int):
        return ""
    return format_path(segments)
