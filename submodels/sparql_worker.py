"""SPARQL in a forked child process, so no query can stall the server.

A thread cannot be stopped: a catastrophic ``REGEX`` holds the GIL inside ``re`` and never
reaches the graph's deadline checks, and parsing 30,000 ``VALUES`` rows takes seconds before
the first check. So every query (parse included) runs in a child forked from the event
loop's thread at the moment it arrives: the child sees the graph exactly as applied so far
(value and structure events are applied on the loop, so a fork there never sees half a
batch), reads it copy-on-write, writes its answer to a pipe and exits. At the time limit the
parent kills it (SIGKILL); nothing of it stays behind. No lock is shared with the bus
consumer, so queries no longer wait in line for one another or hold back value updates.

Cost (``bench/bench_sparql_fork.py``, 2 cores at load 6-11): ``os.fork`` of a 220 MiB server
takes ~15 ms and a query ~50-90 ms more than in-process; at 1.7 GiB (1,000 machines) ~160 ms
and ~350-500 ms more, during which the event loop waits (page tables, then copy-on-write
faults); see BENCHMARKS.md. A child touches only the pages its query reads (memory stays
flat, the answer is always current); at most ``workers`` children run at once and a query
beyond that is refused with ``QueryBusy`` (HTTP 503 + Retry-After) rather than queued behind
slow ones. A child may grow by ``HEADROOM`` (1 GiB) beyond the server's address space
(RLIMIT_AS; free space in the heap it inherited comes first): a query that builds a huge
intermediate result ends with MemoryError, not with the OOM killer choosing the server.
Linux only (``os.fork``, ``os.pidfd_open``, ``/proc/self/status``).

Not a pre-started pool (forkserver, spawn): its workers share no pages with the server, so the
graph would have to be sent to them after every change, and again to each worker a time limit
kills. Pickling the 1,000-machine graph alone takes 7 CPU-s on the server (unpickling 11.6 in the
worker), ~40x the fork's pause (``bench_sparql_fork.py --ship``, BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import resource
import signal
import sys
from collections.abc import Callable

from twinbridge.aas.errors import TwinError
from twinbridge.submodels.sparql import QueryError, QueryRejected, QueryTimeout

Evaluate = Callable[[], tuple[str, bytes]]
"""What the child runs: (content type, body), or a QueryError/QueryRejected/QueryTimeout."""

_OK, _MALFORMED, _REJECTED, _TIMEOUT, _FAILED = b"O", b"E", b"R", b"T", b"F"
HEADROOM = 1 << 30
"""How much more address space than the server a query's child may use (1 GiB)."""
_ERRORS: dict[bytes, type[TwinError]] = {_MALFORMED: QueryError, _REJECTED: QueryRejected, _TIMEOUT: QueryTimeout}


class QueryBusy(TwinError):
    """Every SPARQL worker is busy: the client should try again shortly."""


class QueryFailed(QueryError):
    """rdflib could not evaluate the query (a form it does not support); the message names only the kind."""


class SparqlWorkers:
    """Runs queries in forked children, at most ``limit`` at once."""

    def __init__(self, limit: int = 2) -> None:
        if limit < 1:
            raise ValueError("at least one SPARQL worker is needed")
        self.limit = limit
        self.running = 0
        self.killed = 0
        """Children killed at the time limit (tests and diagnostics)."""
        self._reaping: set[asyncio.Task[None]] = set()

    def reserve(self) -> None:
        """Take a worker slot or raise QueryBusy; pair with ``release``."""
        if self.running >= self.limit:
            raise QueryBusy(f"all {self.limit} SPARQL workers are busy; try again shortly")
        self.running += 1

    def release(self) -> None:
        self.running -= 1

    async def run(self, evaluate: Evaluate, timeout_s: float) -> tuple[str, bytes]:
        """Fork, run ``evaluate`` in the child, return its answer or raise its error.

        Call it on the event loop's thread (where the graph is mutated), holding a slot.
        """
        loop = asyncio.get_running_loop()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)
            _child(write_end, evaluate)
        os.close(write_end)
        try:
            answer = await asyncio.wait_for(_read_all(loop, read_end), timeout_s)
        except TimeoutError:
            self.killed += 1
            raise QueryTimeout("the SPARQL query ran past its time limit and was stopped") from None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # a child that answered has nothing left to do
            os.close(read_end)
            # the exit of a child of a big process takes a while (unmapping): answer meanwhile
            reaping = loop.create_task(_reap(loop, pid))
            self._reaping.add(reaping)
            reaping.add_done_callback(self._reaping.discard)
        return _decode(answer)


