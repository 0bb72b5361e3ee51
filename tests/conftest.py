"""``TWINBRIDGE_TEST_STORE=postgresql`` runs the whole suite with its stores on PostgreSQL.

Every ``Twin()`` without a store, every ``memory:`` URL and every ``sqlite:///…`` URL opens a
PostgreSQL schema of its own instead (the same file path → the same schema, so a test that
reopens its store finds its data); tests that build a ``SqliteStore`` directly test SQLite and
keep it. The schemas are dropped when the session ends.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from collections.abc import Iterator

import pytest

from twinbridge.aas.store.postgres import PostgresStore

STORE = os.environ.get("TWINBRIDGE_TEST_STORE", "")
_OPENED: weakref.WeakSet[PostgresStore] = weakref.WeakSet()
SQLITE_ITSELF = (
    "tests/aas/test_store_sqlite.py",
    "tests/test_cli.py::test_export_beside_the_demo_store_names_it_and_creates_nothing",  # looks for the file
    "tests/history/test_backup.py",  # copies the SQLite file (PostgreSQL's backup is pg_dump's)
    "tests/submodels/test_start_up_deferred.py",  # deferred first saves: SQLite only (a shared store writes at once)
    # a full disk under the SQLite file, a file that is not a twinbridge store (PostgreSQL: tests/scaleout)
    "tests/test_storage_faults.py::test_a_full_disk_answers_507",
    "tests/test_storage_faults.py::test_start_up_refuses_a_store_that_is_not",
    "tests/test_storage_faults.py::test_the_command_line_says_why_it_cannot_start",
)
"""Tests of SQLite's file itself (and of the URL scheme table): they stay what they are."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if STORE != "postgresql":
        return
    skip = pytest.mark.skip(reason="tests the SQLite store itself (TWINBRIDGE_TEST_STORE=postgresql)")
    for item in items:
        if item.nodeid.startswith(SQLITE_ITSELF):
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _store_on_postgresql() -> Iterator[None]:
    if STORE != "postgresql":
        yield
        return
    from tests.postgres import drop_schema, require_postgres, schema_name, store_url
    from twinbridge.aas import store as stores
    from twinbridge.aas import twin as twins
    from twinbridge.aas.store.postgres_schema import StoreUrl

    require_postgres()
    created: list[str] = []
    run = schema_name("suite")

    def open_schema(schema: str) -> PostgresStore:
        if schema not in created:
            created.append(schema)
        opened = PostgresStore(StoreUrl(store_url(schema)))
        _OPENED.add(opened)
        return opened

    def fresh() -> PostgresStore:
        return open_schema(f"{run}_{len(created)}")

    def parse_sqlite(url: str) -> stores.Opener:
        sqlite(url)  # a bad URL is refused as SQLite would refuse it
        schema = f"{run}_f{hashlib.sha1(url.encode()).hexdigest()[:12]}"
        return lambda: open_schema(schema)

    sqlite = stores._SCHEMES["sqlite"]
    patch = pytest.MonkeyPatch()
    patch.setattr(twins, "MemoryStore", fresh)
    patch.setitem(stores._SCHEMES, "memory", lambda url: fresh)
    patch.setitem(stores._SCHEMES, "sqlite", parse_sqlite)
    try:
        yield
    finally:
        patch.undo()
        for schema in created:
            drop_schema(schema)


@pytest.fixture(autouse=True)
def _release_connections() -> Iterator[None]:
    """Tests rarely close their twins: each test's stores give their connections back when it
    ends (a later use reopens one), so the session never runs PostgreSQL out of slots."""
    yield
    if STORE == "postgresql":
        for opened in list(_OPENED):
            opened.release()
