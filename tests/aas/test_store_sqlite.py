"""SqliteStore keeps documents and files across reopen; batches are all-or-nothing."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from basyx.aas import model
from basyx.aas.examples.data.example_aas import create_full_example

from twinbridge.aas import documents
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import STORE_FILE_NAME, MemoryStore, SqliteStore, open_store
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


def test_documents_and_files_survive_reopen(path: Path) -> None:
    store = SqliteStore(path)
    store.save_document(ObjectKind.SUBMODEL, "urn:sm:1", b'{"a":1}')
    store.save_document(ObjectKind.SHELL, "urn:aas:1", b'{"b":2}')
    store.save_document(ObjectKind.SUBMODEL, "urn:sm:1", b'{"a":3}')
    store.save_file("/aasx/files/manual.pdf", "application/pdf", b"%PDF-1.7\x00\xff")
    store.save_file("/thumb.png", "image/png", b"\x89PNG")
    store.close()

    reopened = SqliteStore(path)
    assert list(reopened.load_documents()) == [
        (ObjectKind.SUBMODEL, "urn:sm:1", b'{"a":3}'),
        (ObjectKind.SHELL, "urn:aas:1", b'{"b":2}'),
    ]
    assert reopened.load_file("/aasx/files/manual.pdf") == ("application/pdf", b"%PDF-1.7\x00\xff")
    assert reopened.file_names("/aasx/") == ["/aasx/files/manual.pdf"]
    assert reopened.file_names() == ["/aasx/files/manual.pdf", "/thumb.png"]
    reopened.delete_file("/thumb.png")
    reopened.delete_document(ObjectKind.SHELL, "urn:aas:1")
    assert reopened.load_file("/thumb.png") is None
    assert [identifier for _, identifier, _ in reopened.load_documents()] == ["urn:sm:1"]
    reopened.close()


def test_wal_and_full_synchronous(path: Path) -> None:
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_batch_rolls_back_everything_on_error(path: Path) -> None:
    store = SqliteStore(path)
    store.save_document(ObjectKind.SUBMODEL, "urn:keep", b"{}")
    with pytest.raises(RuntimeError), store.batch():
        store.save_document(ObjectKind.SUBMODEL, "urn:new", b"{}")
        with store.batch():  # nested batches join the outer transaction
            store.save_file("/f", "text/plain", b"x")
        raise RuntimeError("import failed half-way")
    assert [identifier for _, identifier, _ in store.load_documents()] == ["urn:keep"]
    assert store.load_file("/f") is None
    with store.batch():
        store.save_document(ObjectKind.SUBMODEL, "urn:new", b"{}")
    store.close()
    assert len(list(SqliteStore(path).load_documents())) == 2


def test_batch_excludes_other_threads_until_commit(path: Path) -> None:
    store = SqliteStore(path)
    written = threading.Event()

    def writer() -> None:
        store.save_document(ObjectKind.SHELL, "urn:other-thread", b"{}")
        written.set()

    with store.batch():
        store.save_document(ObjectKind.SHELL, "urn:batch", b"{}")
        thread = threading.Thread(target=writer)
        thread.start()
        assert not written.wait(0.2)
    thread.join(5)
    assert written.is_set()
    assert [identifier for _, identifier, _ in store.load_documents()] == ["urn:batch", "urn:other-thread"]
    store.close()


def test_twin_over_sqlite_reloads_its_model(path: Path) -> None:
    store = SqliteStore(path)
    twin = Twin(store)
    for obj in create_full_example():
        twin.create(obj)
    submodel_id = "https://example.org/Test_Submodel"
    twin.add_element(submodel_id, None, model.Property("Added", model.datatypes.Int, value=7))
    twin.save_file("/TestFile.pdf", "application/pdf", b"%PDF")
    expected = {identifier: canonical(obj) for identifier, obj in twin.submodels.items()}
    store.close()

    again = Twin(SqliteStore(path))
    assert {identifier: canonical(obj) for identifier, obj in again.submodels.items()} == expected
    assert again.element(submodel_id, "Added").value == 7  # type: ignore[attr-defined]
    assert len(again.shells) == 1 and len(again.concept_descriptions) == 1
    assert again.load_file("/TestFile.pdf") == ("application/pdf", b"%PDF")


def test_open_store(tmp_path: Path) -> None:
    assert isinstance(open_store(None), MemoryStore)
    store = open_store(tmp_path / "data" / "nested")
    assert isinstance(store, SqliteStore)
    assert (tmp_path / "data" / "nested" / STORE_FILE_NAME).exists()
    store.close()


def test_not_a_database_is_a_clear_error(path: Path) -> None:
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(sqlite3.DatabaseError, match=r"cannot open the store .*store\.sqlite3: file is not a database"):
        SqliteStore(path)
    with pytest.raises(sqlite3.DatabaseError, match=r"cannot open the store .*missing"):
        SqliteStore(path.parent / "missing" / "store.sqlite3")
