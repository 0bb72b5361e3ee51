"""Bigger than memory: the twin's submodels as a bounded cache in front of the store.

With ``?cache=N`` on a PostgreSQL store URL the twin keeps at most about N submodels in memory
(least recently used out first) and reads the others from the database when asked for one
(``DocumentSource``: one indexed read and a decode). 1,000,000 submodels of 10 elements took
~10 GiB resident; see BENCHMARKS.md for what a bounded instance holds.

What stays in memory whatever the bound (pinned), because the database does not hold it yet or
memory is its newer truth:

- a submodel with a change submitted to the store that is not durable yet (the writer's
  ``observe``: its sequence number is past ``durable``). An id deleted here reads as absent until
  the delete is durable, never as the stale row. A value written to a submodel memory does not
  hold (``row``: the PATCH of an evicted one, validated against its stored JSON) leaves it out.
- a submodel with a device-fed or not yet flushed live element (``pinned`` of the twin);
- everything while an import batch is open (its rows are not even queued yet).

A route that is about to read a submodel awaits ``ready(id)`` first: the misses of the requests
of one loop turn go to the store as one read on the source's own thread (``DocumentSource.fetch``
of them all: one statement on PostgreSQL), while the loop serves the others, and their rows land
in ``_staged``, where the synchronous path (``__contains__``, ``unadmitted``, ``__getitem__``)
finds them. A miss read on the loop itself cost 32 concurrent clients one database round trip
each, in turn (267 req/s over 1M submodels, BENCHMARKS.md). A staged row remembers how durable the
writer was when it was read: a change to its submodel submitted after that (a delete, a value
write) makes it stale, and it is read again.

Iterating the table reads ids (and documents, for ``values``/``items``) from the store in
pages, without caching what it reads: an export or a registry sync stays correct, at the
cost of a scan. Features that would hold every submodel in memory refuse to start instead
(``server.application``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, ItemsView, Iterator, MutableMapping, Sequence, ValuesView
from itertools import islice
from typing import Generic, TypeVar

from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import Change, StoredDocument, StoreWriter, touched
from twinbridge.aas.store.base import DocumentSource

T = TypeVar("T")
_SCAN_PAGE = 500
_BATCH = 256  # ids a prefetch asks for in one statement
_STAGED = 2 * _BATCH  # rows read by an existence check or ``ready``, kept for the read that follows
# (room for a whole batch beside the rows of the one before, whose requests may not have run yet)


class ResidentTable(MutableMapping[str, T], Generic[T]):
    """One kind's identifiables: a bounded LRU over ``source`` (see the module docstring)."""

    def __init__(self, kind: ObjectKind, source: DocumentSource, capacity: int, writer: StoreWriter,
                 read: Callable[[StoredDocument], T], loaded: Callable[[str, int | None], None],
                 pinned: Callable[[str], bool], evicted: Callable[[str], None]) -> None:
        self.kind = kind
        self.source = source
        self.capacity = capacity
        self.misses = 0
        """Reads that went to the store (a counter for /metrics and the bench)."""
        self._writer = writer
        self._read = read
        self._loaded = loaded
        self._pinned = pinned
        self._evicted = evicted
        self._items: OrderedDict[str, T] = OrderedDict()
        self._pending: dict[str, int] = {}
        """The sequence number of the last change submitted to each id (not yet pruned)."""
        self._deleted: dict[str, int] = {}
        """The sequence number of each id's deletion here (absent until it is durable)."""
        self._staged: OrderedDict[str, tuple[StoredDocument | None, int]] = OrderedDict()
        """Rows read ahead of their use: (document or None when the store has none, the writer's
        ``durable`` when the read began)."""
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._wanted: dict[str, asyncio.Future[None]] = {}
        self._fetcher: asyncio.Task[None] | None = None
        writer.observe(self._submitted)

    # ------------------------------------------------------------- mapping
    def __getitem__(self, identifier: str) -> T:
        items = self._items
        found = items.get(identifier)
        if found is not None:
            items.move_to_end(identifier)
            return found
        stored = self._fetch(identifier)
        if stored is None:
            raise KeyError(identifier)
        obj = self._read(stored)
        items[identifier] = obj
        self._evict()
        return obj

    def __contains__(self, identifier: object) -> bool:
        """A miss keeps the row it read for a moment: a route checks an id and then reads it (one
        query, not two), and a first read of it may not decode it at all (``unadmitted``)."""
        if not isinstance(identifier, str):
            return False
        if identifier in self._items:
            return True
        staged = self._staged.get(identifier)
        if staged is not None and self._deleted.get(identifier, 0) <= staged[1]:  # (a value written since
            return staged[0] is not None  # changed what it holds, not whether it exists)
        read_at = self._writer.durable
        stored = self._fetch(identifier)
        if stored is None:
            return False
        self._stage(identifier, stored, read_at)
        return True

    async def ready(self, identifier: str) -> None:
        """Read ``identifier`` ahead if memory does not hold it (see the module docstring): it
        returns once its row (or its absence) is staged; StorageError when the store stayed
        unreachable (``DocumentSource.fetch`` retries first)."""
        if identifier in self._items:
            return
        staged = self._staged.get(identifier)
        if (staged is not None and self._fresh(identifier, staged[1])) or self._deleted_here(identifier):
            return
        loop = asyncio.get_running_loop()
        fetcher = self._fetcher
        if fetcher is not None and fetcher.get_loop() is not loop:  # (a twin served again by another loop)
            self._fetcher, self._wanted = None, {}
        wanted = self._wanted.get(identifier)
        if wanted is None:
            wanted = self._wanted[identifier] = loop.create_future()
            if self._fetcher is None or self._fetcher.done():
                self._fetcher = loop.create_task(self._prefetch())  # first step after this turn's requests
        await asyncio.shield(wanted)  # a cancelled request must not cancel the others waiting for the row

    async def _prefetch(self) -> None:
        """Reads the wanted ids in batches, one at a time: what requests ask for while a batch is
        on its way forms the next one."""
        while self._wanted:
            batch = dict(islice(self._wanted.items(), _BATCH))
            for identifier in batch:
                del self._wanted[identifier]
            read_at = self._writer.durable
            try:
                found = await asyncio.to_thread(self.source.fetch, self.kind, list(batch))
            except Exception as error:  # StorageError after the retries, told to every waiter
                for wanted in batch.values():
                    if not wanted.done():
                        wanted.set_exception(error)
                        wanted.exception()  # a waiter that went away leaves no "never retrieved"
                continue
            self.misses += len(batch)
            for identifier, wanted in batch.items():
                row = found.get(identifier)
                if row is not None:
                    self._loaded(identifier, row[1])
                self._stage(identifier, None if row is None else row[0], read_at)
                if not wanted.done():
                    wanted.set_result(None)

    def unadmitted(self, identifier: str) -> StoredDocument | None:
        """The stored document (with its log) of a submodel read for the first time in a while:
        the caller renders it from its JSON, without decoding it into objects, and it does not
        push a resident one out. A second read soon after (it is in the last ``capacity`` ids
        read) returns None: the caller reads it through the table and it becomes resident. A
        uniform scan over a large store thus costs a row and a JSON round trip per read; a hot
        set is admitted on its second read (see BENCHMARKS.md)."""
        if identifier in self._items or self._saw(identifier):
            return None
        return self._fetch(identifier)

    def row(self, identifier: str) -> StoredDocument | None:
        """The stored document (with its log) of an id memory does not hold, without decoding
        or admitting it; None when memory holds it or the store has none. Counted as a read for
        ``unadmitted`` (so its remembered version is forgotten in time)."""
        if identifier in self._items:
            return None
        self._saw(identifier)
        staged = self._staged.get(identifier)
        if staged is not None and self._fresh(identifier, staged[1]):
            return staged[0]
        read_at = self._writer.durable
        stored = self._fetch(identifier)
        if stored is not None:
            self._stage(identifier, stored, read_at)
        return stored

    def gone(self, identifier: str) -> bool:
        """Deleted here while the store still has it (the delete is not durable yet)."""
        return identifier not in self._items and self._deleted_here(identifier)

    def __setitem__(self, identifier: str, obj: T) -> None:
        self._staged.pop(identifier, None)
        self._deleted.pop(identifier, None)
        self._items[identifier] = obj
        self._items.move_to_end(identifier)
        self._evict()

    def __delitem__(self, identifier: str) -> None:
        """Forget it here; the caller has checked it exists and submitted its deletion (so reads
        see it gone, and the row that check staged is stale already)."""
        staged = self._staged.pop(identifier, None)
        if self._items.pop(identifier, None) is None and (staged is None or staged[0] is None):
            raise KeyError(identifier)
        # absent until durable; inside an import batch its unit is not queued yet, the next one is
        seq = self._pending[identifier] = max(self._pending.get(identifier, 0), self._writer.position + 1)
        self._deleted[identifier] = seq
        self._gone_from_memory(identifier)

    def pop(self, identifier: str, default: T | None = None) -> T | None:  # type: ignore[override]
        """Without reading the store: what callers pop is gone there already (a replica's delete,
        a restore after a refused write)."""
        self._staged.pop(identifier, None)
        found = self._items.pop(identifier, None)
        if found is not None:
            self._gone_from_memory(identifier)
            return found
        return default

    def __len__(self) -> int:
        return self.source.count(self.kind) + sum(1 for identifier in self._items if self._unstored(identifier))

    def __iter__(self) -> Iterator[str]:
        for _, identifier in self._scan():
            yield identifier

    def values(self) -> ValuesView[T]:
        return _Values(self)

    def items(self) -> ItemsView[str, T]:
        return _Items(self)

    # ------------------------------------------------------------ residency
    def resident(self, identifier: str) -> bool:
        return identifier in self._items

    def resident_ids(self) -> list[str]:
        return list(self._items)

    def drop(self, identifier: str) -> bool:
        """Forget a resident copy another instance changed (it is read again when asked for);
        False when it cannot go (pinned: the caller adopts the change into it instead)."""
        self._staged.pop(identifier, None)
        if identifier not in self._items or self._in_flight(identifier) or self._pinned(identifier):
            return False
        del self._items[identifier]
        self._gone_from_memory(identifier)
        return True

    def stream(self) -> Iterator[tuple[str, T]]:
        """Every (id, object) in first-insertion order, read in pages and not cached."""
        batch: list[str] = []
        for _, identifier in self._scan():
            batch.append(identifier)
            if len(batch) == _SCAN_PAGE:
                yield from self._objects(batch)
                batch = []
        yield from self._objects(batch)

    # ------------------------------------------------------------- internal
    def _fetch(self, identifier: str) -> StoredDocument | None:
        """The stored document (a staged row first, unless a change submitted since makes it
        stale), its shared version remembered; None when the store has none or it was deleted
        here and the delete is not durable yet."""
        if self._deleted_here(identifier):  # not durable yet: the row is stale
            return None
        staged = self._staged.pop(identifier, None)
        if staged is not None and self._fresh(identifier, staged[1]):
            return staged[0]
        stored = self.source.fetch(self.kind, [identifier]).get(identifier)
        self.misses += 1
        if stored is None:
            return None
        self._loaded(identifier, stored[1])
        return stored[0]

    def _stage(self, identifier: str, stored: StoredDocument | None, read_at: int) -> None:
        staged = self._staged
        staged[identifier] = (stored, read_at)
        staged.move_to_end(identifier)
        if len(staged) > _STAGED:
            staged.popitem(last=False)

    def _fresh(self, identifier: str, read_at: int) -> bool:
        """Whether a row read when ``read_at`` was durable is still the store's truth: no change
        to it was submitted here after that."""
        return self._pending.get(identifier, 0) <= read_at

    def _gone_from_memory(self, identifier: str) -> None:
        self._evicted(identifier)
        if identifier not in self._seen:
            self._loaded(identifier, None)

    def _objects(self, identifiers: Sequence[str]) -> Iterator[tuple[str, T]]:
        absent = [identifier for identifier in identifiers if identifier not in self._items]
        stored = self.source.fetch(self.kind, absent) if absent else {}
        for identifier in identifiers:
            found = self._items.get(identifier)
            if found is not None:
                yield identifier, found
            elif identifier in stored:
                yield identifier, self._read(stored[identifier][0])

    def _scan(self) -> Iterator[tuple[int, str]]:
        unstored = {identifier: None for identifier in self._items if self._unstored(identifier)}
        after = 0
        while True:
            page = self.source.identifiers(self.kind, after, _SCAN_PAGE)
            for position, identifier in page:
                if identifier not in unstored and (identifier in self._items or not self._deleted_here(identifier)):
                    yield position, identifier
            if len(page) < _SCAN_PAGE:
                break
            after = page[-1][0]
        for identifier in unstored:  # created here, still queued: after the stored ones, as in memory
            if identifier in self._items:
                yield 0, identifier

    def _unstored(self, identifier: str) -> bool:
        """Resident and possibly not in the store yet (created here, its save still queued)."""
        return self._in_flight(identifier) and not self.source.contains(self.kind, identifier)

    def _in_flight(self, identifier: str) -> bool:
        return self._pending.get(identifier, 0) > self._writer.durable

    def _deleted_here(self, identifier: str) -> bool:
        return self._deleted.get(identifier, 0) > self._writer.durable

    def _saw(self, identifier: str) -> bool:
        """Whether ``identifier`` is among the last ``capacity`` ids read; remembers it if not (the
        one that falls out, if not resident, has its remembered version forgotten)."""
        seen = self._seen
        if identifier in seen:
            return True
        seen[identifier] = None
        if len(seen) > self.capacity:
            old, _ = seen.popitem(last=False)
            if old not in self._items:
                self._loaded(old, None)
        return False

    def _submitted(self, changes: Sequence[Change], seq: int) -> None:
        kind = self.kind
        for touched_kind, identifier in touched(changes):
            if touched_kind is kind:
                self._pending[identifier] = seq

    def trim(self) -> None:
        """Evict down to the bound what was pinned when it was inserted (the periodic flush calls it)."""
        self._evict()

    def _evict(self) -> None:
        items = self._items
        excess = len(items) - self.capacity
        if excess <= 0 or self._writer.batching:
            return
        durable = self._writer.durable
        pending = self._pending
        for identifier in list(islice(items, excess + 64)):  # pinned ones move to the back and are passed
            if excess <= 0:
                break
            if pending.get(identifier, 0) > durable or self._pinned(identifier):
                items.move_to_end(identifier)
                continue
            del items[identifier]
            pending.pop(identifier, None)
            self._gone_from_memory(identifier)
            excess -= 1
        if len(pending) > 4 * self.capacity:  # durable entries tell nothing any more
            self._pending = {key: seq for key, seq in pending.items() if seq > durable}
            self._deleted = {key: seq for key, seq in self._deleted.items() if seq > durable}
            self._staged.clear()  # (their freshness was judged by the entries dropped)


class _Values(ValuesView[T]):
    def __init__(self, table: ResidentTable[T]) -> None:
        super().__init__(table)
        self._table = table

    def __iter__(self) -> Iterator[T]:
        for _, obj in self._table.stream():
            yield obj


class _Items(ItemsView[str, T]):
    def __init__(self, table: ResidentTable[T]) -> None:
        super().__init__(table)
        self._table = table

    def __iter__(self) -> Iterator[tuple[str, T]]:
        yield from self._table.stream()
