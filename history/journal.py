"""The model journal: an append-only, hash-chained record of every structural change and client write.

Each line of ``journal.jsonl`` is one entry: its number, time, who (token name, OPC UA user, or
``unknown`` when the change carried no origin), the action, the object and element path, the
object's AAS JSON document *after* the change (none after a delete) or, for a client's value
write, only the element's new value (``value``, its element-log form: a write to a 1,000-element
submodel must not encode the submodel; every ``CHECKPOINT_EVERY``-th write of an object carries
the whole document again, so a read of the past replays a bounded run), the SHA-256 of the previous
entry (``prev``) and its own (``hash``, over all the other fields). Editing a byte of an entry
breaks its own hash; deleting or moving an entry breaks the numbering and the next ``prev``: so
``verify`` names the first entry that is not what was written (the seeds' "data integrity"
without a blockchain). A journal that fails verification is reported at start-up and left as it
is; new entries chain on after its last line.
The entry's form, the chain check and the reading of the file stand in ``_journal_file`` (the
``twinbridge journal verify`` command needs only them).

Reads of the past (``document_at``) find the newest entry of an object at or before a time, from
an index of file offsets built when the journal opens, and replay the value entries after its last
document.

Writing and the fsync happen off the event loop (a worker thread, one at a time, in chain order):
on the loop they held every client write behind the disk (a PATCH benchmark went from 114/s with
the journal to its rate without it).

Pairing (``pair``): the event hub names each event by the journal position it follows, so a
client that reconnects after a restart can be replayed the entries after it. That needs the two
to take the bus's changes at the same moments (the same batches, so the same order): once paired,
the journal's own task stops draining and every drain of either side drains both (``sync``).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
import shutil
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from basyx.aas import model

from twinbridge.aas import documents, tree, values
from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Subscription
from twinbridge.aas.events import ChangeKind, ObjectKind, StructureChanged, ValueChanged
from twinbridge.aas.store import ElementOp, LoggedChange
from twinbridge.aas.twin import Twin
from twinbridge.history._journal_file import GENESIS, OPTIONS, Broken, Limited, digest, entry_hash, lines, verify

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 256
"""Value entries of one object between two entries that carry its whole document."""
BASELINE_SLICE_S = 0.02
BASELINE_PAUSE_S = 0.03
"""The start-up baseline works ~20 ms, then leaves the loop idle ~30 ms: a request takes several
loop turns, and back-to-back slices (``sleep(0)``) made each of them wait for one."""


@dataclass(slots=True)
class Marks:
    """Where the journal stood around one drained batch, for its paired reader: ``start`` before
    the batch; ``at``: (index of the event in ``ChangeBatch.ordered()``, the mark after its
    entry) for each event that made an entry; ``structure``/``values``: the batch's sizes, for the
    reader to check it took the same batch. A mark is ``{seq}.{hash prefix}``."""

    start: str
    at: list[tuple[int, str]] = field(default_factory=list)
    structure: int = 0
    values: int = 0
    complete: bool = True
    """False when the journal's queue lost changes: the batch may differ from the reader's."""


Paired = Callable[[Marks], None]


class Journal:
    """Appends entries for the twin's structural changes (and client writes when events carry an
    origin); answers ``document_at`` for reads of the past."""

    def __init__(self, twin: Twin, path: Path) -> None:
        self.twin = twin
        self.path = path
        self.broken: Broken | None = None
        self._index: dict[tuple[str, str], tuple[list[float], list[int]]] = {}
        self._lock = threading.Lock()  # the chain and the index (held briefly)
        self._file_lock = threading.Lock()  # one commit at a time, in chain order (held across fsync)
        self._values_since_document: dict[tuple[str, str], int] = {}
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._seq = 0
        self._last = GENESIS
        self._latest: dict[tuple[str, str], bytes | None] = {}  # digest of the last journaled document
        self._unbaselined: dict[tuple[ObjectKind, str], None] = {}  # ordered set, see _baseline
        self._baseline_task: asyncio.Task[None] | None = None
        self._unwritten: list[tuple[dict[str, Any], bytes]] = []
        self._offsets = array("q")  # file offset of each committed entry, by position
        self._paired: Paired | None = None
        self._committer: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _count, self.broken = await asyncio.to_thread(verify, self.path)
        if self.broken is not None:
            log.error("%s: %s; it is kept as it is and new entries chain on after its last line "
                      "(run `twinbridge journal verify`)", self.path, self.broken)
        await asyncio.to_thread(self._load_index)
        # EVERY mode: two client writes to one element in one loop turn are two entries, not one.
        self._subscription = self.twin.bus.subscribe(mode=DeliveryMode.EVERY, capacity=1_000_000)
        self._unbaselined = {(kind, identifier): None for kind, table in self._tables() for identifier in table}
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._follow(self._subscription), name="journal")
        self._baseline_task = loop.create_task(self._baseline_in_slices(), name="journal baseline")
        log.info("journal %s: %d entries%s", self.path, self._seq, "" if self.broken is None else " (BROKEN)")

    async def stop(self) -> None:
        # An unfinished baseline is not finished here: the next start takes it (a big plant's
        # baseline would otherwise hold up the stop for seconds).
        for task in (self._baseline_task,):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._subscription is not None:
            self._handle(self._subscription.drain())
            self._subscription.close()
        for task in (self._task, self._committer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._commit()

    def settle(self) -> None:
        """Journal every change published so far, now (on the loop: nothing can slip in between),
        after the rest of the start-up baseline."""
        self._baseline(until=float("inf"))
        if self._subscription is not None:
            self._handle(self._subscription.drain())

    async def settled(self) -> None:
        """Return when every change published so far is in the journal (tests, dated reads)."""
        self.settle()

    # --------------------------------------------------------------- pairing
    def pair(self, paired: Paired) -> None:
        """Hand every drained batch's ``Marks`` to ``paired`` (the event hub), which drains its
        own subscription in the same call; the journal's task stops draining on its own (see the
        module doc). What was published before is journaled first, unpaired."""
        if self._subscription is None:
            raise RuntimeError("the journal is not started")
        self._handle(self._subscription.drain())
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._paired = paired

    def unpair(self) -> None:
        self._paired = None
        if self._subscription is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow(self._subscription), name="journal")

    def sync(self) -> None:
        """Take what the bus published so far (and, paired, let the reader take the same); the
        entries are written by a worker thread soon after (off the loop)."""
        if self._subscription is not None:
            self._record_batch(self._subscription.drain())
            if self._unwritten and (self._committer is None or self._committer.done()):
                self._committer = asyncio.get_running_loop().create_task(self._commit_off_loop())

    async def _commit_off_loop(self) -> None:
        while self._unwritten:
            try:
                await asyncio.to_thread(self._commit)
            except OSError:
                log.exception("the journal could not write its entries; they are kept for the next commit")
                return

    def mark(self) -> str:
        """``{seq}.{first 8 hex of its hash}`` of the newest entry: a position a later run can check."""
        return f"{self._seq}.{self._last[:8]}"

    def holds(self, mark: str) -> int | None:
        """The entry number ``mark`` names when this journal has that entry with that hash, else None."""
        seq, _, prefix = mark.partition(".")
        if not seq.isdigit() or len(prefix) != 8:
            return None
        number = int(seq)
        if number == 0:
            return 0 if prefix == GENESIS[:8] else None
        with self._lock:
            if number > len(self._offsets):
                return None
            offset = self._offsets[number - 1]
        with self.path.open("rb") as stream:
            stream.seek(offset)
            try:
                fields = orjson.loads(stream.readline())
            except orjson.JSONDecodeError:
                return None
        return number if isinstance(fields, dict) and str(fields.get("hash", ""))[:8] == prefix else None

    def read(self, after: int, until: int) -> Iterator[dict[str, Any]]:
        """The written entries numbered ``after + 1`` to ``until``, in order (run it off the loop)."""
        with self._lock:
            until = min(until, len(self._offsets))
            if until <= after:
                return
            offset = self._offsets[after]
        with self.path.open("rb") as stream:
            stream.seek(offset)
            for _ in range(until - after):
                line = stream.readline()
                if not line:
                    return
                with contextlib.suppress(orjson.JSONDecodeError):
                    yield orjson.loads(line)

    # ---------------------------------------------------------------- reads
    def document_at(self, kind: ObjectKind, identifier: str, moment: float) -> bytes | None:
        """The object's AAS JSON as it was at ``moment`` (epoch seconds); None when it did not exist."""
        with self._lock:
            times, offsets = self._index.get((kind.value, identifier), ([], []))
            position = bisect.bisect_right(times, moment) - 1
            if position < 0:
                return None
            candidates = offsets[:position + 1]
        values: list[LoggedChange] = []
        with self.path.open("rb") as stream:
            for offset in reversed(candidates):  # back to the newest entry with a document
                stream.seek(offset)
                fields = orjson.loads(stream.readline())
                if "document" in fields:
                    break
                values.append(LoggedChange(ElementOp.VALUE, str(fields["path"]), orjson.dumps(fields["value"])))
            else:
                return None  # only value entries (the journal began after the object): no base to replay on
        document = fields["document"]
        if document is None:
            return None
        if not values:
            return orjson.dumps(document)
        obj = documents.decode(orjson.dumps(document))
        if isinstance(obj, model.Submodel):
            tree.replay(obj, values[::-1])
        return documents.encode(obj)

    def entries(self) -> int:
        return self._seq

    def backup(self, directory: Path) -> list[Path]:
        """The journal up to its last complete entry: append-only, so a prefix copy is consistent."""
        target = directory / "journal.jsonl"
        with self._lock, self.path.open("rb") as source, target.open("wb") as out:
            size = os.fstat(source.fileno()).st_size
            shutil.copyfileobj(Limited(source, size), out)
        return [target]

    # ------------------------------------------------------------ appending
    def _add(self, action: str, kind: ObjectKind, identifier: str, path: str | None, document: bytes | None,
             who: str, channel: str, moment: float | None = None, value: bytes | None = None) -> None:
        """Chain one entry in memory; ``_commit`` writes what was added with one fsync. With
        ``value`` (an element's log form) the entry carries that instead of a document."""
        with self._lock:
            fields: dict[str, Any] = {
                "seq": self._seq + 1, "time": time.time() if moment is None else moment, "who": who,
                "channel": channel, "action": action, "kind": kind.value, "id": identifier, "path": path,
                "prev": self._last,
            }
            key = (kind.value, identifier)
            if value is not None:
                fields["value"] = orjson.Fragment(value)
                self._values_since_document[key] = self._values_since_document.get(key, 0) + 1
            else:
                fields["document"] = None if document is None else orjson.Fragment(document)
                self._values_since_document.pop(key, None)
            plain = orjson.loads(orjson.dumps(fields))  # the hash covers exactly what is written
            plain["hash"] = entry_hash(plain)
            self._unwritten.append((plain, orjson.dumps(plain, option=OPTIONS) + b"\n"))
            self._seq += 1
            self._last = plain["hash"]
            self._latest[key] = digest(plain.get("document"))  # None after a value: a baseline next start

    def _commit(self) -> None:
        """One write and one fsync for every entry added since the last commit (a batch of changes,
        or the start-up baseline of a whole plant, costs one fsync, not one per object)."""
        with self._file_lock:
            with self._lock:
                pending, self._unwritten = self._unwritten, []
            if not pending:
                return
            with self.path.open("ab", buffering=0) as stream:
                offset = stream.tell()
                data = memoryview(b"".join(line for _, line in pending))
                try:
                    while data:
                        data = data[stream.write(data) or 0:]
                    os.fsync(stream.fileno())
                except OSError:  # a full disk: no half entry stays behind, the next commit writes them whole
                    os.ftruncate(stream.fileno(), offset)
                    with self._lock:
                        self._unwritten[:0] = pending
                    raise
            with self._lock:
                for plain, line in pending:
                    self._note(plain, offset)
                    offset += len(line)

    async def _follow(self, subscription: Subscription) -> None:
        async for batch in subscription:
            try:
                self._record_batch(batch)
                if self._unwritten:  # device values make no entry: no thread hop for them
                    await asyncio.to_thread(self._commit)  # batches arriving meanwhile share the next fsync
            except Exception:
                log.exception("the journal could not record a change batch")

    def _handle(self, batch: ChangeBatch) -> None:
        self._record_batch(batch)
        self._commit()

    def _record_batch(self, batch: ChangeBatch) -> None:
        complete = not (batch.overflowed or batch.dropped)
        if not complete:
            log.error("the journal missed changes (bus queue overflow): dated reads may skip a version")
        paired = self._paired
        if paired is None:
            for event in batch.ordered():
                if isinstance(event, StructureChanged):
                    self._record(event)
                else:
                    self._record_write(event)
            return
        marks = Marks(self.mark(), [], len(batch.structure), len(batch.values), complete)
        at = marks.at
        for index, event in enumerate(batch.ordered()):
            if isinstance(event, StructureChanged):
                self._record(event)
                at.append((index, self.mark()))
                continue
            origin = event.origin
            if origin is None or origin.channel == "device":
                continue  # the hot path: a device value makes no entry
            before = self._seq
            self._record_write(event)
            if self._seq != before:
                at.append((index, self.mark()))
        paired(marks)

    def _record(self, event: StructureChanged) -> None:
        origin = event.origin
        who, channel = (origin.who, origin.channel) if origin is not None else ("unknown", "model")
        self._unbaselined.pop((event.object_kind, event.identifier), None)
        document = None
        # an element's deletion changes its submodel: the entry carries the submodel after it
        # (without, a dated read and a resumed event stream took the submodel for deleted)
        gone = event.kind is ChangeKind.DELETED and event.path is None
        if not gone and self.twin.exists(event.object_kind, event.identifier):
            document = documents.encode(self.twin.get(event.object_kind, event.identifier))
        action = "deleted" if document is None or event.kind is ChangeKind.DELETED else event.kind.value
        self._add(action, event.object_kind, event.identifier, event.path, document, who, channel)

    def _record_write(self, event: ValueChanged) -> None:
        origin = event.origin
        if origin is None or origin.channel == "device":
            return
        handle = event.element
        element = handle.element
        kind = values.find_value_kind(element) if element is not None else None
        if element is None or kind is None or not self.twin.exists(ObjectKind.SUBMODEL, handle.submodel_id):
            return  # gone since: the structural change that removed it is journaled
        key = (ObjectKind.SUBMODEL.value, handle.submodel_id)
        written = self._values_since_document.get(key, 0) + 1
        if written >= CHECKPOINT_EVERY or (ObjectKind.SUBMODEL, handle.submodel_id) in self._unbaselined:
            self._unbaselined.pop((ObjectKind.SUBMODEL, handle.submodel_id), None)
            document = documents.encode(self.twin.submodel(handle.submodel_id))
            self._add("value-written", ObjectKind.SUBMODEL, handle.submodel_id, handle.path, document,
                      origin.who, origin.channel, event.timestamp)
            return
        self._add("value-written", ObjectKind.SUBMODEL, handle.submodel_id, handle.path, None,
                  origin.who, origin.channel, event.timestamp,
                  value=event.logged if event.logged is not None else kind.dump(element))

    def _tables(self) -> tuple[tuple[ObjectKind, Mapping[str, object]], ...]:
        return ((ObjectKind.SHELL, self.twin.shells), (ObjectKind.SUBMODEL, self.twin.submodels),
                (ObjectKind.CONCEPT_DESCRIPTION, self.twin.concept_descriptions))

    async def _baseline_in_slices(self) -> None:
        """The baseline runs after start, in slices on the loop with pauses between (see
        ``BASELINE_PAUSE_S``), so REST answers while it runs: for the 1,000-machine plant it
        encodes 22k objects (~6 s CPU). It begins once the server answers (``twin.serving``):
        before, its slices ran in every await of the rest of the start-up and delayed the first
        answer."""
        await self.twin.serving.wait()
        while self._unbaselined:
            self._baseline(until=time.perf_counter() + BASELINE_SLICE_S)
            await asyncio.sleep(BASELINE_PAUSE_S)

    def _baseline(self, until: float) -> None:
        """Objects that differ from their last journaled state (created before the journal began,
        or changed while it was not running) get a ``baseline`` entry, so every read of the past
        from now on has a starting point. An object changed since the start needs none: its
        change entry carries its whole document."""
        while self._unbaselined and time.perf_counter() < until:
            kind, identifier = next(iter(self._unbaselined))
            del self._unbaselined[(kind, identifier)]
            if not self.twin.exists(kind, identifier):
                continue
            document = documents.encode(self.twin.get(kind, identifier))
            if self._latest.get((kind.value, identifier)) != digest(orjson.loads(document)):
                self._add("baseline", kind, identifier, None, document, "twinbridge", "start-up")
        self._commit()

    def _load_index(self) -> None:
        for offset, line in lines(self.path):
            try:
                fields = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # reported by verify; the rest stays readable
            self._seq += 1
            self._last = str(fields.get("hash", self._last))
            self._note(fields, offset)
            self._latest[(str(fields.get("kind")), str(fields.get("id")))] = digest(fields.get("document"))

    def _note(self, fields: dict[str, Any], offset: int) -> None:
        self._offsets.append(offset)
        times, offsets = self._index.setdefault((str(fields.get("kind")), str(fields.get("id"))), ([], []))
        moment = float(fields.get("time", 0.0))
        position = bisect.bisect_right(times, moment)
        times.insert(position, moment)
        offsets.insert(position, offset)
