"""How the twin's objects reach the store: documents, the element log and its compaction, the
periodic flush of device values, files. ``Twin`` inherits it; it is a room of its own so the
twin's write rules (``aas/twin.py``) read without the bookkeeping of durability.

Every change is submitted to the store's writer thread; ``await persisted()`` says when it is
durable. A submodel's element log is compacted (its document saved whole, its log cleared) once
it holds more entries than its document has bytes / 64 (at least 1,000), so the log replay at
load stays short and the cost of compaction, amortised, O(1) per write.

First saves can wait (``deferring_first_saves``): the documents of objects created inside are
encoded later by ``save_deferred``, in slices after the server answers (the 1,000-machine
plant's 22,401 documents took ~6 s CPU of its first start), or at once, before anything else
about the object reaches the store, when it is changed, deleted or flushed. Until then the
store lacks them: a start after a crash rebuilds what is missing from the plant description.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, MutableMapping

from basyx.aas import model

from twinbridge.aas import documents, tree, values
from twinbridge.aas.errors import InvalidInput, StorageError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.live import LiveElement, SubmodelState
from twinbridge.aas.resident import ResidentTable
from twinbridge.aas.store import (
    Change,
    DeleteFile,
    ElementOp,
    FileContent,
    LogElement,
    SaveDocument,
    SaveFile,
    StoredDocument,
    StoreWriter,
)
from twinbridge.aas.store.base import SubmodelFilter

LABELS = {
    ObjectKind.SHELL: "AssetAdministrationShell",
    ObjectKind.SUBMODEL: "Submodel",
    ObjectKind.CONCEPT_DESCRIPTION: "ConceptDescription",
}

COMPACT_MIN_ENTRIES = 1_000
COMPACT_BYTES_PER_ENTRY = 64


class TwinStorage:
    """The store side of ``Twin`` (the attributes below are set by ``Twin.__init__``)."""

    store: StoreWriter
    _submodels: MutableMapping[str, model.Submodel]
    resident: ResidentTable[model.Submodel] | None
    resident_shells: ResidentTable[model.AssetAdministrationShell] | None
    _live: dict[tuple[str, str], LiveElement]
    _live_by_submodel: dict[str, list[LiveElement]]
    _bound: set[LiveElement]
    _revision_base: int
    _states: dict[str, SubmodelState]
    _compact_after: dict[str, int]
    _dirty: list[LiveElement]
    _values_in_place: bool
    _tables: Mapping[ObjectKind, Mapping[str, model.Identifiable]]
    _deferred: dict[tuple[ObjectKind, str], None]
    """Objects created while deferring whose document the store has not been given yet (ordered)."""
    _deferring: bool

    def flush(self) -> int:
        """Persist the values of device-fed elements changed since the last flush; returns how many.

        One log row per value; a submodel whose log would pass its compaction bound with them is
        saved whole instead (its rows would be folded into the document at once anyway).
        """
        dirty, self._dirty = self._dirty, []
        by_state: dict[SubmodelState, list[LiveElement]] = {}
        for handle in dirty:
            handle.dirty = False
            if handle.element is not None:
                by_state.setdefault(handle.state, []).append(handle)
        changes: list[Change] = []
        whole: list[model.Submodel] = []
        value_op = ElementOp.VALUE
        count = 0
        with collector_paused():  # a burst of records that all live on: no garbage to look for
            for state, handles in by_state.items():
                count += len(handles)
                if self._deferred and (ObjectKind.SUBMODEL, state.identifier) in self._deferred:
                    self._save_first(ObjectKind.SUBMODEL, state.identifier)  # its document holds the values
                    continue
                if not self._values_in_place and state.logged + len(handles) > self._compact_after.get(
                        state.identifier, COMPACT_MIN_ENTRIES):
                    submodel = self._submodels.get(state.identifier)
                    if submodel is not None:
                        whole.append(submodel)
                        continue
                for handle in handles:
                    element = handle.element
                    kind = values.find_value_kind(element) if element is not None else None
                    if kind is None or element is None:
                        continue
                    changes.append(LogElement(handle.submodel_id, value_op, handle.path, kind.dump(element)))
                if not self._values_in_place:
                    state.logged += len(handles)
        self.store.submit(changes, restore=False)
        for submodel in whole:
            self._save(ObjectKind.SUBMODEL, submodel, restore=False)
        for bounded in (self.resident, self.resident_shells):
            if bounded is not None:
                bounded.trim()  # what was pinned by a write in flight when it came in
        return count

    async def persisted(self, since: int | None = None) -> None:
        """Wait until every change made so far is durable; raises StorageError if one failed
        (``since``: a ``store.position`` taken before the caller's own writes)."""
        await self.store.persisted(since)

    def wait_persisted(self, timeout: float | None = None) -> None:
        """Blocking ``persisted`` for synchronous callers (import at start-up, CLI, scripts)."""
        self.store.wait_persisted(timeout=timeout)

    def close(self) -> None:
        """Save what was deferred, flush live values, write everything queued and close the store."""
        self.save_deferred()
        self.flush()
        self.store.close()

    def semantic_candidates(self, semantic_key: str) -> set[str] | None:
        """With a bounded cache: the ids of the submodels one of whose semanticId keys is
        ``semantic_key`` (one indexed query), so what reads a few kinds of submodels at start-up
        (the hierarchy) does not read them all in; None without one (memory holds them all)."""
        if self.resident is None:
            return None
        found, _ = self.resident.source.page(ObjectKind.SUBMODEL, SubmodelFilter(semantic_key=semantic_key), 0, None)
        return {stored.identifier for _, stored in found}

    @contextlib.contextmanager
    def deferring_first_saves(self) -> Iterator[None]:
        """Objects created inside are stored later (``save_deferred``); see the module doc."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    @property
    def deferred_saves(self) -> int:
        """How many created objects still wait for their first save."""
        return len(self._deferred)

    def save_deferred(self, until: float = float("inf")) -> bool:
        """Give the store the documents of deferred objects, in creation order, until
        ``time.perf_counter()`` passes ``until`` (all by default); True while some wait. One unit
        each, not one batch: a batch is restored on a refusal, these must not be (``_save_first``);
        the writer thread still commits what queued up together."""
        with collector_paused():
            while self._deferred and time.perf_counter() < until:
                kind, identifier = next(iter(self._deferred))
                self._save_first(kind, identifier)
        return bool(self._deferred)

    def _save_first(self, kind: ObjectKind, identifier: str) -> None:
        """The deferred first save of one object, now (before anything else about it is submitted).
        Not restored on a refusal: memory is the truth for it, and a restart builds it again."""
        del self._deferred[(kind, identifier)]
        obj = self._tables[kind].get(identifier)
        if obj is not None:
            self._save(kind, obj, restore=False)

    def _saved_first(self, kind: ObjectKind, identifier: str) -> bool:
        """Called when an object changed, before the change reaches the store: True when its
        deferred first save was made now, which carries the change already (memory holds it), so
        the caller submits nothing more (a logged element add on top would add it twice)."""
        if self._deferred and (kind, identifier) in self._deferred:
            self._save_first(kind, identifier)
            return True
        return False

    def save_file(self, name: str, content_type: str, data: bytes | FileContent) -> None:
        """Store a file; ``FileContent`` (an upload streamed to disk) is copied in chunks and its
        file deleted once written (the store's writer owns it from here on)."""
        self.store.submit([SaveFile(name, content_type, data)])

    def load_file(self, name: str) -> tuple[str, bytes] | None:
        return self.store.load_file(name)

    def delete_file(self, name: str) -> None:
        self.store.submit([DeleteFile(name)])

    def _state(self, submodel_id: str) -> SubmodelState:
        state = self._states.get(submodel_id)
        if state is None:
            state = self._states[submodel_id] = SubmodelState(submodel_id)
            if self.resident is not None:  # an evicted submodel's cached renderings never match again
                self._revision_base += 1 << 40
                state.revision = self._revision_base
        return state

    def _read(self, stored: StoredDocument) -> model.Identifiable:
        """An identifiable from its stored document and element log; StorageError naming it if unreadable."""
        try:
            obj = documents.decode(stored.body)
            if stored.log and isinstance(obj, model.Submodel):
                tree.replay(obj, stored.log)
        except Exception as error:  # whatever the document holds, the message names it and the way out
            where = getattr(self.store.backend, "path", type(self.store.backend).__name__)
            raise StorageError(
                f"the store {where} holds a {LABELS[stored.kind]} {stored.identifier!r} that is not a valid "
                f"AAS document ({type(error).__name__}: {error}); restore a backup of it, or start with "
                "--data naming another directory") from None
        if stored.kind is ObjectKind.SUBMODEL:
            self._state(stored.identifier).logged = len(stored.log)
            self._compact_after[stored.identifier] = _compaction_bound(len(stored.body))
        return obj

    def _save(self, kind: ObjectKind, obj: model.Identifiable, *, restore: bool = True) -> None:
        """``restore=False``: the document only re-encodes what memory holds (the flush's
        compaction), so a refusal by the store is no reason to re-read memory from it."""
        if self._deferred and (kind, obj.id) in self._deferred:  # never stored: this save writes
            del self._deferred[(kind, obj.id)]  # what memory holds now, and a refusal has no stored
            restore = False  # copy to go back to (memory stays; a restart builds it again)
        try:
            document = documents.encode(obj)
        except (TypeError, ValueError, AttributeError) as error:
            raise InvalidInput(f"{LABELS[kind]} {obj.id!r} cannot be serialized: {error}") from None
        self.store.submit([SaveDocument(kind, obj.id, document)], restore=restore)
        if kind is ObjectKind.SUBMODEL:
            self._state(obj.id).logged = 0
            self._compact_after[obj.id] = _compaction_bound(len(document))

    # ------------------------------------------------- a bounded cache's hooks (``aas.resident``)
    def _read_submodel(self, stored: StoredDocument) -> model.Submodel:
        obj = self._read(stored)
        if not isinstance(obj, model.Submodel):
            raise InvalidInput(f"the store holds a {type(obj).__name__} as submodel {stored.identifier!r}")
        return obj

    def _read_shell(self, stored: StoredDocument) -> model.AssetAdministrationShell:
        obj = self._read(stored)
        if not isinstance(obj, model.AssetAdministrationShell):
            raise InvalidInput(f"the store holds a {type(obj).__name__} as shell {stored.identifier!r}")
        return obj

    def _shell_pinned(self, shell_id: str) -> bool:
        """Its first save waits (``deferring_first_saves``): the store lacks it."""
        return (ObjectKind.SHELL, shell_id) in self._deferred

    def _pinned(self, submodel_id: str) -> bool:
        """A device feeds one of its elements, a value of it waits for the flush, or its first save
        waits (``deferring_first_saves``): memory is newer than the store."""
        return (ObjectKind.SUBMODEL, submodel_id) in self._deferred or any(
            handle.dirty or handle in self._bound for handle in self._live_by_submodel.get(submodel_id, ()))

    def _evicted(self, submodel_id: str) -> None:
        """Forget what belonged to an evicted submodel (its handles are detached from now on)."""
        for handle in self._live_by_submodel.pop(submodel_id, ()):
            self._live.pop((submodel_id, handle.path), None)
            handle.element = None
        self._states.pop(submodel_id, None)
        self._compact_after.pop(submodel_id, None)

    def _compact_if_due(self, state: SubmodelState) -> None:
        if state.logged > self._compact_after.get(state.identifier, COMPACT_MIN_ENTRIES):
            submodel = self._submodels.get(state.identifier)
            if submodel is not None:
                self._save(ObjectKind.SUBMODEL, submodel)


def _compaction_bound(document_bytes: int) -> int:
    return max(COMPACT_MIN_ENTRIES, document_bytes // COMPACT_BYTES_PER_ENTRY)
