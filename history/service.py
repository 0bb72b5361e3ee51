"""``HistoryService``: the history room as one service of the application (start, stop, backup).

It opens the history store, starts the Historian and the Journal, adds the history segments to
Time Series submodels, and takes online backups.
A history file that cannot be opened (corrupt, unreadable) does not stop the server: the error
names the file, live service goes on, and the history API answers 503 until it is fixed.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from basyx.aas import model

from twinbridge.aas.store import STORE_FILE_NAME, SqliteStore
from twinbridge.aas.twin import Twin
from twinbridge.history.historian import Historian, HistorianSettings
from twinbridge.history.journal import Journal
from twinbridge.history.settings import HistorySettings
from twinbridge.history.store import HistoryError, Retention, open_history
from twinbridge.history.time_series import TimeSeriesSegments

if TYPE_CHECKING:
    from asyncua import Server

    from twinbridge.history.opcua_history import ElementOf

log = logging.getLogger(__name__)

HISTORY_DIR = "history"
HISTORY_FILE = "history.duckdb"
JOURNAL_FILE = "journal.jsonl"


class HistoryService:
    def __init__(self, twin: Twin, settings: HistorySettings, data_dir: Path | None,
                 endpoint: str = "http://127.0.0.1:8080/api/v3.0/history") -> None:
        self.twin = twin
        self.settings = settings
        self.endpoint = endpoint
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:  # --memory: the journal still needs a file for as-of reads
            self._scratch = tempfile.TemporaryDirectory(prefix="twinbridge-history-")
        self.directory = (data_dir if data_dir is not None else Path(self._scratch.name)) / HISTORY_DIR  # type: ignore[union-attr]
        default = f"duckdb:///{self.directory / HISTORY_FILE}" if data_dir is not None else "duckdb://:memory:"
        self.url = settings.url or default
        self.historian: Historian | None = None
        self.journal: Journal | None = None
        self.segments: TimeSeriesSegments | None = None
        if settings.enabled:
            self.segments = TimeSeriesSegments(twin, None, endpoint, settings.internal_records,
                                               settings.internal_record_interval_s)
        self.error: str | None = None

    def complete(self, obj: model.Identifiable) -> None:
        """Finish an identifiable before the twin stores it (``Twin.completing`` while the
        application loads the plant and imports): Time Series submodels get their segments."""
        if self.segments is not None:
            self.segments.complete(obj)

    async def start(self) -> None:
        if not self.settings.enabled:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            store = open_history(self.url)
        except HistoryError as error:
            self.error = str(error)
            log.error("history disabled, live values keep flowing: %s", error)
        else:
            retention = Retention(self.settings.retention.raw_days, self.settings.retention.rollup_days)
            overrides = tuple((e.submodel, e.path, e.raw_days) for e in self.settings.retention.elements)
            self.historian = Historian(self.twin, store, HistorianSettings(
                flush_interval_s=self.settings.flush_interval_s, retention=retention, element_retention=overrides))
            await self.historian.start()
        if self.settings.journal:
            self.journal = Journal(self.twin, self.directory / JOURNAL_FILE)
            await self.journal.start()
        if self.segments is not None:
            self.segments.historian = self.historian
            await self.segments.start()

    async def stop(self) -> None:
        if self.segments is not None:
            await self.segments.stop()
        if self.journal is not None:
            await self.journal.stop()
        if self.historian is not None:
            await self.historian.stop()
        if self._scratch is not None:
            self._scratch.cleanup()

    def serve_opcua(self, server: Server, element_of: ElementOf) -> None:
        """OPC UA HistoryRead on the mirrored values (when history records)."""
        if self.historian is not None:
            from twinbridge.history.opcua_history import install

            install(server, self.historian, element_of)

    async def backup(self, directory: Path) -> list[Path]:
        """A consistent copy of the store, the history and the journal, taken while the server runs.

        The journal and the store are copied in one stretch on the event loop, with no await in
        between: every change to the twin happens on this loop, so none can land in one copy and
        not in the other (the store's online backup holds the loop for its duration: ~10 ms for
        the demo). History points only grow, so the DuckDB copy runs afterwards in a thread.
        Only a SQLite store is copied here; a PostgreSQL store is backed up with its own tools.
        """
        directory.mkdir(parents=True, exist_ok=True)
        files: list[Path] = []
        if self.historian is not None:
            await self.historian.flushed()
        self.twin.save_deferred()  # documents of a start-up still waiting for their first save
        await self.twin.persisted()
        if self.journal is not None:
            self.journal.settle()
            files += self.journal.backup(directory)
        self.twin.wait_persisted()  # what this loop turn submitted (normally nothing: no await since)
        store = self.twin.store.backend
        if isinstance(store, SqliteStore):
            target = directory / STORE_FILE_NAME
            target.unlink(missing_ok=True)
            source = sqlite3.connect(store.path)
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)  # SQLite's online backup: one consistent snapshot
            finally:
                copy.close()
                source.close()
            files.append(target)
        if self.historian is not None:
            files += await asyncio.to_thread(self.historian.store.backup, directory)
        return files
