"""Indexes of the three repositories, so listing and filtering cost the same at any size.

Before, ``GET /shells?limit=100`` walked every shell to filter, sliced the page and rendered it
uncached: the cost grew with the repository (27% of a request was building the full list, 54%
rendering). A ``Catalog`` keeps, per repository:

- every id with an insertion sequence number, ascending (``_order``): a page is one bisect and a
  slice, and a cursor is the sequence number of the last item handed out, so paging across
  creations and deletions neither skips nor repeats an item that stayed;
- per filter key (``("idShort", "Press1")``, ``("asset", "serialNumber", "SN-7")``...) the
  ascending sequence numbers of the matching ids;
- the rendered JSON bytes of each shell and concept description, dropped when it changes.

The catalog follows the twin's change bus (``StructureChanged``). A task consumes the bus so it
never holds events back (``bus.drained()`` stays reachable), and every read first takes what is
still pending, synchronously: a ``GET`` right after a ``POST`` sees the new shell without waiting
for that task to run. Order and membership mirror the twin's own dicts (a replace keeps its
place, a re-created id goes to the end), so a catalog page equals the naive filter's page.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

import orjson
from basyx.aas import model

from twinbridge.aas.bus import ChangeBatch
from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.following import ViewFollower
from twinbridge.aas.twin import Twin
from twinbridge.server.api.catalog_shells import StoredShells
from twinbridge.server.api.catalog_sql import StoredSubmodels

T = TypeVar("T", bound=model.Identifiable)
Key = tuple[Hashable, ...]
KeyTuple = tuple[tuple[str, str], ...]

_NOTHING: list[int] = []


def reference_keys(reference: model.Reference) -> KeyTuple:
    """Reference identity by its keys: clients send ExternalReferences and ModelReferences alike."""
    return tuple((key.type.name, key.value) for key in reference.key)


def render_json(obj: model.Identifiable) -> bytes:
    return orjson.dumps(to_jsonable(obj))


class Catalog(Generic[T]):
    """Ordered ids of one repository and the ids per filter key (see the module docstring)."""

    def __init__(self, table: Mapping[str, T], keys_of: Callable[[T], Iterable[Key]]) -> None:
        self._table = table
        self._keys_of = keys_of
        self._seq: dict[str, int] = {}
        self._ids: dict[int, str] = {}
        self._order: list[int] = []
        self._by_key: dict[Key, list[int]] = {}
        self._item_keys: dict[str, tuple[Key, ...]] = {}
        self._bytes: dict[str, bytes] = {}
        self._next = 1

    def rebuild(self) -> None:
        """Index the whole table again (at the start, or when bus events were lost). Sequence
        numbers keep growing, so a cursor issued before starts over: it may repeat, never skip."""
        self._seq.clear()
        self._ids.clear()
        self._order.clear()
        self._by_key.clear()
        self._item_keys.clear()
        self._bytes.clear()
        for identifier in self._table:
            self.refresh(identifier)

    def refresh(self, identifier: str) -> None:
        """Index ``identifier`` as the twin holds it now (created, changed or gone)."""
        self._bytes.pop(identifier, None)
        obj = self._table.get(identifier)
        seq = self._seq.get(identifier)
        if seq is not None:
            for key in self._item_keys.pop(identifier, ()):
                _discard(self._by_key, key, seq)
            if obj is None:
                del self._seq[identifier], self._ids[seq]
                del self._order[bisect.bisect_left(self._order, seq)]
                return
        elif obj is None:
            return
        else:
            seq = self._next
            self._next += 1
            self._seq[identifier] = seq
            self._ids[seq] = identifier
            self._order.append(seq)
        keys = tuple(dict.fromkeys(self._keys_of(obj)))
        self._item_keys[identifier] = keys
        for key in keys:
            bisect.insort(self._by_key.setdefault(key, []), seq)  # a new id appends: O(1)

    def page(self, keys: Sequence[Key], after: int, limit: int | None) -> tuple[list[str], int | None]:
        """Ids matching every key (all ids without keys) after sequence number ``after``, at most
        ``limit``, and the cursor (a sequence number) of the next page when more remain."""
        if keys:
            lists = sorted((self._by_key.get(key, _NOTHING) for key in keys), key=len)
            first, others = lists[0], lists[1:]
        else:
            first, others = self._order, []
        start = bisect.bisect_right(first, after)
        if not others:
            end = len(first) if limit is None else start + limit
            chosen = first[start:end]
            more = end < len(first)
        else:
            chosen = []
            more = False
            for index in range(start, len(first)):  # no slice: that would copy the rest of the list
                seq = first[index]
                if all(_contains(other, seq) for other in others):
                    if limit is not None and len(chosen) == limit:
                        more = True
                        break
                    chosen.append(seq)
        ids = [self._ids[seq] for seq in chosen]
        return ids, chosen[-1] if more and chosen else None

    def get(self, identifier: str) -> T:
        return self._table[identifier]

    # What query plans (``twinbridge.query.plan``) read: sequence numbers, ascending.
    def ordered(self) -> Sequence[int]:
        return self._order

    def key_seqs(self, key: Key) -> Sequence[int]:
        return self._by_key.get(key, _NOTHING)

    def seq_of(self, identifier: str) -> int | None:
        return self._seq.get(identifier)

    def id_of(self, seq: int) -> str:
        return self._ids[seq]

    def rendered(self, identifier: str) -> bytes:
        """The item's AAS JSON bytes, rendered once per change of the item."""
        data = self._bytes.get(identifier)
        if data is None:
            data = self._bytes[identifier] = render_json(self._table[identifier])
        return data


