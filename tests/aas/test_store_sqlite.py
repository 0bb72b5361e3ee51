"""SqliteStore keeps documents, element logs and files across reopen; a write is all-or-nothing;
the StoreWriter batches, shows pending files, and open_store picks the store by URL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from basyx.aas import model
from basyx.aas.examples.data.example_aas import create_full_example

from twinbridge.aas import documents
from twinbridge.aas.errors import StorageError, StorageFull
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import (
    STORE_FILE_NAME,
    Change,
    DeleteDocument,
    DeleteFile,
    ElementOp,
    LogElement,
    LoggedChange,
    MemoryStore,
    SaveDocument,
    SaveFile,
    SqliteStore,
    StoreUrlError,
    StoreWriter,
    check_url,
    open_store,
    store_url_for,
)
from twinbridge.aas.twin import Twin


def canonical(obj: model.Identifiable) -> object:
    """AAS JSON with set-valued valueReferencePairs sorted (basyx keeps them in a set)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            result = {key: walk(value) for key, value in node.items()}
            if "valueReferencePairs" in result:
                result["valueReferencePairs"] = sorted(result["valueReferencePairs"], key=repr)
            return result
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(documents.to_jsonable(obj))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite3"


def _documents(store: SqliteStore) -> list[tuple[ObjectKind, str, bytes]]:
    return [(stored.kind, stored.identifier, stored.body) for stored in store.load()]


def test_documents_and_files_survive_reopen(path: Path) -> None:
    store = SqliteStore(path)
    store.write([SaveDocument(ObjectKind.SUBMODEL, "urn:sm:1", b'{"a":1}')])
    store.write([
        SaveDocument(ObjectKind.SHELL, "urn:aas:1", b'{"b":2}'),
        SaveDocument(ObjectKind.SUBMODEL, "urn:sm:1", b'{"a":3}'),
        SaveFile("/aasx/files/manual.pdf", "application/pdf", b"%PDF-1.7\x00\xff"),
        SaveFile("/thumb.png", "image/png", b"\x89PNG"),
    ])
    store.close()

    reopened = SqliteStore(path)
    assert _documents(reopened) == [
        (ObjectKind.SUBMODEL, "urn:sm:1", b'{"a":3}'),
        (ObjectKind.SHELL, "urn:aas:1", b'{"b":2}'),
    ]
    assert reopened.load_file("/aasx/files/manual.pdf") == ("application/pdf", b"%PDF-1.7\x00\xff")
    assert reopened.file_names("/aasx/") == ["/aasx/files/manual.pdf"]
    assert reopened.file_names() == ["/aasx/files/manual.pdf", "/thumb.png"]
    reopened.write([DeleteFile("/thumb.png"), DeleteDocument(ObjectKind.SHELL, "urn:aas:1")])
    assert reopened.load_file("/thumb.png") is None
    assert [identifier for _, identifier, _ in _documents(reopened)] == ["urn:sm:1"]
    reopened.close()


def test_element_log_is_kept_in_order_and_cleared_by_a_whole_document(path: Path) -> None:
    store = SqliteStore(path)
    store.write([SaveDocument(ObjectKind.SUBMODEL, "urn:sm", b"{}"),
                 LogElement("urn:sm", ElementOp.VALUE, "a", b'"1"'),
                 LogElement("urn:sm", ElementOp.DELETE, "b")])
    store.write([LogElement("urn:sm", ElementOp.VALUE, "a", b'"2"')])
    (stored,) = store.load()
    assert stored.log == [LoggedChange(ElementOp.VALUE, "a", b'"1"'), LoggedChange(ElementOp.DELETE, "b", None),
                          LoggedChange(ElementOp.VALUE, "a", b'"2"')]
    store.write([SaveDocument(ObjectKind.SUBMODEL, "urn:sm", b"{}")])
    assert store.log_length("urn:sm") == 0
    store.write([LogElement("urn:sm", ElementOp.VALUE, "a", b'"3"'), DeleteDocument(ObjectKind.SUBMODEL, "urn:sm")])
    assert store.log_length("urn:sm") == 0 and list(store.load()) == []
    store.close()


def test_wal_and_full_synchronous(path: Path) -> None:
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_failing_write_keeps_none_of_its_changes(path: Path) -> None:
    store = SqliteStore(path, max_bytes=256 * 1024)
    store.write([SaveDocument(ObjectKind.SUBMODEL, "urn:keep", b"{}")])
    with pytest.raises(StorageFull, match="is full"):
        store.write([SaveDocument(ObjectKind.SUBMODEL, "urn:new", b"{}"),
                     SaveFile("/big", "application/octet-stream", b"x" * 1024 * 1024)])
    assert [identifier for _, identifier, _ in _documents(store)] == ["urn:keep"]
    assert store.load_file("/big") is None
    store.write([SaveDocument(ObjectKind.SUBMODEL, "urn:new", b"{}")])  # the store still works
    store.close()
    assert len(_documents(SqliteStore(path))) == 2


