"""The PostgreSQL store on its own: URLs, schema, values in place, version checks, reopening."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from basyx.aas import model

from tests.postgres import SERVER, fresh_store_url, require_postgres
from twinbridge.aas.errors import PreconditionFailed, StorageError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import CheckVersion, StoreUrlError, check_url, open_store
from twinbridge.aas.store.postgres import PostgresStore
from twinbridge.aas.store.postgres_schema import MIGRATIONS, StoreUrl
from twinbridge.aas.twin import Twin

SM = "urn:twinbridge:test:pg"


@pytest.fixture
def url() -> Iterator[str]:
    require_postgres()
    with fresh_store_url("store") as fresh:
        yield fresh


def _rows(url: str, query: str) -> list[tuple[object, ...]]:
    schema = StoreUrl(url).schema
    with psycopg.connect(SERVER) as conn:
        conn.execute(f"SET search_path TO {schema}")
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def test_urls_name_a_server_a_database_and_a_schema() -> None:
    parsed = StoreUrl("postgresql://u@db.example:5433/plant?schema=site_a&sslmode=require")
    assert parsed.schema == "site_a"
    assert parsed.conninfo == "postgresql://u@db.example:5433/plant?sslmode=require"
    assert StoreUrl("postgres://u@h/db").schema == "twinbridge"
    for bad in ("postgresql://", "postgresql://h/db?schema=Robert');DROP", "postgresql://h/"):
        with pytest.raises(StoreUrlError):
            check_url(bad)


async def test_a_value_write_is_one_row_and_everything_reloads(url: str) -> None:
    twin = Twin(open_store(url))
    twin.create(model.Submodel(SM, id_short="Pg", submodel_element=[
        model.Property("a", model.datatypes.Int, 1),
        model.SubmodelElementList("items", model.Property, value_type_list_element=model.datatypes.Int,
                                  value=[model.Property(None, model.datatypes.Int, n) for n in range(3)]),
    ]))
    twin.create(model.AssetAdministrationShell(
        model.AssetInformation(global_asset_id="urn:asset:1"), "urn:shell:1", id_short="Shell1"))
    await twin.persisted()
    document_before = _rows(url, "SELECT body::text FROM documents WHERE kind = 'submodel'")
    for value in range(5):
        await twin.write_value(twin.live(SM, "a"), value)
    await twin.write_value(twin.live(SM, "items[1]"), 10)
    await twin.persisted()
    assert _rows(url, "SELECT body::text FROM documents WHERE kind = 'submodel'") == document_before
    assert _rows(url, "SELECT path, body FROM element_values ORDER BY path") == [("a", b"4"), ("items[1]", b"10")]
    # a structural change shifts list indices: the values written before it stay before it
    twin.delete_element(SM, "items[0]")
    await twin.write_value(twin.live(SM, "items[1]"), 20)  # the former items[2]
    await twin.persisted()
    assert _rows(url, "SELECT id_short, global_asset_id FROM documents WHERE kind = 'shell'") == [
        ("Shell1", "urn:asset:1")]
    twin.close()

    again = Twin(open_store(url))
    submodel = again.submodel(SM)
    assert submodel.get_referable("a").value == 4  # type: ignore[attr-defined]
    assert [p.value for p in submodel.get_referable("items").value] == [10, 20]  # type: ignore[attr-defined]
    assert list(again.shells) == ["urn:shell:1"]
    assert again.version(ObjectKind.SUBMODEL, SM) > 0
    again.close()


def test_a_version_check_keeps_the_transaction_only_while_it_holds(url: str) -> None:
    store = PostgresStore(StoreUrl(url))
    twin = Twin(store)
    twin.create(model.Submodel(SM, id_short="Pg"))
    twin.wait_persisted()
    version = twin.version(ObjectKind.SUBMODEL, SM)
    with twin.store.expecting(CheckVersion(ObjectKind.SUBMODEL, SM, version)):
        twin.modify(ObjectKind.SUBMODEL, SM, lambda sm: setattr(sm, "id_short", "First"))
    twin.wait_persisted()
    with twin.store.expecting(CheckVersion(ObjectKind.SUBMODEL, SM, version)):
        twin.modify(ObjectKind.SUBMODEL, SM, lambda sm: setattr(sm, "id_short", "Stale"))
    with pytest.raises(PreconditionFailed):
        twin.wait_persisted()
    assert _rows(url, "SELECT id_short FROM documents") == [("First",)]
    assert store.failed == {("submodel", SM, "")}  # the replica reads it back
    twin.close()


def test_migrations_run_once_and_a_newer_schema_is_refused(url: str) -> None:
    PostgresStore(StoreUrl(url)).close()
    PostgresStore(StoreUrl(url)).close()
    assert _rows(url, "SELECT version FROM schema_migrations ORDER BY version") == [
        (version,) for version in range(1, len(MIGRATIONS) + 1)]
    schema = StoreUrl(url).schema
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"INSERT INTO {schema}.schema_migrations (version) VALUES ({len(MIGRATIONS) + 1})")
    with pytest.raises(StorageError, match="newer twinbridge"):
        PostgresStore(StoreUrl(url))