def _discard(by_key: dict[Key, list[int]], key: Key, seq: int) -> None:
    seqs = by_key.get(key)
    if seqs is None:
        return
    index = bisect.bisect_left(seqs, seq)
    if index < len(seqs) and seqs[index] == seq:
        del seqs[index]
    if not seqs:
        del by_key[key]


def _contains(seqs: list[int], seq: int) -> bool:
    index = bisect.bisect_left(seqs, seq)
    return index < len(seqs) and seqs[index] == seq


# ------------------------------------------------------------ filter keys
def id_short_key(id_short: str) -> Key:
    return ("idShort", id_short)


def asset_key(name: str, value: str) -> Key:
    """``name`` ``globalAssetId`` stands for the global asset id, as in the ``assetIds`` filter."""
    return ("asset", name, value)


def semantic_value_key(value: str) -> Key:
    return ("semanticKey", value)


def semantic_first_key(value: str) -> Key:
    """The value of a semanticId's first key (the query language's ``semanticId`` shortcut)."""
    return ("semanticFirstKey", value)


def semantic_reference_key(values: Sequence[str]) -> Key:
    return ("semanticReference", tuple(values))


def is_case_of_key(keys: KeyTuple) -> Key:
    return ("isCaseOf", keys)


def data_specification_key(keys: KeyTuple) -> Key:
    return ("dataSpecification", keys)


def shell_keys(shell: model.AssetAdministrationShell) -> Iterable[Key]:
    if shell.id_short is not None:
        yield id_short_key(shell.id_short)
    info = shell.asset_information
    if info.global_asset_id is not None:
        yield asset_key("globalAssetId", info.global_asset_id)
    for asset in info.specific_asset_id:
        yield asset_key(asset.name, asset.value)


def submodel_keys(submodel: model.Submodel) -> Iterable[Key]:
    if submodel.id_short is not None:
        yield id_short_key(submodel.id_short)
    if submodel.semantic_id is not None:
        values = [str(key.value) for key in submodel.semantic_id.key]
        yield semantic_reference_key(values)
        if values:
            yield semantic_first_key(values[0])
        for value in values:
            yield semantic_value_key(value)


def concept_keys(concept: model.ConceptDescription) -> Iterable[Key]:
    if concept.id_short is not None:
        yield id_short_key(concept.id_short)
    for reference in concept.is_case_of:
        yield is_case_of_key(reference_keys(reference))
    for spec in concept.embedded_data_specifications:
        yield data_specification_key(reference_keys(spec.data_specification))