def _child(write_end: int, evaluate: Evaluate) -> None:
    """Evaluate and write the tagged answer; leave with ``os._exit`` (no atexit, no finalizers)."""
    try:
        gc.disable()  # a collection would touch (and so copy) every page of the parent's heap
        # nothing to say but through the pipe: a thread of the parent may have held the lock of
        # sys.stderr at the fork, and a finalizer's "Exception ignored" would wait for it forever
        sys.stdout = sys.stderr = None  # type: ignore[assignment]
        # the parent's sockets and files are not ours: a connection the parent closes must not
        # stay open until we exit (close_range(2) on Linux: one call)
        os.closerange(3, write_end)
        os.closerange(write_end + 1, os.sysconf("SC_OPEN_MAX"))
        with contextlib.suppress(ValueError):  # (raised only off the main thread: nothing was installed)
            signal.set_wakeup_fd(-1)  # the parent's loop owns that descriptor
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
        _limit_memory()
        # below the server in the scheduler: on 2 cores, two children spinning on a catastrophic
        # regex otherwise take a REST request's core for whole time slices
        os.nice(10)
        try:
            content_type, body = evaluate()
            answer = _OK + content_type.encode() + b"\n" + body
        except QueryTimeout as error:
            answer = _TIMEOUT + str(error).encode()
        except QueryRejected as error:
            answer = _REJECTED + str(error).encode()
        except QueryError as error:
            answer = _MALFORMED + str(error).encode()
        except RecursionError:
            answer = _MALFORMED + b"the SPARQL query is too deeply nested to evaluate"
        except MemoryError:
            answer = _TIMEOUT + f"the SPARQL query needed more than {HEADROOM >> 20} MiB and was stopped".encode()
        except Exception as error:  # rdflib's own failures: name the kind, never the internals
            answer = _FAILED + type(error).__name__.encode()
        view = memoryview(answer)
        while view:
            view = view[os.write(write_end, view):]
        os.close(write_end)  # the answer is complete now, not after the kernel has torn down our pages
    finally:
        os._exit(0)


def _limit_memory() -> None:
    """Let the child grow by HEADROOM beyond the parent's address space, no more: a query that
    builds a huge intermediate result fails with MemoryError instead of waking the OOM killer,
    which might pick the server."""
    with open("/proc/self/status", "rb") as status:
        size_kb = next((int(line.split()[1]) for line in status if line.startswith(b"VmSize:")), None)
    if size_kb is not None:
        limit = size_kb * 1024 + HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


async def _read_all(loop: asyncio.AbstractEventLoop, fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                return
            if not chunk:
                loop.remove_reader(fd)
                if not done.done():
                    done.set_result(None)
                return
            chunks.append(chunk)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return b"".join(chunks)


async def _reap(loop: asyncio.AbstractEventLoop, pid: int) -> None:
    """Wait for the (killed or finished) child without blocking the loop, so no zombie stays."""
    pidfd = os.pidfd_open(pid)
    try:
        exited: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(pidfd, readable)
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
        os.waitpid(pid, 0)
    finally:
        os.close(pidfd)


def _decode(answer: bytes) -> tuple[str, bytes]:
    tag, rest = answer[:1], answer[1:]
    if tag == _OK:
        content_type, _, body = rest.partition(b"\n")
        return content_type.decode(), body
    error = _ERRORS.get(tag)
    if error is not None:
        raise error(rest.decode(errors="replace"))
    if tag == _FAILED:
        raise QueryFailed(f"the SPARQL query uses a form this endpoint cannot evaluate ({rest.decode()})")
    raise QueryTimeout(f"the SPARQL query was stopped: its worker ended without an answer (it needed more than "
                       f"{HEADROOM >> 20} MiB, or was killed)")
