"""Persistence behind a small interface, chosen by URL, so endpoints never know which database is used.

``open_store("sqlite:///abs/path/twinbridge.sqlite3")``, ``open_store("memory:")`` or
``open_store("postgresql://host:5432/db?schema=name")`` (shared by several instances, see
``store.postgres``); a backend for another scheme registers an opener with ``register_scheme``.
The data directory (certificates, tokens) is a separate concept:
``store_url_for(data_dir)`` gives the default store URL inside it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from twinbridge.aas.store.base import (
    Change,
    CheckVersion,
    DeleteDocument,
    DeleteFile,
    ElementOp,
    FileContent,
    LogElement,
    LoggedChange,
    SaveDocument,
    SaveFile,
    Store,
    StoredDocument,
    touched,
)
from twinbridge.aas.store.memory import MemoryStore
from twinbridge.aas.store.sqlite import SqliteStore
from twinbridge.aas.store.writer import StoreWriter

STORE_FILE_NAME = "twinbridge.sqlite3"
MEMORY_URL = "memory:"

Opener = Callable[[], Store]
UrlParser = Callable[[str], Opener]
"""Checks a URL of its scheme (raising StoreUrlError) and returns what opens the store."""


class StoreUrlError(ValueError):
    """The store URL names no known scheme or no usable location."""


def _parse_sqlite(url: str) -> Opener:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise StoreUrlError(f"{url!r}: a sqlite URL names a local file, sqlite:///abs/path/file.sqlite3")
    path = Path(unquote(parts.path))
    if parts.path.endswith("/"):
        raise StoreUrlError(f"{url!r}: the URL names a directory, not a database file")

    def open_sqlite() -> Store:
        for directory in reversed([path.parent, *path.parent.parents]):
            if not directory.exists():  # ours: private (the file itself is made 0600 by the store)
                private_directory(directory)
        return SqliteStore(path)

    return open_sqlite


def _parse_memory(url: str) -> Opener:
    if url not in (MEMORY_URL, "memory://"):
        raise StoreUrlError(f"{url!r}: the in-memory store is 'memory:'")
    return MemoryStore


def _parse_postgresql(url: str) -> Opener:
    from twinbridge.aas.store.postgres import PostgresStore  # psycopg loads only when used
    from twinbridge.aas.store.postgres_schema import StoreUrl

    parts = urlsplit(url)
    if not parts.netloc or parts.path in ("", "/"):
        raise StoreUrlError(f"{url!r}: a postgresql URL names a server and a database, "
                            "postgresql://user@host:5432/db?schema=twinbridge")
    try:
        parsed = StoreUrl(url)
    except ValueError as error:
        raise StoreUrlError(f"{url!r}: {error}") from None
    return lambda: PostgresStore(parsed)


_SCHEMES: dict[str, UrlParser] = {"sqlite": _parse_sqlite, "memory": _parse_memory,
                                  "postgresql": _parse_postgresql, "postgres": _parse_postgresql}


def register_scheme(scheme: str, parser: UrlParser) -> None:
    """Make ``open_store`` understand ``scheme://...`` (a PostgreSQL backend registers itself here)."""
    _SCHEMES[scheme] = parser


def check_url(url: str) -> Opener:
    """Raise StoreUrlError unless ``url`` names a known scheme and a usable location (opens nothing)."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    parser = _SCHEMES.get(scheme)
    if parser is None:
        known = ", ".join(f"{name}:" for name in sorted(_SCHEMES))
        raise StoreUrlError(f"unknown store URL {url!r}; known schemes: {known}")
    return parser(url)


def open_store(url: str) -> Store:
    return check_url(url)()


def private_directory(data_dir: Path) -> None:
    """Create the data directory (tokens, keys, the store) 0700 whatever the umask, and tighten
    an existing one: other local users have no business reading it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if data_dir.stat().st_mode & 0o777 != 0o700:
        os.chmod(data_dir, 0o700)


def store_url_for(data_dir: Path | None) -> str:
    """The default store of a data directory: SQLite inside it; no directory keeps everything in memory."""
    if data_dir is None:
        return MEMORY_URL
    return "sqlite://" + quote(str((Path(data_dir) / STORE_FILE_NAME).resolve()))


__all__ = [
    "MEMORY_URL",
    "STORE_FILE_NAME",
    "Change",
    "CheckVersion",
    "DeleteDocument",
    "DeleteFile",
    "ElementOp",
    "FileContent",
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
    "check_url",
    "open_store",
    "private_directory",
    "register_scheme",
    "store_url_for",
    "touched",
]
