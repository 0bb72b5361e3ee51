"""The twin's side of the store: changes leave the event loop through one writer thread.

The twin submits changes (cheap records, encoded on the loop where the model lives) and goes
on; a daemon thread takes whatever queued up, writes it as *one* transaction and marks it
durable. So a REST write never blocks the loop on an fsync, and concurrent writers share one
(group commit). ``await persisted()`` returns when everything submitted so far is durable and
raises the store's error if a write failed; ``wait_persisted()`` is the blocking variant for
synchronous callers (start-up import, CLI export, tests in plain functions).

Acknowledge after ``persisted()``: a client told "done" before it returned can lose the write
to a ``kill -9``. Failures: if a combined transaction fails, its units are retried one by one,
so one bad unit does not fail its neighbours; each failure is kept with its sequence number and
reported to every ``persisted(since=...)`` whose window covers it, and once to a plain
``persisted()``.

Reads of files see submitted-but-not-yet-durable writes (an overlay), so a client that uploads
and at once downloads gets its bytes. A file whose content waits in a file of its own
(``FileContent``, an upload streamed to disk) is owned by the writer once submitted: it deletes
that file when the unit is written or refused, or when the batch holding it is dropped.

A unit the store refused (a full disk) is handed to ``on_failure`` on the event loop that
submitted it, before any ``persisted()`` waiter resumes, as a ``Refusal``: what the store held
for each identifiable the unit touched, read by this thread right after the refusal (before any
later unit was written). The twin puts memory back to that plus the changes of every unit
submitted after the refused one (``after``), so memory never holds a change the disk does not,
nor loses one queued behind it (re-reading the store on the loop instead lost such a write: it
was accepted on disk a moment later). Units submitted with ``restore=False``, the periodic flush
of device values, are left alone: memory is the newer truth for those.

Backends with ``blocking = False`` (memory) are written inline: no thread, same contract.

``expecting(check)`` (an ``If-Match``) puts a ``CheckVersion`` in front of the first unit
submitted inside it (in the same task), so a store with shared versions checks and writes in
one transaction. ``observe`` tells a replica which keys each submitted unit touches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from twinbridge.aas.errors import StorageError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store.base import (
    Change,
    CheckVersion,
    DeleteDocument,
    DeleteFile,
    FileContent,
    LogElement,
    LoggedChange,
    SaveDocument,
    SaveFile,
    Store,
    StoredDocument,
    touched,
)

log = logging.getLogger(__name__)

MAX_UNITS_PER_TRANSACTION = 1_000
_KEPT_FAILURES = 100


@dataclass(slots=True)
class _Unit:
    seq: int
    changes: Sequence[Change]
    loop: asyncio.AbstractEventLoop | None = None
    """Where ``on_failure`` runs if the store refuses this unit (None: nobody restores it)."""


_STOP = _Unit(-1, ())
Key = tuple[ObjectKind, str]


@dataclass(slots=True)
class Refusal:
    """A unit the store refused, and what the store held for each identifiable it touches just
    after (None: not stored, or the store could not be read; then the twin reads it itself)."""

    seq: int
    changes: Sequence[Change]
    stored: dict[Key, StoredDocument | None]
    read: bool
    """Whether ``stored`` was read (False: reading the store failed too)."""


FailureHandler = Callable[[Refusal], None]
Observer = Callable[[Sequence[Change], int], None]
_EXPECTED: ContextVar[list[CheckVersion] | None] = ContextVar("twinbridge_expected_version", default=None)
_Waiter = tuple[int, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class StoreWriter:
    """Queue in front of a ``Store``; the twin's ``store`` attribute."""

    def __init__(self, backend: Store) -> None:
        self.backend = backend
        self._submitted = 0
        self._durable = 0
        self._queue: queue.SimpleQueue[_Unit] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._waiters: list[_Waiter] = []
        self._failures: list[tuple[int, StorageError]] = []
        self._reported = 0  # failures up to this seq were raised by a plain persisted()
        self._files: dict[str, tuple[int, tuple[str, bytes | FileContent] | None]] = {}
        self._units: dict[int, Sequence[Change]] = {}
        """Changes of units not yet written, and of every unit after a refusal not yet restored."""
        self._refused: list[int] = []
        self._batch: list[Change] | None = None
        self._batch_depth = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self.on_failure: FailureHandler | None = None
        self._observers: list[Observer] = []

    # ------------------------------------------------------------- submitting
    @property
    def position(self) -> int:
        """The sequence number of the last submitted unit (``persisted(since=position)``)."""
        return self._submitted

    @property
    def durable(self) -> int:
        """The sequence number up to which every unit was written (or failed)."""
        return self._durable

    @property
    def batching(self) -> bool:
        """True inside ``batch()``: what is submitted now is not even queued yet."""
        return self._batch is not None

    def observe(self, observer: Observer) -> None:
        """Call ``observer(changes, seq)`` on the loop for every unit as it is submitted."""
        self._observers.append(observer)

    @contextlib.contextmanager
    def expecting(self, check: CheckVersion) -> Iterator[None]:
        """The first unit submitted inside (in this task) is kept only if ``check`` holds."""
        token = _EXPECTED.set([check])
        try:
            yield
        finally:
            _EXPECTED.reset(token)

    def submit(self, changes: Sequence[Change], *, restore: bool = True) -> None:
        """Queue ``changes`` to be written together, after everything submitted before;
        ``restore=False``: if the store refuses them, ``on_failure`` is not told."""
        if not changes:
            return
        if self._batch is not None:
            self._batch.extend(changes)
            self._overlay(changes, None)
            return
        self._enqueue(list(changes), restore)

    def _enqueue(self, changes: list[Change], restore: bool = True) -> None:
        if self._closed:
            _delete_spooled(changes)
            raise StorageError("the store is closed")
        expected = _EXPECTED.get()
        if expected:
            changes.insert(0, expected.pop())
        self._submitted += 1
        unit = _Unit(self._submitted, changes, _running_loop() if restore else None)
        self._overlay(changes, unit.seq)
        for observer in self._observers:
            observer(changes, unit.seq)
        if not self.backend.blocking:
            self._write_units([unit])
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="twinbridge store writer", daemon=True)
            self._thread.start()
        self._queue.put(unit)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Everything submitted inside becomes one unit, one transaction (imports). If the block
        raises, nothing of it is written (as a rolled-back transaction)."""
        outermost = self._batch is None
        if outermost:
            self._batch = []
        self._batch_depth += 1
        try:
            yield
        except BaseException:
            self._batch_depth -= 1
            if outermost:
                dropped, self._batch = self._batch or [], None
                with self._cond:
                    self._files = {name: entry for name, entry in self._files.items() if entry[0] > 0}
                _delete_spooled(dropped)
            raise
        self._batch_depth -= 1
        if outermost:
            changes, self._batch = self._batch, None
            if changes:
                self._enqueue(changes)

    def _overlay(self, changes: Sequence[Change], seq: int | None) -> None:
        """Record pending file changes so reads see them before they are durable (seq 0: in a batch)."""
        with self._cond:
            if seq is not None:
                self._units[seq] = changes
            for change in changes:
                if isinstance(change, SaveFile):
                    self._files[change.name] = (seq or 0, (change.content_type, change.data))
                elif isinstance(change, DeleteFile):
                    self._files[change.name] = (seq or 0, None)
            if seq is not None:
                for name, (pending, content) in list(self._files.items()):
                    if pending == 0:
                        self._files[name] = (seq, content)

    # ------------------------------------------------------------- durability
    async def persisted(self, since: int | None = None) -> None:
        """Wait until everything submitted so far is durable.

        Raises the StorageError of a failed unit: with ``since`` (a ``position`` taken before
        the caller's own writes), any failure after it; without, each failure once.
        """
        target = self._submitted
        if self._durable < target:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            with self._cond:
                waiting = self._durable < target
                if waiting:
                    self._waiters.append((target, loop, future))
            if waiting:
                await future
        self._raise_failures(since, target)

    def wait_persisted(self, since: int | None = None, timeout: float | None = None) -> None:
        """The blocking ``persisted`` for synchronous callers (never from the event loop's thread)."""
        target = self._submitted
        with self._cond:
            if not self._cond.wait_for(lambda: self._durable >= target, timeout):
                raise StorageError(f"the store did not make the writes durable within {timeout} s")
        self._raise_failures(since, target)

    def _raise_failures(self, since: int | None, target: int) -> None:
        with self._cond:
            if since is not None:
                failed = [error for seq, error in self._failures if since < seq <= target]
            else:
                failed = [error for seq, error in self._failures if self._reported < seq <= target]
                self._reported = max(self._reported, target)
        if failed:
            raise failed[-1]

    # ------------------------------------------------------------------ reads
    def load_file(self, name: str) -> tuple[str, bytes] | None:
        with self._cond:
            pending = self._files.get(name)
        if pending is not None:
            if pending[1] is None:
                return None
            content_type, data = pending[1]
            if isinstance(data, bytes):
                return content_type, data
            try:
                return content_type, data.read()
            except FileNotFoundError:  # written (or refused) and deleted meanwhile: the store knows
                pass
        return self.backend.load_file(name)

    def file_names(self, prefix: str = "") -> list[str]:
        names = set(self.backend.file_names(prefix))
        with self._cond:
            for name, (_, content) in self._files.items():
                if name.startswith(prefix):
                    if content is None:
                        names.discard(name)
                    else:
                        names.add(name)
        return sorted(names)

    # ----------------------------------------------------------------- thread
    def _run(self) -> None:
        while True:
            units = [self._queue.get()]
            while len(units) < MAX_UNITS_PER_TRANSACTION:
                try:
                    units.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(unit is _STOP for unit in units)
            units = [unit for unit in units if unit is not _STOP]
            if units:
                self._write_units(units)
            # Let go of the written documents before waiting: the frame kept the last batch alive
            # until the next write, at start-up the whole plant's (326 B/property on an import).
            del units
            if stop:
                return

    def _write_units(self, units: list[_Unit]) -> None:
        failures: list[tuple[int, StorageError]] = []
        refusals: list[tuple[_Unit, Refusal]] = []
        try:
            self.backend.write([change for unit in units for change in unit.changes])
        except Exception as error:
            if len(units) == 1:
                failures.append((units[0].seq, _as_storage_error(error)))
                refusals.append((units[0], self._refusal(units[0])))
            else:
                for unit in units:  # isolate the failing unit(s)
                    try:
                        self.backend.write(unit.changes)
                    except Exception as unit_error:
                        failures.append((unit.seq, _as_storage_error(unit_error)))
                        refusals.append((unit, self._refusal(unit)))  # before the next unit is written
        for unit in units:
            _delete_spooled(unit.changes)
        for seq, failure in failures:
            log.error("store write %d failed: %s", seq, failure)
        handler = self.on_failure
        for unit, refusal in refusals:  # scheduled before the waiters below, so they resume on restored memory
            if handler is not None and unit.loop is not None:
                with self._cond:
                    self._refused.append(unit.seq)
                try:
                    unit.loop.call_soon_threadsafe(self._restore, handler, refusal)
                except RuntimeError:  # that loop is closed: nothing to restore
                    with self._cond:
                        self._refused.remove(unit.seq)
        self._completed(units[-1].seq, failures)

    def _refusal(self, unit: _Unit) -> Refusal:
        """What the store holds for ``unit``'s identifiables now that it refused it (this thread
        writes nothing else meanwhile)."""
        stored: dict[Key, StoredDocument | None] = {}
        try:
            for kind, identifier in touched(unit.changes):
                stored[(kind, identifier)] = self.backend.load_one(kind, identifier)
        except Exception:
            log.exception("could not read the store after it refused write %d", unit.seq)
            return Refusal(unit.seq, unit.changes, {}, read=False)
        return Refusal(unit.seq, unit.changes, stored, read=True)

    def _restore(self, handler: FailureHandler, refusal: Refusal) -> None:
        try:
            handler(refusal)
        finally:
            with self._cond:
                self._refused.remove(refusal.seq)
                self._prune()

    def after(self, refusal: Refusal) -> list[Change]:
        """The changes of every unit submitted after ``refusal``'s, in order (on the loop: none
        is being submitted meanwhile); written or not, none is in ``refusal.stored``."""
        with self._cond:
            return [change for seq in sorted(self._units) if seq > refusal.seq for change in self._units[seq]]

    def _prune(self) -> None:
        """Forget written units' changes, but those after a refusal whose restore has not run."""
        keep_after = min(self._refused) if self._refused else self._durable
        for seq in [seq for seq in self._units if seq <= keep_after]:
            del self._units[seq]

    def _completed(self, seq: int, failures: list[tuple[int, StorageError]]) -> None:
        with self._cond:
            self._durable = seq
            if failures:
                self._failures = (self._failures + failures)[-_KEPT_FAILURES:]
            self._files = {name: entry for name, entry in self._files.items() if entry[0] == 0 or entry[0] > seq}
            self._prune()
            ready = [waiter for waiter in self._waiters if waiter[0] <= seq]
            self._waiters = [waiter for waiter in self._waiters if waiter[0] > seq]
            self._cond.notify_all()
        # One call per loop, not per waiter: each call_soon_threadsafe is a write to the loop's
        # self-pipe (a system call here and a wake-up there), and a group commit of a PATCH flood
        # ends the wait of 10-30 requests at once.
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, loop, future in ready:
            by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            if loop is _running_loop():
                _resolve(futures)
            else:
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                    loop.call_soon_threadsafe(_resolve, futures)

    def close(self) -> None:
        """Write everything still queued, stop the thread, close the backend."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        self.backend.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


def replayed(kind: ObjectKind, identifier: str, stored: StoredDocument | None,
             later: Sequence[Change]) -> StoredDocument | None:
    """``stored`` with ``later``'s changes of that identifiable applied, as the store will hold it
    once they are written (a saved document replaces, a delete removes, element changes log)."""
    current = stored if stored is None else StoredDocument(kind, identifier, stored.body, list(stored.log))
    for change in later:
        match change:
            case SaveDocument(k, i, body) if (k, i) == (kind, identifier):
                current = StoredDocument(kind, identifier, body)
            case DeleteDocument(k, i) if (k, i) == (kind, identifier):
                current = None
            case LogElement(submodel_id, op, path, body) if (
                    kind is ObjectKind.SUBMODEL and submodel_id == identifier and current is not None):
                current.log.append(LoggedChange(op, path, body))
    return current


def _delete_spooled(changes: Sequence[Change]) -> None:
    """Delete the files of ``changes``' spooled contents (written, refused or dropped: no longer needed)."""
    for change in changes:
        if isinstance(change, SaveFile) and isinstance(change.data, FileContent):
            try:
                change.data.path.unlink(missing_ok=True)
            except OSError as error:
                log.warning("could not delete the spooled upload %s: %s", change.data.path, error)


def _as_storage_error(error: Exception) -> StorageError:
    if isinstance(error, StorageError):
        return error
    return StorageError(f"the store failed: {type(error).__name__}: {error}")