def test_writer_batches_commits_into_one_unit_and_reads_see_pending_files(path: Path) -> None:
    writer = StoreWriter(SqliteStore(path))
    with writer.batch():
        writer.submit([SaveDocument(ObjectKind.SHELL, "urn:batch", b"{}")])
        writer.submit([SaveFile("/f", "text/plain", b"x")])
        assert writer.load_file("/f") == ("text/plain", b"x")  # visible before it is durable
        assert writer.file_names() == ["/f"]
    assert writer.position == 1  # one unit, one transaction
    writer.wait_persisted()
    assert [identifier for _, identifier, _ in _documents(writer.backend)] == ["urn:batch"]  # type: ignore[arg-type]
    writer.close()


def test_a_batch_that_raises_writes_nothing(path: Path) -> None:
    writer = StoreWriter(SqliteStore(path))
    with pytest.raises(RuntimeError), writer.batch():
        writer.submit([SaveFile("/f", "text/plain", b"x")])
        raise RuntimeError("import failed half-way")
    assert writer.load_file("/f") is None
    writer.wait_persisted()
    assert writer.position == 0
    writer.close()


class HeldStore(SqliteStore):
    """Its first write waits for ``go``: what is submitted meanwhile queues into one transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.go = threading.Event()

    def write(self, changes: Sequence[Change]) -> None:
        self.go.wait(10)
        super().write(changes)


async def test_the_waiters_of_one_transaction_are_woken_with_one_call_into_their_loop(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = HeldStore(path)
    writer = StoreWriter(store)
    loop = asyncio.get_running_loop()
    calls = 0
    call_soon_threadsafe = loop.call_soon_threadsafe

    def counted(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return call_soon_threadsafe(*args)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counted)

    async def client(number: int) -> None:
        writer.submit([SaveDocument(ObjectKind.SHELL, f"urn:waiter:{number}", b"{}")])
        await writer.persisted()

    first = asyncio.create_task(client(0))
    await asyncio.sleep(0.05)  # the thread holds unit 1; the next 20 queue behind it
    others = [asyncio.create_task(client(number)) for number in range(1, 21)]
    await asyncio.sleep(0.05)
    store.go.set()
    await asyncio.wait_for(asyncio.gather(first, *others), 10)
    assert calls == 2  # unit 1's waiter, then the 20 of the second transaction together
    assert len(_documents(store)) == 21
    writer.close()


def test_twin_over_sqlite_reloads_its_model(path: Path) -> None:
    store = SqliteStore(path)
    twin = Twin(store)
    for obj in create_full_example():
        twin.create(obj)
    submodel_id = "https://example.org/Test_Submodel"
    twin.add_element(submodel_id, None, model.Property("Added", model.datatypes.Int, value=7))
    twin.save_file("/TestFile.pdf", "application/pdf", b"%PDF")
    expected = {identifier: canonical(obj) for identifier, obj in twin.submodels.items()}
    twin.close()

    again = Twin(SqliteStore(path))
    assert {identifier: canonical(obj) for identifier, obj in again.submodels.items()} == expected
    assert again.element(submodel_id, "Added").value == 7  # type: ignore[attr-defined]
    assert len(again.shells) == 1 and len(again.concept_descriptions) == 1
    assert again.load_file("/TestFile.pdf") == ("application/pdf", b"%PDF")


def test_open_store_by_url(tmp_path: Path) -> None:
    assert isinstance(open_store("memory:"), MemoryStore)
    assert store_url_for(None) == "memory:"
    url = store_url_for(tmp_path / "data" / "nested")
    assert url == f"sqlite://{tmp_path}/data/nested/{STORE_FILE_NAME}"
    store = open_store(url)
    assert isinstance(store, SqliteStore)
    assert (tmp_path / "data" / "nested" / STORE_FILE_NAME).exists()
    store.close()
    with pytest.raises(StoreUrlError, match="unknown store URL 'mysql://x'; known schemes: memory:, postgres:, "
                                            "postgresql:, sqlite:"):
        open_store("mysql://x")
    with pytest.raises(StoreUrlError, match="names a server and a database"):
        open_store("postgres://x")
    with pytest.raises(StoreUrlError, match="names a local file, sqlite:///abs/path"):
        open_store("sqlite://relative.sqlite3")
    with pytest.raises(StoreUrlError, match="names a directory"):
        check_url("sqlite:///var/lib/")
    check_url(f"sqlite://{tmp_path}/not/yet/there.sqlite3")  # checking opens and creates nothing
    assert not (tmp_path / "not").exists()


def test_not_a_database_is_a_clear_error(path: Path) -> None:
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError,
                       match=r"the store .*store\.sqlite3 is not a valid twinbridge store: file is not a database"):
        SqliteStore(path)
    with pytest.raises(StorageError, match=r"cannot open the store .*missing"):
        SqliteStore(path.parent / "missing" / "store.sqlite3")
