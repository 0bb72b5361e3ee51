"""The twin's reads: the identifiables by id, their elements, versions and live handles, and
the shells that reference a submodel. ``Twin`` inherits it (the attributes below are set by
``Twin.__init__``); nothing here changes the model, so the write rules stay in ``aas/twin.py``.

With a bounded cache (``?cache=N``) a read of an object memory does not hold reads the store
(``aas.resident``); ``referencing_shells`` then asks the store in SQL instead of walking every
shell.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Literal, overload

from basyx.aas import model

from twinbridge.aas import paths, values
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.live import LiveElement, SubmodelState
from twinbridge.aas.store.base import ShellSource
from twinbridge.aas.twin_storage import LABELS
from twinbridge.aas.twin_sync import Identifiable, TwinSync
from twinbridge.aas.values import ElementValue


def references(shell: model.AssetAdministrationShell, submodel_id: str) -> bool:
    """Whether one of the shell's submodel references names the submodel (its first key)."""
    return any(reference.key and reference.key[0].value == submodel_id for reference in shell.submodel)


class TwinReads(TwinSync):
    """What the twin answers without changing anything (see the module docstring)."""

    shell_source: ShellSource | None
    _shells: MutableMapping[str, model.AssetAdministrationShell]
    _views: tuple[Mapping[str, model.AssetAdministrationShell], Mapping[str, model.Submodel],
                  Mapping[str, model.ConceptDescription]]
    _next_key: int
    _versions: dict[tuple[ObjectKind, str], int]

    # ------------------------------------------------------------------ reads
    @property
    def shells(self) -> Mapping[str, model.AssetAdministrationShell]:
        """Read-only view by id (insertion ordered); mutate only through the twin."""
        return self._views[0]

    @property
    def submodels(self) -> Mapping[str, model.Submodel]:
        return self._views[1]

    @property
    def concept_descriptions(self) -> Mapping[str, model.ConceptDescription]:
        return self._views[2]

    @overload
    def get(self, kind: Literal[ObjectKind.SHELL], identifier: str) -> model.AssetAdministrationShell: ...
    @overload
    def get(self, kind: Literal[ObjectKind.SUBMODEL], identifier: str) -> model.Submodel: ...
    @overload
    def get(self, kind: Literal[ObjectKind.CONCEPT_DESCRIPTION], identifier: str) -> model.ConceptDescription: ...
    @overload
    def get(self, kind: ObjectKind, identifier: str) -> Identifiable: ...

    def get(self, kind: ObjectKind, identifier: str) -> Identifiable:
        try:
            return self._tables[kind][identifier]
        except KeyError:
            raise NotFound(f"no {LABELS[kind]} with id {identifier!r}") from None

    def exists(self, kind: ObjectKind, identifier: str) -> bool:
        return identifier in self._tables[kind]

    def shell(self, identifier: str) -> model.AssetAdministrationShell:
        return self.get(ObjectKind.SHELL, identifier)

    def submodel(self, identifier: str) -> model.Submodel:
        return self.get(ObjectKind.SUBMODEL, identifier)

    def concept_description(self, identifier: str) -> model.ConceptDescription:
        return self.get(ObjectKind.CONCEPT_DESCRIPTION, identifier)

    def element(self, submodel_id: str, path: str) -> model.SubmodelElement:
        try:
            return paths.resolve(self.submodel(submodel_id), path)
        except paths.PathError as error:
            raise NotFound(f"submodel {submodel_id!r}: {error}") from None

    def value(self, handle: LiveElement) -> ElementValue:
        """The element's current value in its Python form (see ``aas.values``)."""
        element = handle.element
        if element is None:
            raise NotFound(f"{handle.path} no longer exists in submodel {handle.submodel_id!r}")
        return values.value_kind(element, handle.path).read(element)

    def revision(self, submodel_id: str) -> int:
        """Grows with every change to the submodel; serialization caches key on it."""
        return self._state(submodel_id).revision

    def version(self, kind: ObjectKind, identifier: str) -> int:
        """The identifiable's ETag: shared by every instance on a replicated store, else this
        twin's own count of its changes."""
        shared = self.store.backend.version(kind, identifier)
        if shared is not None:
            return shared
        if kind is ObjectKind.SUBMODEL:
            return self._state(identifier).revision
        return self._versions.get((kind, identifier), 0)

    def live(self, submodel_id: str, path: str) -> LiveElement:
        """The live handle of an element, created on first use; resolve once, update often."""
        handle = self._live.get((submodel_id, path))
        if handle is None:
            element = self.element(submodel_id, path)
            self._next_key += 1
            handle = LiveElement(self._next_key, self._state(submodel_id), path, element)
            self._live[(submodel_id, path)] = handle
            self._live_by_submodel.setdefault(submodel_id, []).append(handle)
        return handle

    def detached(self, submodel_id: str, path: str, element: model.SubmodelElement) -> LiveElement:
        """A handle of an element decoded alone from the store, of a submodel a bounded cache does
        not hold: for one client write through ``write_value`` (one row, the same events), kept
        nowhere, so the submodel is not read in (``aas.resident``)."""
        self._next_key += 1
        return LiveElement(self._next_key, SubmodelState(submodel_id), path, element)

    def find_live(self, submodel_id: str, path: str) -> LiveElement | None:
        """The handle if some binding or client already made one, without creating it."""
        return self._live.get((submodel_id, path))

    def live_elements(self) -> Iterator[LiveElement]:
        return iter(list(self._live.values()))

    def live_in(self, submodel_id: str) -> list[LiveElement]:
        """The handles made so far in one submodel (a dashboard's snapshot without a scan of all)."""
        return list(self._live_by_submodel.get(submodel_id, ()))

    def referencing_shells(self, *submodel_ids: str) -> list[model.AssetAdministrationShell]:
        """The shells with a reference to one of the submodels (``references``), in first-insertion
        order. With bounded shells the store finds them (an indexed query, not a walk of every
        shell), and the resident ones are looked at too: a change of one may not be stored yet."""
        if self.shell_source is None or self.resident_shells is None:
            found: Iterable[str] = self._shells
        else:
            found = dict.fromkeys([*self.shell_source.referencing(submodel_ids), *self.resident_shells.resident_ids()])
        shells = (self._shells.get(identifier) for identifier in found)
        return [shell for shell in shells if shell is not None and any(
            references(shell, submodel_id) for submodel_id in submodel_ids)]
