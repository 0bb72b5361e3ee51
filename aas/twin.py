"""The twin: the one write path into the AAS model, and the source of every change event.

REST, OPC UA, adapters and analytics all mutate the model through these methods; nothing
else touches basyx objects. The twin owns the rules of writing:

- ``write_value`` is the one client write entry: device write-back for a bound element with a
  writer, refusal (NotWritable) for a device-fed element without one, otherwise a stored value
  change. A value change publishes ``ValueChanged`` and logs only that element: O(1) in the
  size of its submodel (one store row, no re-encoding, no structure event).
- ``update`` is the device hot path: one in-memory write, one bus event, no I/O; the value is
  marked dirty and the periodic ``flush`` logs only the dirty elements' values.
- Structural edits of elements log the element they change (cost in proportion to it); edits of
  whole identifiables save their document. Replacing, modifying or deleting a device-fed element
  (or a container holding one) is refused: its binding would write into a detached object.

Persistence (documents, the element log and its compaction, the flush) is ``TwinStorage``, in
``aas/twin_storage.py``; following changes the twin did not make (other instances', a refused
write) is ``TwinSync``, in ``aas/twin_sync.py``; the reads are ``TwinReads``, in ``aas/twin_reads.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, MutableMapping
from types import MappingProxyType
from typing import Any, Literal, overload

from basyx.aas import model

from twinbridge.aas import documents, paths, tree, values
from twinbridge.aas.bus import ChangeBus
from twinbridge.aas.compat_basyx import assign_value
from twinbridge.aas.errors import Conflict, InvalidInput, NotFound, NotWritable
from twinbridge.aas.events import (
    ChangeKind,
    DeviceWrite,
    ObjectKind,
    Origin,
    StructureChanged,
    WriteStage,
)
from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.live import DeviceWriter, LiveElement, SubmodelState, first_semantic_key
from twinbridge.aas.quality import Quality
from twinbridge.aas.resident import ResidentTable
from twinbridge.aas.store import (
    DeleteDocument,
    ElementOp,
    LogElement,
    MemoryStore,
    Store,
    StoreWriter,
)
from twinbridge.aas.store.base import CachingStore, ShellSource
from twinbridge.aas.twin_reads import TwinReads
from twinbridge.aas.twin_storage import LABELS
from twinbridge.aas.twin_sync import Identifiable
from twinbridge.aas.values import ElementValue, PropertyValue

_KINDS: dict[type, ObjectKind] = {
    model.AssetAdministrationShell: ObjectKind.SHELL,
    model.Submodel: ObjectKind.SUBMODEL,
    model.ConceptDescription: ObjectKind.CONCEPT_DESCRIPTION,
}


def kind_of(obj: model.Identifiable) -> ObjectKind:
    kind = _KINDS.get(type(obj))
    if kind is None:
        for cls, candidate in _KINDS.items():
            if isinstance(obj, cls):
                return candidate
        raise InvalidInput(f"{type(obj).__name__} is not a shell, submodel or concept description")
    return kind


class Twin(TwinReads):
    """Shells, submodels and concept descriptions, with their live values and change bus."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = StoreWriter(store if store is not None else MemoryStore())
        self.bus = ChangeBus()
        self.write_listeners: list[Callable[[DeviceWrite], None]] = []
        """Told of every client write to a device-fed element (requested/accepted/refused): the
        event channels; called synchronously and must not block."""
        self._shells: MutableMapping[str, model.AssetAdministrationShell] = {}
        self._submodels: MutableMapping[str, model.Submodel] = {}
        self._concept_descriptions: dict[str, model.ConceptDescription] = {}
        backend = self.store.backend
        self.resident: ResidentTable[model.Submodel] | None = None
        """The bounded cache of submodels (a store URL's ``?cache=N``, ``aas.resident``); None: all in memory."""
        self.resident_shells: ResidentTable[model.AssetAdministrationShell] | None = None
        """The bounded cache of shells (the same N; concept descriptions all stay in memory)."""
        self.shell_source: ShellSource | None = None
        """With bounded shells: the store's SQL over them (``referencing_shells``, the REST list)."""
        if isinstance(backend, CachingStore) and backend.resident_limit is not None:
            self.resident = self._submodels = ResidentTable(
                ObjectKind.SUBMODEL, backend.documents(), backend.resident_limit, self.store,
                self._read_submodel, lambda identifier, version: backend.remember_version(
                    ObjectKind.SUBMODEL, identifier, version), self._pinned, self._evicted)
            self.resident_shells = self._shells = ResidentTable(
                ObjectKind.SHELL, backend.documents(), backend.resident_limit, self.store,
                self._read_shell, lambda identifier, version: backend.remember_version(
                    ObjectKind.SHELL, identifier, version), self._shell_pinned, lambda identifier: None)
            self.shell_source = backend.shell_source()
        self._tables: dict[ObjectKind, MutableMapping[str, Identifiable]] = {
            ObjectKind.SHELL: self._shells,  # type: ignore[dict-item]
            ObjectKind.SUBMODEL: self._submodels,  # type: ignore[dict-item]
            ObjectKind.CONCEPT_DESCRIPTION: self._concept_descriptions,  # type: ignore[dict-item]
        }
        self._views = (MappingProxyType(self._shells), MappingProxyType(self._submodels),  # type: ignore[arg-type]
                       MappingProxyType(self._concept_descriptions))
        self._states: dict[str, SubmodelState] = {}
        self._compact_after: dict[str, int] = {}
        self._live: dict[tuple[str, str], LiveElement] = {}
        self._live_by_submodel: dict[str, list[LiveElement]] = {}
        self._bound: set[LiveElement] = set()
        self._dirty: list[LiveElement] = []
        self._versions: dict[tuple[ObjectKind, str], int] = {}  # shells' and CDs' (submodels: revision)
        self._next_key = 0
        self._revision_base = 0  # a bounded cache's states start past every revision an evicted one reached
        self._values_in_place = self.store.backend.values_in_place
        self._completers: list[Callable[[model.Identifiable], None]] = []
        self._deferred: dict[tuple[ObjectKind, str], None] = {}
        self._deferring = False
        self.serving = asyncio.Event()
        """Set while nothing holds back work that can wait. The application clears it until its
        HTTP endpoint listens, so what start-up defers to then (``save_deferred``, the journal's
        baseline) does not delay the first answer; a twin on its own has it set."""
        self.serving.set()
        # One pause for the whole load: each document's decode pauses the collector too, but
        # re-enabling it after each let collections rescan the growing heap (a restart of the
        # 1,000-machine plant spent more CPU in them than in decoding).
        loaded = backend.load_kinds((ObjectKind.CONCEPT_DESCRIPTION,)) \
            if self.resident is not None and isinstance(backend, CachingStore) else backend.load()
        with collector_paused():
            for stored in loaded:
                self._tables[stored.kind][stored.identifier] = self._read(stored)  # type: ignore[assignment]
        self.store.on_failure = self._restore

    # ------------------------------------------------------- identifiables
    def create(self, obj: model.Identifiable, *, origin: Origin | None = None) -> None:
        kind = kind_of(obj)
        table = self._tables[kind]
        if obj.id in table:
            raise Conflict(f"a {LABELS[kind]} with id {obj.id!r} already exists")
        for complete in self._completers:
            complete(obj)
        if self._deferring:
            self._deferred[(kind, obj.id)] = None
        else:
            self._save(kind, obj)
        table[obj.id] = obj  # type: ignore[assignment]
        self._structure_changed(ChangeKind.CREATED, kind, obj.id, origin)

    def replace(self, obj: model.Identifiable, *, origin: Origin | None = None) -> None:
        """Replace an existing identifiable by id; live handles follow to the new elements."""
        kind = kind_of(obj)
        table = self._tables[kind]
        if obj.id not in table:
            raise NotFound(f"no {LABELS[kind]} with id {obj.id!r}")
        for complete in self._completers:
            complete(obj)
        self._save(kind, obj)
        table[obj.id] = obj  # type: ignore[assignment]
        self._structure_changed(ChangeKind.REPLACED, kind, obj.id, origin)

    @contextlib.contextmanager
    def completing(self, complete: Callable[[model.Identifiable], None]) -> Iterator[None]:
        """While the block runs, ``complete`` finishes each identifiable created or replaced before
        it is stored: start-up puts the history segments into Time Series submodels as the plant
        is built (one structural edit each afterwards re-encoded 6,111 submodels twice: ~20 s)."""
        self._completers.append(complete)
        try:
            yield
        finally:
            self._completers.remove(complete)

    def upsert(self, obj: model.Identifiable, *, origin: Origin | None = None) -> bool:
        """Create or replace; True when it was created (imports use this)."""
        if obj.id in self._tables[kind_of(obj)]:
            self.replace(obj, origin=origin)
            return False
        self.create(obj, origin=origin)
        return True

    def delete(self, kind: ObjectKind, identifier: str, *, origin: Origin | None = None) -> None:
        table = self._tables[kind]
        if identifier not in table:
            raise NotFound(f"no {LABELS[kind]} with id {identifier!r}")
        self._deferred.pop((kind, identifier), None)  # never stored: the delete below is a no-op for it
        self.store.submit([DeleteDocument(kind, identifier)])
        del table[identifier]
        self._structure_changed(ChangeKind.DELETED, kind, identifier, origin)

    @overload
    def modify(self, kind: Literal[ObjectKind.SHELL], identifier: str,
               change: Callable[[model.AssetAdministrationShell], None], *, origin: Origin | None = None) -> None: ...
    @overload
    def modify(self, kind: Literal[ObjectKind.SUBMODEL], identifier: str,
               change: Callable[[model.Submodel], None], *, origin: Origin | None = None) -> None: ...
    @overload
    def modify(self, kind: Literal[ObjectKind.CONCEPT_DESCRIPTION], identifier: str,
               change: Callable[[model.ConceptDescription], None], *, origin: Origin | None = None) -> None: ...
    @overload
    def modify(self, kind: ObjectKind, identifier: str, change: Callable[[Identifiable], None], *,
               origin: Origin | None = None) -> None: ...

    def modify(self, kind: ObjectKind, identifier: str, change: Callable[[Any], None], *,
               origin: Origin | None = None) -> None:
        """Apply ``change`` to an identifiable in place (PATCH, $metadata, submodel-refs...).

        ``change`` must validate before it mutates: if it raises, the twin stays as it was.
        """
        obj = self.get(kind, identifier)
        change(obj)
        self._save(kind, obj)
        self._structure_changed(ChangeKind.UPDATED, kind, identifier, origin)

    # ------------------------------------------------------------ elements
    def add_element(self, submodel_id: str, parent_path: str | None, element: model.SubmodelElement, *,
                    origin: Origin | None = None) -> str:
        """Append a new element to the submodel or to a container element; returns its path."""
        submodel = self.submodel(submodel_id)
        parent: model.Referable = self.element(submodel_id, parent_path) if parent_path else submodel
        tree.add(parent, element, parent_path or "the submodel")
        path = paths.path_of(element)
        self._element_changed(ChangeKind.CREATED, submodel, path, ElementOp.ADD, element, origin)
        return path

    def replace_element(self, submodel_id: str, path: str, element: model.SubmodelElement, *,
                        origin: Origin | None = None) -> None:
        """Swap the element at ``path`` for ``element`` keeping its position."""
        submodel = self.submodel(submodel_id)
        old = self.element(submodel_id, path)
        self._refuse_device_fed(submodel_id, path, "replaced")
        tree.swap(old, element, path)
        self._element_changed(ChangeKind.REPLACED, submodel, path, ElementOp.REPLACE, element, origin)

    async def put_element(self, submodel_id: str, path: str, element: model.SubmodelElement, *,
                          origin: Origin | None = None) -> None:
        """A client's whole element (REST PUT/PATCH of an element): if it differs from the stored
        one only in its value, it is a value write with ``write_value``'s rules (write-back,
        refusal, one log row, no structure event); otherwise the element is replaced."""
        old = self.element(submodel_id, path)
        kind = values.find_value_kind(old)
        if kind is not None and type(element) is type(old) and values.differs_only_in_value(old, element, kind):
            await self.write_value(self.live(submodel_id, path), kind.read(element), origin=origin)
            return
        self.replace_element(submodel_id, path, element, origin=origin)

    def delete_element(self, submodel_id: str, path: str, *, origin: Origin | None = None) -> None:
        submodel = self.submodel(submodel_id)
        element = self.element(submodel_id, path)
        self._refuse_device_fed(submodel_id, path, "deleted")
        tree.remove(element, path)
        self._element_changed(ChangeKind.DELETED, submodel, path, ElementOp.DELETE, None, origin)

    def modify_element(self, submodel_id: str, path: str, change: Callable[[model.SubmodelElement], None], *,
                       origin: Origin | None = None) -> None:
        """Apply ``change`` to one element in place ($metadata, a container's $value...).

        ``change`` must validate before it mutates. A structural change of the element: its
        subtree is logged, a structure event published. A single value goes through ``write_value``.
        """
        submodel = self.submodel(submodel_id)
        element = self.element(submodel_id, path)
        self._refuse_device_fed(submodel_id, path, "modified", below_only=True)
        change(element)
        self._element_changed(ChangeKind.UPDATED, submodel, path, ElementOp.REPLACE, element, origin)

    # --------------------------------------------------------------- values
    def update(self, handle: LiveElement, value: PropertyValue | None, timestamp: float | None = None,
               quality: Quality = Quality.GOOD, origin: Origin | None = None) -> None:
        """The hot path: one in-memory write and one bus event. ``value`` must already have the
        element's Python type (adapters decode to it); a None value only changes quality."""
        element = handle.element
        if element is None:
            return
        if value is not None:
            assign_value(element, value)
        else:
            value = element.value  # type: ignore[attr-defined]
        if timestamp is None:
            timestamp = time.time()
        handle.timestamp = timestamp
        handle.quality = quality
        handle.state.revision += 1
        if not handle.dirty:
            handle.dirty = True
            self._dirty.append(handle)
        self.bus.publish_value(handle, value, timestamp, quality, origin)

    def set_quality(self, handle: LiveElement, quality: Quality, timestamp: float | None = None) -> None:
        """Mark a value Bad/Uncertain (device lost) or Good again without changing it."""
        self.update(handle, None, timestamp, quality)

    async def write_value(self, handle: LiveElement, value: object, *, origin: Origin | None = None) -> None:
        """A client (REST, OPC UA, analytics) writes an element's value: THE client write entry.

        Raises WriteRejected when the value does not fit the element; NotWritable when the
        element has no single value or a device feeds it without write-back. Bound with
        write-back: the device must accept it first (its exception reaches the caller as is).
        Otherwise the value is stored: one ``ValueChanged``, one element-log row. Await
        ``persisted()`` before acknowledging the write to a client.
        """
        element = handle.element
        if element is None:
            raise NotFound(f"{handle.path} no longer exists in submodel {handle.submodel_id!r}")
        kind = values.value_kind(element, handle.path)
        typed = kind.coerce(element, value, handle.path)
        writer = handle.writer
        if writer is not None:
            self._device_write(WriteStage.REQUESTED, handle, typed, origin)
            try:
                await writer(typed)
            except Exception as error:
                self._device_write(WriteStage.REFUSED, handle, typed, origin, str(error) or type(error).__name__)
                raise
            self._device_write(WriteStage.ACCEPTED, handle, typed, origin)
            if handle.element is not element:  # replaced while the device answered: it holds the value now
                return
            kind.assign(element, typed)
            self._value_changed(handle, typed, origin, kind.dump(element))
            if not handle.dirty:
                handle.dirty = True
                self._dirty.append(handle)
            return
        if handle in self._bound:
            self._device_write(WriteStage.REFUSED, handle, typed, origin, "fed by a device without write-back")
            raise NotWritable(f"{handle.path} is fed by a device and has no write-back")
        kind.assign(element, typed)
        body = kind.dump(element)
        self._value_changed(handle, typed, origin, body)
        if self._saved_first(ObjectKind.SUBMODEL, handle.submodel_id):
            return
        self.store.submit([LogElement(handle.submodel_id, ElementOp.VALUE, handle.path, body)])
        if not self._values_in_place:
            state = handle.state
            state.logged += 1
            self._compact_if_due(state)

    def bind(self, handle: LiveElement, writer: DeviceWriter | None = None) -> None:
        """Declare that a device feeds ``handle``; ``writer`` (a DeviceWriter) enables write-back."""
        self._bound.add(handle)
        handle.writer = writer
        handle.quality = Quality.UNCERTAIN

    def is_bound(self, handle: LiveElement) -> bool:
        return handle in self._bound

    # ------------------------------------------------------------- internal
    def _value_changed(self, handle: LiveElement, value: ElementValue, origin: Origin | None, logged: bytes) -> None:
        now = time.time()
        handle.timestamp, handle.quality = now, Quality.GOOD
        handle.state.revision += 1
        self.bus.publish_value(handle, value, now, Quality.GOOD, origin, logged)

    def _device_write(self, stage: WriteStage, handle: LiveElement, value: ElementValue, origin: Origin | None,
                      reason: str | None = None) -> None:
        if self.write_listeners:
            write = DeviceWrite(stage, handle, value, origin, time.time(), reason)
            for listener in self.write_listeners:
                listener(write)

    def _refuse_device_fed(self, submodel_id: str, path: str, action: str, below_only: bool = False) -> None:
        """A structural edit over a device-fed element would detach it from its binding."""
        prefixes = (path + ".", path + "[")
        for handle in self._live_by_submodel.get(submodel_id, ()):
            if handle not in self._bound:
                continue
            if handle.path.startswith(prefixes) or (handle.path == path and not below_only):
                raise NotWritable(
                    f"{path} cannot be {action}: {handle.path} is fed by a device "
                    "(write its value instead, or remove the binding)"
                )

    def _element_changed(self, kind: ChangeKind, submodel: model.Submodel, path: str, op: ElementOp,
                         element: model.SubmodelElement | None, origin: Origin | None) -> None:
        body = None
        if element is not None:
            try:
                body = documents.encode(element)  # type: ignore[arg-type]
            except (TypeError, ValueError, AttributeError) as error:
                raise InvalidInput(f"{path} cannot be serialized: {error}") from None
        state = self._state(submodel.id)
        state.revision += 1
        if not self._saved_first(ObjectKind.SUBMODEL, submodel.id):
            state.logged += 1
            self.store.submit([LogElement(submodel.id, op, path, body)])
            self._compact_if_due(state)
        if kind is not ChangeKind.UPDATED:
            self._reresolve(submodel.id)
        self.bus.publish_structure(StructureChanged(kind, ObjectKind.SUBMODEL, submodel.id, path, origin))

    def _structure_changed(self, kind: ChangeKind, object_kind: ObjectKind, identifier: str,
                           origin: Origin | None) -> None:
        if object_kind is ObjectKind.SUBMODEL:
            if self.resident is None or identifier in self._states or self.resident.resident(identifier):
                self._state(identifier).revision += 1  # (no bookkeeping for what a bounded cache left out)
            self._reresolve(identifier)
        else:
            key = (object_kind, identifier)
            self._versions[key] = self._versions.get(key, 0) + 1
        self.bus.publish_structure(StructureChanged(kind, object_kind, identifier, None, origin))

    def _reresolve(self, submodel_id: str) -> None:
        handles = self._live_by_submodel.get(submodel_id)
        if not handles:
            return
        submodel = self._submodels.get(submodel_id)
        for handle in handles:
            try:
                handle.element = paths.resolve(submodel, handle.path) if submodel is not None else None
            except paths.PathError:
                handle.element = None
            handle.semantic_id = first_semantic_key(handle.element)

