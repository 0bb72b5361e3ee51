"""Persistence behind a small interface, chosen by URL, so endpoints never know which database is used.

``open_store("sqlite:///abs/path/twinbridge.sqlite3")`` or ``open_store("memory:")``; a backend
for another scheme (``postgresql://`` in a later issue) registers an opener with
``register_scheme``. The data directory (certificates, tokens) is a separate concept:
``store_url_for(data_dir)`` gives the default store URL inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from twinbridge.aas.store.base import (
    Change,
    DeleteDocument,
    DeleteFile,
    ElementOp,
    LogElement,
    LoggedChange,
    SaveDocument,
    SaveFile,
    Store,
    StoredDocument,
)
from twinbridge.aas.store.memory import MemoryStore
from twinbridge.aas.store.sqlite import SqliteStore
from twinbridge.aas.store.writer import StoreWriter

STORE_FILE_NAME = "twinbridge.sqlite3"
MEMORY_URL = "memory:"

Opener = Callable[[str], Store]


class StoreUrlError(ValueError):
    """The store URL names no known scheme or no usable location."""


def _open_sqlite(url: str) -> Store:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise StoreUrlError(f"{url!r}: a sqlite URL names a local file, sqlite:///abs/path/file.sqlite3")
    path = Path(unquote(parts.path))
    if not path.is_absolute() or path.name == "":
        raise StoreUrlError(f"{url!r}: expected sqlite:///absolute/path/file.sqlite3 (three slashes, then the path)")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path)


def _open_memory(url: str) -> Store:
    if url not in (MEMORY_URL, "memory://"):
        raise StoreUrlError(f"{url!r}: the in-memory store is 'memory:'")
    return MemoryStore()


_OPENERS: dict[str, Opener] = {"sqlite": _open_sqlite, "memory": _open_memory}


def register_scheme(scheme: str, opener: Opener) -> None:
    """Make ``open_store`` understand ``scheme://...`` (a PostgreSQL backend registers itself here)."""
    _OPENERS[scheme] = opener


def open_store(url: str) -> Store:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    opener = _OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{name}:" for name in sorted(_OPENERS))
        raise StoreUrlError(f"unknown store URL {url!r}; known schemes: {known}")
    return opener(url)


def store_url_for(data_dir: Path | None) -> str:
    """The default store of a data directory: SQLite inside it; no directory keeps everything in memory."""
    if data_dir is None:
        return MEMORY_URL
    return "sqlite://" + quote(str((Path(data_dir) / STORE_FILE_NAME).resolve()))


__all__ = [
    "MEMORY_URL",
    "STORE_FILE_NAME",
    "Change",
    "DeleteDocument",
    "DeleteFile",
    "ElementOp",
    "LogElement",
    "LoggedChange",
    "MemoryStore",
    "SaveDocument",
    "SaveFile",
    "SqliteStore",
    "Store",
    "StoreUrlError",
    "StoreWriter",
    "StoredDocument",
    "open_store",
    "register_scheme",
    "store_url_for",
]
