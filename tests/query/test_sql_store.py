"""Property: a query answered by PostgreSQL (``query.store_query.sql_page``: the condition's SQL
form over the store's jsonb, the evaluator where that form is not exact or a submodel's element
log is not folded into its document yet) is the naive loop's answer over the same objects in
memory, for random conditions over shells and submodels; and its cursor pages through them.

The repository is ``test_plan_properties``' (values that collide on purpose, Properties typed
xs:double, xs:int and xs:string so a JSON string and the evaluator's value differ), stored in a
PostgreSQL schema of this module's own, with live value writes and a structural edit after the
documents were saved (so some submodels are answered from their log)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest
from basyx.aas import model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tests.postgres import fresh_store_url, require_postgres
from tests.query.test_plan_properties import AAS_FIELDS, SM_FIELDS, _submodel, conditions
from twinbridge.aas.errors import InvalidQuery
from twinbridge.aas.store import open_store
from twinbridge.aas.store.postgres import PostgresStore
from twinbridge.aas.twin import Twin
from twinbridge.query.json_form import parse_query
from twinbridge.query.plan import PageSource, naive
from twinbridge.query.sql import compile_where
from twinbridge.query.store_query import StorePlanner, sql_page
from twinbridge.query.syntax import Root
from twinbridge.query.world import RepositoryWorld


async def _fill(twin: Twin) -> None:
    rng = random.Random(23)
    for n in range(40):
        twin.create(_submodel(rng, n))
    for n in range(8):
        refs = {model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, f"urn:sm:{m}"),), model.Submodel)
                for m in rng.sample(range(40), 3)}
        twin.create(model.AssetAdministrationShell(
            model.AssetInformation(global_asset_id=f"urn:asset:{n % 3}",
                                   specific_asset_id=[model.SpecificAssetId("serial", rng.choice(["A", "10", "s"]))]),
            f"urn:aas:{n}", id_short=rng.choice(["Press", "Filler"]), submodel=refs))
    await twin.persisted()
    for n in (1, 5, 9):  # values written after the documents: element_values rows
        await twin.write_value(twin.live(f"urn:sm:{n}", "Props.Speed"), 49)
    twin.delete_element("urn:sm:2", "Props")  # a structural change: an element_log row
    await twin.persisted()


@pytest.fixture(scope="module")
def stored() -> Iterator[tuple[Twin, PostgresStore]]:
    require_postgres()
    with fresh_store_url("query_sql") as url:
        twin = Twin(open_store(url))
        asyncio.run(_fill(twin))
        backend = twin.store.backend
        assert isinstance(backend, PostgresStore)
        try:
            yield twin, backend
        finally:
            twin.close()


def _naive(twin: Twin, root: Root, query: dict[str, Any]) -> list[str]:
    objects = twin.submodels.values() if root is Root.SM else twin.shells.values()
    return sorted(naive(parse_query(query), root, list(objects), RepositoryWorld(twin.shells, twin.submodels)))


def _sql(store: PostgresStore, root: Root, query: dict[str, Any], limit: int | None = None) -> list[str]:
    found: list[str] = []
    after = 0
    while True:
        page = sql_page(store, parse_query(query), root, after, limit, 30.0)
        found.extend(page.identifiers)
        if page.after is None:
            return sorted(found)
        after = page.after


_SETTINGS = settings(max_examples=250, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(condition=conditions(SM_FIELDS))
def test_submodels_answered_in_sql_as_by_the_naive_loop(stored: tuple[Twin, PostgresStore],
                                                        condition: dict[str, Any]) -> None:
    twin, store = stored
    query = {"$condition": condition}
    assert _sql(store, Root.SM, query) == _naive(twin, Root.SM, query)


@_SETTINGS
@given(condition=conditions(AAS_FIELDS), limit=st.sampled_from([None, 1, 3]))
def test_shells_answered_in_sql_as_by_the_naive_loop(stored: tuple[Twin, PostgresStore],
                                                     condition: dict[str, Any], limit: int | None) -> None:
    twin, store = stored
    query = {"$condition": condition}
    assert _sql(store, Root.AAS, query, limit) == _naive(twin, Root.AAS, query)


def test_live_values_and_structure_changes_are_seen(stored: tuple[Twin, PostgresStore]) -> None:
    twin, store = stored
    speed = {"$condition": {"$eq": [{"$field": "$sme.Props.Speed#value"}, {"$numVal": 49}]}}
    assert _sql(store, Root.SM, speed) == _naive(twin, Root.SM, speed)
    assert {"urn:sm:1", "urn:sm:5", "urn:sm:9"} <= set(_sql(store, Root.SM, speed))
    gone = {"$condition": {"$eq": [{"$field": "$sm#id"}, {"$strVal": "urn:sm:2"}]}}
    props = {"$condition": {"$and": [gone["$condition"], {"$ge": [{"$field": "$sme.Props.Speed#value"},
                                                                 {"$numVal": 0}]}]}}
    assert _sql(store, Root.SM, gone) == ["urn:sm:2"]
    assert _sql(store, Root.SM, props) == []  # its Props were deleted after the document was saved


def test_string_conditions_compile_exactly_and_pages_keep_their_order(stored: tuple[Twin, PostgresStore]) -> None:
    _, store = stored
    query = parse_query({"$condition": {"$or": [
        {"$starts-with": [{"$field": "$sm#semanticId"}, {"$strVal": "urn:sem"}]},
        {"$lt": [{"$field": "$sm#idShort"}, {"$strVal": "O"}]}]}})
    assert compile_where(query, Root.SM, sql.SQL("d.body")).exact
    everything = sql_page(store, query, Root.SM, 0, None, 30.0).identifiers
    first = sql_page(store, query, Root.SM, 0, 5, 30.0)
    assert first.identifiers == everything[:5] and first.after is not None
    assert sql_page(store, query, Root.SM, first.after, 5, 30.0).identifiers == everything[5:10]


def test_a_query_of_another_repository_is_refused(stored: tuple[Twin, PostgresStore]) -> None:
    _, store = stored
    with pytest.raises(InvalidQuery, match=r"\$condition\.\$eq\[0\]\.\$field"):
        sql_page(store, parse_query({"$condition": {"$eq": [{"$field": "$cd#id"}, {"$strVal": "x"}]}}),
                 Root.SM, 0, None, 5.0)


def test_the_store_planner_is_a_page_source(stored: tuple[Twin, PostgresStore]) -> None:
    twin, store = stored
    source: PageSource = StorePlanner(store, Root.SM)
    query = {"$condition": {"$eq": [{"$field": "$sm#idShort"}, {"$strVal": "Nameplate"}]}}
    assert sorted(source.page(parse_query(query), 0, None, 5.0).identifiers) == _naive(twin, Root.SM, query)
