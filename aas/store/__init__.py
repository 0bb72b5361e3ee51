"""Persistence behind a small interface, so endpoints never know which database is used."""

from pathlib import Path

from twinbridge.aas.store.base import Store
from twinbridge.aas.store.memory import MemoryStore
from twinbridge.aas.store.sqlite import SqliteStore

STORE_FILE_NAME = "twinbridge.sqlite3"


def open_store(data_dir: Path | None) -> Store:
    """SQLite in ``data_dir`` (created if missing); None keeps everything in memory."""
    if data_dir is None:
        return MemoryStore()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteStore(data_dir / STORE_FILE_NAME)


__all__ = ["STORE_FILE_NAME", "MemoryStore", "SqliteStore", "Store", "open_store"]
