"""The edge's outbox: every change, numbered, on disk until the central acknowledges it.

One SQLite file (``edge-outbox.sqlite3`` in the data directory): ``change(seq, body)`` and
``meta(key, value)`` holding the next sequence number and the highest one the central has
confirmed. Sequence numbers are per edge, gap-free and never reused (they survive restarts and
acknowledgements), which is what lets the central apply each change exactly once, in order.
A batch of changes is one transaction (WAL, synchronous=NORMAL: a crash of the process loses
nothing committed; a power cut may lose the last batch, before anyone acknowledged it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS change (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Outbox:
    """Used from one thread at a time (the forwarder's executor)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.next_seq = self._meta("next_seq", 1)
        self.acked = self._meta("acked", 0)
        self.started = self._meta("started", 0) == 1
        """False until the first snapshot of the twin was queued (a new edge sends everything once)."""

    def _meta(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else int(row[0])

    def _set(self, key: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def append(self, bodies: Sequence[bytes], *, started: bool = False) -> int:
        """Number and store ``bodies`` in one transaction; returns the last sequence number.
        Each body is a JSON object missing its ``seq``; it is spliced in here."""
        seq = self.next_seq
        rows = []
        for body in bodies:
            rows.append((seq, b'{"seq":' + str(seq).encode() + b"," + body[1:]))
            seq += 1
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT INTO change (seq, body) VALUES (?, ?)", rows)
            self._set("next_seq", seq)
            if started:
                self._set("started", 1)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self.next_seq = seq
        self.started = self.started or started
        return seq - 1

    def after(self, seq: int, limit: int) -> list[tuple[int, bytes]]:
        return [(int(s), bytes(b)) for s, b in self._db.execute(
            "SELECT seq, body FROM change WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))]

    def acknowledge(self, seq: int) -> None:
        """The central applied everything up to ``seq`` durably: forget it."""
        if seq <= self.acked:
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM change WHERE seq <= ?", (seq,))
        self._set("acked", seq)
        self._db.execute("COMMIT")
        self.acked = seq

    def pending(self) -> int:
        return self.next_seq - 1 - self.acked

    def close(self) -> None:
        self._db.close()
