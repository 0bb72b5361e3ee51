"""How the twin's memory follows what the store holds, when the twin itself did not make the
change: another instance's changes in a shared store (``aas.replication`` calls ``adopt``,
``adopt_value``, ``changed_elsewhere``) and a write the store refused (``_restore``). ``Twin``
inherits it; the rules of writing stay in ``aas/twin.py``.

With a bounded cache (``?cache=N``, ``aas.resident``) memory holds only some submodels and
shells: another instance's change to one it does not hold is only an event (the store is read
when the object is next asked for), and a resident copy is dropped rather than replaced
unless it is pinned (memory newer than the store).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from basyx.aas import model

from twinbridge.aas import paths, values
from twinbridge.aas.events import ChangeKind, ObjectKind, Origin
from twinbridge.aas.live import LiveElement
from twinbridge.aas.resident import ResidentTable
from twinbridge.aas.store import touched
from twinbridge.aas.store.writer import Refusal, replayed
from twinbridge.aas.twin_storage import TwinStorage
from twinbridge.aas.values import ElementValue

Identifiable = model.AssetAdministrationShell | model.Submodel | model.ConceptDescription


class TwinSync(TwinStorage):
    """The twin's side of changes it did not make (see the module docstring)."""

    _tables: dict[ObjectKind, MutableMapping[str, Identifiable]]  # type: ignore[assignment]

    if TYPE_CHECKING:  # defined by ``Twin``
        def _structure_changed(self, kind: ChangeKind, object_kind: ObjectKind, identifier: str,
                               origin: Origin | None) -> None: ...

        def _value_changed(self, handle: LiveElement, value: ElementValue, origin: Origin | None,
                           logged: bytes) -> None: ...

        def live(self, submodel_id: str, path: str) -> LiveElement: ...

    def bounded(self, kind: ObjectKind) -> bool:
        """Whether a bounded cache holds that kind (else memory holds every object of it)."""
        return self._resident_of(kind) is not None

    def _resident_of(self, kind: ObjectKind) -> ResidentTable[Any] | None:
        if kind is ObjectKind.SUBMODEL:
            return self.resident
        return self.resident_shells if kind is ObjectKind.SHELL else None

    def _restore(self, refusal: Refusal) -> None:
        """The store refused a unit (a full disk): memory goes back to what the store holds for
        every object it touched plus what the units submitted after it change (they may still
        be queued: re-reading the store alone dropped such an accepted write from memory), so no
        reader sees a change that a restart would not. Device-fed values keep their live value
        (memory is their newer truth)."""
        later = self.store.after(refusal)
        for kind, identifier in touched(refusal.changes):
            table = self._tables[kind]
            if refusal.read:
                stored = refusal.stored.get((kind, identifier))
            else:  # the writer could not read the store after the refusal: the best there is now
                stored = self.store.backend.load_one(kind, identifier)
            stored = replayed(kind, identifier, stored, later)
            if stored is None:
                if table.pop(identifier, None) is not None:
                    self._structure_changed(ChangeKind.DELETED, kind, identifier, _RESTORED)
                continue
            live = {handle: handle.element.value for handle in self._live_by_submodel.get(identifier, ())  # type: ignore[attr-defined]
                    if handle in self._bound and handle.element is not None}
            created = identifier not in table
            table[identifier] = self._read(stored)  # type: ignore[assignment]
            self._structure_changed(ChangeKind.CREATED if created else ChangeKind.REPLACED, kind, identifier,
                                    _RESTORED)
            for handle, value in live.items():
                if handle.element is not None:
                    handle.element.value = value  # type: ignore[attr-defined]

    # ------------------------------------------------- another instance's changes
    def adopt(self, kind: ObjectKind, identifier: str, obj: Identifiable | None, *, origin: Origin) -> None:
        """Take an identifiable as another instance left it in the shared store (None: deleted
        there): the same events as a local change, nothing written (it is durable already)."""
        table = self._tables[kind]
        if obj is None:
            if table.pop(identifier, None) is not None:
                self._structure_changed(ChangeKind.DELETED, kind, identifier, origin)
            return
        bounded = self._resident_of(kind)
        if bounded is not None and (bounded.drop(identifier) or not bounded.resident(identifier)):
            self._structure_changed(ChangeKind.REPLACED, kind, identifier, origin)  # read again when asked
            return
        created = identifier not in table
        table[identifier] = obj
        if kind is ObjectKind.SUBMODEL:
            self._state(identifier).logged = 0
        self._structure_changed(ChangeKind.CREATED if created else ChangeKind.REPLACED, kind, identifier, origin)

    def holds(self, kind: ObjectKind, identifier: str) -> bool:
        """Whether memory holds the identifiable (always, but for what a bounded cache left out)."""
        bounded = self._resident_of(kind)
        return bounded is None or bounded.resident(identifier)

    def held_ids(self, kind: ObjectKind) -> list[str]:
        """The ids memory holds (a bounded cache's resident ones; else every id)."""
        bounded = self._resident_of(kind)
        return list(self._tables[kind]) if bounded is None else bounded.resident_ids()

    def changed_elsewhere(self, kind: ObjectKind, identifier: str, *, deleted: bool, origin: Origin) -> None:
        """Another instance changed a submodel or shell a bounded cache does not hold: only the
        event (it is read from the store when next asked for)."""
        bounded = self._resident_of(kind)
        if bounded is not None:
            bounded.drop(identifier)  # (a row read for an existence check is stale too)
        self._structure_changed(ChangeKind.DELETED if deleted else ChangeKind.REPLACED, kind, identifier, origin)

    def adopt_value(self, submodel_id: str, path: str, body: bytes, *, origin: Origin) -> bool:
        """Take one element's value written by another instance (its log form); False when the
        element is not here (the caller reloads the submodel). A submodel a bounded cache does not
        hold is read from the store when next asked for: nothing to do."""
        if self.resident is not None and not self.resident.resident(submodel_id):
            self.resident.drop(submodel_id)  # (a row read ahead holds the old value)
            return True
        submodel = self._submodels.get(submodel_id)
        if submodel is None:
            return False
        try:
            element = paths.resolve(submodel, path)
        except paths.PathError:
            return False
        kind = values.find_value_kind(element)
        if kind is None:
            return False
        kind.load(element, body)
        self._value_changed(self.live(submodel_id, path), kind.read(element), origin, body)
        return True


_RESTORED = Origin("the store", "restore")
"""A journal names a change the disk refused and memory undid (``_restore``)."""
