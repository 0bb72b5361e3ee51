"""The twin: the one write path into the AAS model, and the source of every change event.

REST, OPC UA, adapters and analytics all mutate the model through these methods; nothing
else touches basyx objects. Structural writes persist at once; live value updates
(``Twin.update``) stay in memory and mark their submodel dirty for the periodic ``flush``,
so the hot path does no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from basyx.aas import model

from twinbridge.aas import documents, paths
from twinbridge.aas.bus import ChangeBus
from twinbridge.aas.errors import Conflict, InvalidInput, NotFound, NotWritable, WriteRejected
from twinbridge.aas.events import ChangeKind, ObjectKind, StructureChanged, ValueChanged
from twinbridge.aas.live import LiveElement, SubmodelState
from twinbridge.aas.quality import Quality
from twinbridge.aas.store import MemoryStore, Store

_KINDS: dict[type, ObjectKind] = {
    model.AssetAdministrationShell: ObjectKind.SHELL,
    model.Submodel: ObjectKind.SUBMODEL,
    model.ConceptDescription: ObjectKind.CONCEPT_DESCRIPTION,
}
_LABELS = {
    ObjectKind.SHELL: "AssetAdministrationShell",
    ObjectKind.SUBMODEL: "Submodel",
    ObjectKind.CONCEPT_DESCRIPTION: "ConceptDescription",
}

E = TypeVar("E", bound=model.Referable)


def kind_of(obj: model.Identifiable) -> ObjectKind:
    for cls, kind in _KINDS.items():
        if isinstance(obj, cls):
            return kind
    raise InvalidInput(f"{type(obj).__name__} is not a shell, submodel or concept description")


class Twin:
    """Shells, submodels and concept descriptions, with their live values and change bus."""

    def __init__(self, store: Store | None = None) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.bus = ChangeBus()
        self._objects: dict[ObjectKind, dict[str, Any]] = {kind: {} for kind in ObjectKind}
        self._states: dict[str, SubmodelState] = {}
        self._live: dict[tuple[str, str], LiveElement] = {}
        self._live_by_submodel: dict[str, list[LiveElement]] = {}
        self._bound: set[LiveElement] = set()
        for kind, identifier, document in self.store.load_documents():
            obj = documents.decode(document)
            self._objects[kind][identifier] = obj

    # ------------------------------------------------------------------ reads
    @property
    def shells(self) -> dict[str, model.AssetAdministrationShell]:
        """Read-only view by id (insertion ordered); mutate only through the twin."""
        return self._objects[ObjectKind.SHELL]

    @property
    def submodels(self) -> dict[str, model.Submodel]:
        return self._objects[ObjectKind.SUBMODEL]

    @property
    def concept_descriptions(self) -> dict[str, model.ConceptDescription]:
        return self._objects[ObjectKind.CONCEPT_DESCRIPTION]

    def get(self, kind: ObjectKind, identifier: str) -> Any:
        try:
            return self._objects[kind][identifier]
        except KeyError:
            raise NotFound(f"no {_LABELS[kind]} with id {identifier!r}") from None

    def exists(self, kind: ObjectKind, identifier: str) -> bool:
        return identifier in self._objects[kind]

    def shell(self, identifier: str) -> model.AssetAdministrationShell:
        return self.get(ObjectKind.SHELL, identifier)  # type: ignore[no-any-return]

    def submodel(self, identifier: str) -> model.Submodel:
        return self.get(ObjectKind.SUBMODEL, identifier)  # type: ignore[no-any-return]

    def concept_description(self, identifier: str) -> model.ConceptDescription:
        return self.get(ObjectKind.CONCEPT_DESCRIPTION, identifier)  # type: ignore[no-any-return]

    def element(self, submodel_id: str, path: str) -> model.SubmodelElement:
        try:
            return paths.resolve(self.submodel(submodel_id), path)
        except paths.PathError as error:
            raise NotFound(f"submodel {submodel_id!r}: {error}") from None

    def revision(self, submodel_id: str) -> int:
        """Grows with every change to the submodel; serialization caches key on it."""
        return self._state(submodel_id).revision

    def live(self, submodel_id: str, path: str) -> LiveElement:
        """The live handle of an element, created on first use; resolve once, update often."""
        handle = self._live.get((submodel_id, path))
        if handle is None:
            element = self.element(submodel_id, path)
            handle = LiveElement(len(self._live), self._state(submodel_id), path, element)
            self._live[(submodel_id, path)] = handle
            self._live_by_submodel.setdefault(submodel_id, []).append(handle)
        return handle

    def find_live(self, submodel_id: str, path: str) -> LiveElement | None:
        """The handle if some binding or client already made one, without creating it."""
        return self._live.get((submodel_id, path))

    def live_elements(self) -> Iterator[LiveElement]:
        return iter(list(self._live.values()))

    # ------------------------------------------------------- identifiables
    def create(self, obj: model.Identifiable) -> None:
        kind = kind_of(obj)
        table = self._objects[kind]
        if obj.id in table:
            raise Conflict(f"a {_LABELS[kind]} with id {obj.id!r} already exists")
        self._persist(kind, obj)
        table[obj.id] = obj
        self._structure_changed(ChangeKind.CREATED, kind, obj.id)

    def replace(self, obj: model.Identifiable) -> None:
        """Replace an existing identifiable by id; live handles follow to the new elements."""
        kind = kind_of(obj)
        table = self._objects[kind]
        if obj.id not in table:
            raise NotFound(f"no {_LABELS[kind]} with id {obj.id!r}")
        self._persist(kind, obj)
        table[obj.id] = obj
        self._structure_changed(ChangeKind.REPLACED, kind, obj.id)

    def upsert(self, obj: model.Identifiable) -> bool:
        """Create or replace; True when it was created (imports use this)."""
        if obj.id in self._objects[kind_of(obj)]:
            self.replace(obj)
            return False
        self.create(obj)
        return True

    def delete(self, kind: ObjectKind, identifier: str) -> None:
        table = self._objects[kind]
        if identifier not in table:
            raise NotFound(f"no {_LABELS[kind]} with id {identifier!r}")
        self.store.delete_document(kind, identifier)
        del table[identifier]
        self._structure_changed(ChangeKind.DELETED, kind, identifier)

    def modify(self, kind: ObjectKind, identifier: str, change: Callable[[Any], None]) -> None:
        """Apply ``change`` to an identifiable in place (PATCH, $metadata, submodel-refs...).

        ``change`` must validate before it mutates: if it raises, the twin stays as it was.
        """
        obj = self.get(kind, identifier)
        change(obj)
        self._persist(kind, obj)
        self._structure_changed(ChangeKind.UPDATED, kind, identifier)

    # ------------------------------------------------------------ elements
    def add_element(self, submodel_id: str, parent_path: str | None, element: model.SubmodelElement) -> str:
        """Append a new element to the submodel or to a container element; returns its path."""
        submodel = self.submodel(submodel_id)
        parent: model.Referable = self.element(submodel_id, parent_path) if parent_path else submodel
        container = _container_of(parent, parent_path or "the submodel")
        if not isinstance(parent, model.SubmodelElementList) and element.id_short is None:
            raise InvalidInput("a new element needs an idShort")
        try:
            container.add(element)
        except (model.AASConstraintViolation, KeyError, ValueError, TypeError) as error:
            if "already" in str(error) or "duplicate" in str(error).lower():
                raise Conflict(f"{parent_path or 'the submodel'}: {error}") from None
            raise InvalidInput(f"{parent_path or 'the submodel'}: {error}") from None
        path = paths.path_of(element)
        self._element_changed(ChangeKind.CREATED, submodel, path)
        return path

    def replace_element(self, submodel_id: str, path: str, element: model.SubmodelElement) -> None:
        """Swap the element at ``path`` for ``element`` keeping its position."""
        submodel = self.submodel(submodel_id)
        old = self.element(submodel_id, path)
        parent = old.parent
        if isinstance(parent, model.SubmodelElementList):
            index = list(parent.value).index(old)
            items = list(parent.value)
            items[index] = element
            try:
                parent.value.clear()
                for item in items:
                    parent.value.add(item)
            except (model.AASConstraintViolation, ValueError, TypeError) as error:
                parent.value.clear()
                for item in [*items[:index], old, *items[index + 1 :]]:
                    parent.value.add(item)
                raise InvalidInput(f"{path}: {error}") from None
        else:
            if element.id_short != old.id_short:
                raise InvalidInput(
                    f"{path}: the body's idShort {element.id_short!r} differs from the path's {old.id_short!r}"
                )
            container = _container_of(parent, path)  # type: ignore[arg-type]
            ordered = list(container)
            container.discard(old)
            try:
                container.add(element)
            except (model.AASConstraintViolation, ValueError, TypeError) as error:
                container.discard(element)
                container.add(old)
                raise InvalidInput(f"{path}: {error}") from None
            _reorder(container, ordered, old, element)
        self._element_changed(ChangeKind.REPLACED, submodel, path)

    def delete_element(self, submodel_id: str, path: str) -> None:
        submodel = self.submodel(submodel_id)
        element = self.element(submodel_id, path)
        parent = element.parent
        _container_of(parent, path).remove(element)  # type: ignore[arg-type]
        self._element_changed(ChangeKind.DELETED, submodel, path)

    def modify_element(self, submodel_id: str, path: str, change: Callable[[model.SubmodelElement], None]) -> None:
        """Apply ``change`` to one element in place ($value PATCH, attachments, $metadata).

        ``change`` must validate before it mutates. Live subscribers of the element see a value
        event, everyone else a structure event for the path.
        """
        submodel = self.submodel(submodel_id)
        element = self.element(submodel_id, path)
        change(element)
        handle = self._live.get((submodel_id, path))
        if handle is not None and isinstance(element, model.Property):
            now = time.time()
            handle.timestamp, handle.quality = now, Quality.GOOD
            self.bus.publish_value(ValueChanged(handle, element.value, now, Quality.GOOD))
        self._element_changed(ChangeKind.UPDATED, submodel, path)

    # --------------------------------------------------------------- values
    def update(self, handle: LiveElement, value: Any, timestamp: float | None = None,
               quality: Quality = Quality.GOOD) -> None:
        """The hot path: one in-memory write and one bus event. ``value`` must already have the
        element's Python type (adapters decode to it); a None value only changes quality."""
        element = handle.element
        if element is None:
            return
        if value is not None:
            element.value = value  # type: ignore[attr-defined]
        else:
            value = element.value  # type: ignore[attr-defined]
        if timestamp is None:
            timestamp = time.time()
        handle.timestamp = timestamp
        handle.quality = quality
        state = handle.state
        state.revision += 1
        state.dirty = True
        self.bus.publish_value(ValueChanged(handle, value, timestamp, quality))

    def set_quality(self, handle: LiveElement, quality: Quality, timestamp: float | None = None) -> None:
        """Mark a value Bad/Uncertain (device lost) or Good again without changing it."""
        self.update(handle, None, timestamp, quality)

    async def write(self, handle: LiveElement, value: Any) -> None:
        """A client (REST, OPC UA) writes a Property value.

        Bound to a device with write-back: the device must accept it first. Bound read-only:
        refused. Unbound: stored and persisted like any REST edit.
        """
        element = handle.element
        if not isinstance(element, model.Property):
            raise NotWritable(f"{handle.path} is not a Property")
        try:
            typed = typed_value(value, element.value_type) if value is not None else None
        except (TypeError, ValueError) as error:
            raise WriteRejected(f"{handle.path}: {error}") from None
        if handle.writer is not None:
            await handle.writer(typed)
            self.update(handle, typed)
            return
        if handle in self._bound:
            raise NotWritable(f"{handle.path} is fed by a device and has no write-back")
        self.modify_element(handle.submodel_id, handle.path, lambda e: setattr(e, "value", typed))

    def bind(self, handle: LiveElement, writer: Any = None) -> None:
        """Declare that a device feeds ``handle``; ``writer`` (a DeviceWriter) enables write-back."""
        self._bound.add(handle)
        handle.writer = writer
        handle.quality = Quality.UNCERTAIN

    def is_bound(self, handle: LiveElement) -> bool:
        return handle in self._bound

    # ---------------------------------------------------------------- files
    def save_file(self, name: str, content_type: str, data: bytes) -> None:
        self.store.save_file(name, content_type, data)

    def load_file(self, name: str) -> tuple[str, bytes] | None:
        return self.store.load_file(name)

    def delete_file(self, name: str) -> None:
        self.store.delete_file(name)

    # ---------------------------------------------------------- persistence
    def flush(self) -> int:
        """Persist submodels whose live values changed since the last flush; returns how many."""
        count = 0
        with self.store.batch():
            for state in self._states.values():
                if state.dirty and state.identifier in self.submodels:
                    state.dirty = False
                    self._persist(ObjectKind.SUBMODEL, self.submodels[state.identifier])
                    count += 1
        return count

    # ------------------------------------------------------------- internal
    def _state(self, submodel_id: str) -> SubmodelState:
        state = self._states.get(submodel_id)
        if state is None:
            state = self._states[submodel_id] = SubmodelState(submodel_id)
        return state

    def _persist(self, kind: ObjectKind, obj: model.Identifiable) -> None:
        try:
            document = documents.encode(obj)
        except (TypeError, ValueError, AttributeError) as error:
            raise InvalidInput(f"{_LABELS[kind]} {obj.id!r} cannot be serialized: {error}") from None
        self.store.save_document(kind, obj.id, document)

    def _element_changed(self, kind: ChangeKind, submodel: model.Submodel, path: str) -> None:
        self._persist(ObjectKind.SUBMODEL, submodel)
        self._state(submodel.id).revision += 1
        if kind is not ChangeKind.UPDATED:
            self._reresolve(submodel.id)
        self.bus.publish_structure(StructureChanged(kind, ObjectKind.SUBMODEL, submodel.id, path))

    def _structure_changed(self, kind: ChangeKind, object_kind: ObjectKind, identifier: str) -> None:
        if object_kind is ObjectKind.SUBMODEL:
            self._state(identifier).revision += 1
            self._reresolve(identifier)
        self.bus.publish_structure(StructureChanged(kind, object_kind, identifier))

    def _reresolve(self, submodel_id: str) -> None:
        submodel = self.submodels.get(submodel_id)
        for handle in self._live_by_submodel.get(submodel_id, ()):
            try:
                handle.element = paths.resolve(submodel, handle.path) if submodel is not None else None
            except paths.PathError:
                handle.element = None