# ------------------------------------------------------------- following
class Catalogs:
    """The catalogs of one twin's shells, submodels and concept descriptions, following its bus."""

    def __init__(self, twin: Twin) -> None:
        self._twin = twin
        self.stored_shells: StoredShells | None = None
        """With a bounded cache of shells, their list is the store's (and ``shells`` stays empty)."""
        if twin.resident_shells is not None and twin.shell_source is not None:
            self.stored_shells = StoredShells(twin.resident_shells, twin.shell_source)
        self.shells: Catalog[model.AssetAdministrationShell] = Catalog(
            twin.shells if self.stored_shells is None else {}, shell_keys)
        self.stored: StoredSubmodels | None = None if twin.resident is None else StoredSubmodels(twin.resident)
        """With a bounded cache of submodels, their list is the store's (and ``submodels`` stays empty)."""
        self.submodels: Catalog[model.Submodel] = Catalog(twin.submodels if self.stored is None else {},
                                                          submodel_keys)
        self.concept_descriptions: Catalog[model.ConceptDescription] = Catalog(
            twin.concept_descriptions, concept_keys)
        self._by_kind: dict[ObjectKind, Catalog[model.AssetAdministrationShell] | Catalog[model.Submodel]
                            | Catalog[model.ConceptDescription]] = {
            ObjectKind.SHELL: self.shells,
            ObjectKind.SUBMODEL: self.submodels,
            ObjectKind.CONCEPT_DESCRIPTION: self.concept_descriptions,
        }
        self._structure: dict[str, int] = {}
        self._epoch = 0
        self._follower = ViewFollower(twin.bus, self._apply, self._rebuild, "rest-catalogs", structure_only=True)

    def current(self) -> Catalogs:
        """The catalogs with every structural change published so far applied (synchronously)."""
        if self._follower.following:
            self._follower.catch_up()
        else:  # subscribe first, then index what the twin holds: nothing published in between is lost
            self._follower.follow()
            self._rebuild()
        return self

    def shell_json(self, identifier: str) -> bytes:
        """A shell's AAS JSON bytes, from whichever list holds it (NotFound naming a missing one)."""
        if self.stored_shells is not None:
            return self.stored_shells.rendered(identifier)
        if self.shells.seq_of(identifier) is None:
            raise NotFound(f"no AssetAdministrationShell with id {identifier!r}")
        return self.shells.rendered(identifier)

    def structure_revision(self, submodel_id: str) -> tuple[int, ...]:
        """Grows with every structural change of the submodel, not with value changes (call
        ``current()`` first); render caches of single elements key on it. A bounded cache reads
        an evicted submodel in again as new objects: the identity of the one held now is part of
        it then (a cached entry keeps its own submodel alive, so the identity is not reused)."""
        if self.stored is None:
            return self._epoch, self._structure.get(submodel_id, 0)
        return self._epoch, self._structure.get(submodel_id, 0), id(self._twin.submodels.get(submodel_id))

    def _rebuild(self) -> None:
        self._epoch += 1
        self._structure.clear()
        for catalog in self._by_kind.values():
            catalog.rebuild()

    def _apply(self, batch: ChangeBatch) -> None:
        if batch.overflowed:  # structure events were lost: only a rebuild is sure to be right
            self._rebuild()
            return
        for event in batch.structure:
            if event.object_kind is ObjectKind.SUBMODEL:
                self._structure[event.identifier] = self._structure.get(event.identifier, 0) + 1
            if event.path is None and not self._in_store(event.object_kind):
                self._by_kind[event.object_kind].refresh(event.identifier)  # (elements change no id, no key)

    def _in_store(self, kind: ObjectKind) -> bool:
        """Whether the store lists that kind (a bounded cache): its catalog stays empty."""
        if kind is ObjectKind.SUBMODEL:
            return self.stored is not None
        return kind is ObjectKind.SHELL and self.stored_shells is not None

    def close(self) -> None:
        self._follower.close()