def typed_value(value: Any, value_type: type) -> Any:
    """A client's value as the element's Python type: typed JSON/OPC UA values where the
    conversion is lossless (1500 → 1500.0, 3.0 → 3), lexical strings parsed as xs values."""
    if isinstance(value, str) and not issubclass(value_type, str):
        return model.datatypes.from_xsd(value, value_type)
    if isinstance(value, bool) != (value_type is bool):
        raise TypeError(f"{value!r} is not a valid {model.datatypes.XSD_TYPE_NAMES[value_type]}")
    if isinstance(value, int) and issubclass(value_type, float):
        return value_type(value)
    if isinstance(value, float) and issubclass(value_type, int) and value.is_integer():
        return value_type(int(value))
    return model.datatypes.trivial_cast(value, value_type)


def _container_of(parent: model.Referable, where: str) -> Any:
    if isinstance(parent, model.Submodel):
        return parent.submodel_element
    if isinstance(parent, (model.SubmodelElementCollection, model.SubmodelElementList)):
        return parent.value
    if isinstance(parent, model.Entity):
        return parent.statement
    if isinstance(parent, model.AnnotatedRelationshipElement):
        return parent.annotation
    raise InvalidInput(f"{where} is a {type(parent).__name__} and cannot contain elements")


def _reorder(container: Any, ordered: list[Any], old: Any, new: Any) -> None:
    """NamespaceSets append on add; restore the original order so a PUT does not move the element."""
    items = [new if item is old else item for item in ordered]
    if list(container) == items:
        return
    container.clear()
    for item in items:
        container.add(item)
