"""Registry queries: ``POST /query/shell-descriptors`` and ``/query/submodel-descriptors`` (Part 2
v3.1, SSP-004 of both registries) over real HTTP, on SQLite and PostgreSQL (where the condition
runs as SQL first, ``query.sql``), on the v3.1 and v3.0 prefixes; and, as a property, every
random condition answered by the service as by a naive loop over the descriptors."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.registry.conformance import answer, check, postgres_schema
from tests.registry.test_registry_api import TOKEN, b64, shell_descriptor, submodel_descriptor
from tests.serving import serving_in_thread
from twinbridge.query.json_form import parse_query
from twinbridge.query.plan import matcher
from twinbridge.query.resolve import Deadline
from twinbridge.query.syntax import Root
from twinbridge.registry.descriptors import AssetAdministrationShellDescriptor, SubmodelDescriptor
from twinbridge.registry.host import open_service, registry_app, standalone_security
from twinbridge.registry.service import RegistryService, parse


def eq(field: str, value: str) -> dict[str, Any]:
    return {"$eq": [{"$field": field}, {"$strVal": value}]}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.sqlite3'}"
        return
    yield from postgres_schema()


@pytest.fixture
def base(store_url: str) -> Iterator[str]:
    """The registry's root (``…/api``), three shells and two submodel descriptors registered."""
    service = open_service(store_url)
    try:
        with serving_in_thread(registry_app(service, standalone_security(TOKEN))) as root, \
                httpx.Client(base_url=f"{root}/api/v3.0", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            for n, kind in enumerate(("Instance", "Type", "Instance")):
                shell = shell_descriptor(f"urn:aas:{n}", serial=f"S{n}", kind=kind)
                shell["specificAssetIds"] = [{"name": "supplierId", "value": f"aas-{n}"},
                                             {"name": "customerId", "value": f"aas-{n + 1}"}]
                assert client.post("/shell-descriptors", json=shell).status_code == 201
            for n in range(2):
                assert client.post("/submodel-descriptors", json=submodel_descriptor(f"urn:sm:{n}")).status_code == 201
            yield f"{root}/api"
    finally:
        service.close()


def ids(body: dict[str, Any]) -> list[str]:
    return [item if isinstance(item, str) else item["id"] for item in body["result"]]


@pytest.mark.parametrize("version", ["v3.1", "v3.0"])
def test_shell_descriptor_queries_answer_descriptors_and_ids(base: str, version: str) -> None:
    with httpx.Client(base_url=f"{base}/{version}") as client:
        found = answer(client.post("/query/shell-descriptors", json={"$condition": eq("$aasdesc#assetKind",
                                                                                     "Instance")}), 200)
        assert found["paging_metadata"] == {"resultType": "AssetAdministrationShellDescriptor"}
        assert ids(found) == ["urn:aas:0", "urn:aas:2"]
        for descriptor in found["result"]:
            check(descriptor, "AssetAdministrationShellDescriptor")
        selected = client.post("/query/shell-descriptors", json={"$select": "id", "$condition": eq(
            "$aasdesc#submodelDescriptors[].endpoints[].interface", "SUBMODEL-3.0")}).json()
        assert selected == {"paging_metadata": {"resultType": "Identifier"},
                            "result": ["urn:aas:0", "urn:aas:1", "urn:aas:2"]}
        text = client.post("/query/submodel-descriptors", content='$ends-with($smdesc#id, "1")',
                           headers={"Content-Type": "text/plain"}).json()
        assert text["paging_metadata"]["resultType"] == "SubmodelDescriptor"
        assert ids(text) == ["urn:sm:1"]
        check(text["result"][0], "SubmodelDescriptor")


def test_the_specifications_match_examples_on_descriptors(base: str) -> None:
    """The query-language page's ``$match`` table, on a descriptor's specificAssetIds (the page's
    example shell has supplierId aas-1 and customerId aas-2; here ``urn:aas:0`` has aas-0/aas-1)."""
    def query(condition: dict[str, Any]) -> list[str]:
        return ids(httpx.post(f"{base}/v3.1/query/shell-descriptors", json={"$condition": condition}).json())

    same = {"$match": [eq("$aasdesc#specificAssetIds[].name", "supplierId"),
                       eq("$aasdesc#specificAssetIds[].value", "aas-0")]}
    crossed = [eq("$aasdesc#specificAssetIds[].name", "supplierId"), eq("$aasdesc#specificAssetIds[].value", "aas-1")]
    assert query(same) == ["urn:aas:0"]
    assert query({"$match": crossed}) == ["urn:aas:1"]  # aas-1 is urn:aas:0's customerId: not the same item
    assert query({"$and": crossed}) == ["urn:aas:0", "urn:aas:1"]  # different items: fine for $and
    either = {"$or": [same, {"$match": [eq("$aasdesc#specificAssetIds[].name", "customerId"),
                                        eq("$aasdesc#specificAssetIds[].value", "aas-3")]}]}
    assert query(either) == ["urn:aas:0", "urn:aas:2"]


def test_query_pages_follow_the_cursor(base: str) -> None:
    with httpx.Client(base_url=f"{base}/v3.1/query") as client:
        condition = {"$select": "id", "$condition": {"$starts-with": [{"$field": "$aasdesc#id"}, {"$strVal": "urn:"}]}}
        first = client.post("/shell-descriptors", params={"limit": 2}, json=condition).json()
        assert first["result"] == ["urn:aas:0", "urn:aas:1"]
        cursor = first["paging_metadata"]["cursor"]
        assert cursor == b64("urn:aas:1")
        second = client.post("/shell-descriptors", params={"limit": 2, "cursor": cursor}, json=condition).json()
        assert second == {"paging_metadata": {"resultType": "Identifier"}, "result": ["urn:aas:2"]}


@pytest.mark.parametrize(("query", "position"), [
    ({"$condition": eq("$sm#idShort", "x")}, "$condition.$eq[0].$field"),  # a repository's field
    ({"$condition": eq("$smdesc#idShort", "x")}, "$condition.$eq[0].$field"),  # the other registry's
    ({"$condition": eq("$aasdesc#endpoints[0].href", "x")}, "$condition.$eq[0].$field"),
    ({"$condition": {"$regex": [{"$field": "$aasdesc#id"}, {"$strVal": "(a"}]}}, "$condition.$regex[1].$strVal"),
    ({"$condition": {"$gt": [{"$numVal": 1}, {"$strVal": "a"}]}}, "$condition.$gt"),
])
def test_bad_queries_are_400_naming_the_position(base: str, query: dict[str, Any], position: str) -> None:
    response = httpx.post(f"{base}/v3.1/query/shell-descriptors", json=query)
    body = answer(response, 400)
    assert position in body["messages"][0]["text"]


def test_v31_description_names_the_query_profiles(base: str) -> None:
    profiles = httpx.get(f"{base}/v3.1/description").json()["profiles"]
    assert "https://admin-shell.io/aas/API/3/1/AssetAdministrationShellRegistryServiceSpecification/SSP-004" in profiles
    assert "https://admin-shell.io/aas/API/3/1/SubmodelRegistryServiceSpecification/SSP-004" in profiles


# ------------------------------------------------------------- property
SHELL_FIELDS = ["$aasdesc#idShort", "$aasdesc#id", "$aasdesc#assetKind", "$aasdesc#assetType",
                "$aasdesc#globalAssetId", "$aasdesc#specificAssetIds[].name", "$aasdesc#specificAssetIds[].value",
                "$aasdesc#specificAssetIds[0].value", "$aasdesc#specificAssetIds[].externalSubjectId.keys[].value",
                "$aasdesc#endpoints[].interface", "$aasdesc#endpoints[0].protocolinformation.href",
                "$aasdesc#submodelDescriptors[].idShort", "$aasdesc#submodelDescriptors[].id",
                "$aasdesc#submodelDescriptors[].semanticId", "$aasdesc#submodelDescriptors[1].semanticId.type",
                "$aasdesc#submodelDescriptors[].endpoints[].protocolinformation.href"]
WORDS = ["A", "B", "10", "2", "urn:x", "Instance", "Type", "", "SUBMODEL-3.0", "AAS-3.0", "http://h/1", "x-1",
         "urn:aas:03", "urn:aas:17", "urn:sm:4:1"]


def _random_shells(rng: random.Random) -> list[dict[str, Any]]:
    shells = []
    for n in range(30):
        shell: dict[str, Any] = {"id": f"urn:aas:{n:02}"}
        for member, choices in (("idShort", ["A", "B"]), ("assetKind", ["Instance", "Type"]),
                                ("assetType", ["10", "2", "urn:x"]), ("globalAssetId", ["urn:x", "A"])):
            if rng.random() < 0.7:
                shell[member] = rng.choice(choices)
        shell["specificAssetIds"] = [
            {"name": rng.choice(["A", "B"]), "value": rng.choice(["10", "2", "x-1"]),
             **({"externalSubjectId": {"type": "ExternalReference", "keys": [
                 {"type": "GlobalReference", "value": rng.choice(["urn:x", "A"])}]}} if rng.random() < 0.5 else {})}
            for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.6:
            shell["endpoints"] = [{"interface": rng.choice(["AAS-3.0", "A"]),
                                   "protocolInformation": {"href": rng.choice(["http://h/1", "http://h/2"])}}]
        submodels = []
        for m in range(rng.randint(0, 2)):
            submodel: dict[str, Any] = {"id": f"urn:sm:{n}:{m}", "endpoints": [
                {"interface": "SUBMODEL-3.0", "protocolInformation": {"href": rng.choice(["http://h/1", "x-1"])}}]}
            if rng.random() < 0.6:
                submodel["idShort"] = rng.choice(["A", "B"])
            if rng.random() < 0.6:
                submodel["semanticId"] = {"type": rng.choice(["ExternalReference", "ModelReference"]),
                                          "keys": [{"type": "GlobalReference", "value": rng.choice(["urn:x", "10"])}]}
            submodels.append(submodel)
        if submodels:
            shell["submodelDescriptors"] = submodels
        shells.append(shell)
    return shells


def _comparisons(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    field = st.sampled_from(fields).map(lambda text: {"$field": text})
    literal = st.one_of(st.sampled_from(WORDS).map(lambda word: {"$strVal": word}),
                        st.sampled_from([2, 10, 2.5]).map(lambda number: {"$numVal": number}))
    op = st.sampled_from(["$eq", "$ne", "$lt", "$le", "$gt", "$ge", "$contains", "$starts-with", "$ends-with",
                          "$regex"])

    def build(parts: tuple[str, dict[str, Any], dict[str, Any], bool]) -> dict[str, Any]:
        name, left, right, swap = parts
        if name in ("$contains", "$starts-with", "$ends-with", "$regex") and "$numVal" in right:
            right = {"$strVal": str(right["$numVal"])}
        return {name: [right, left] if swap and name != "$regex" else [left, right]}
    return st.tuples(op, field, literal, st.booleans()).map(build)


def conditions(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    leaves = st.one_of(_comparisons(fields), st.sampled_from([{"$boolean": True}, {"$boolean": False}]))
    return st.recursive(leaves, lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda items: {"$and": items}),
        st.lists(children, min_size=2, max_size=3).map(lambda items: {"$or": items}),
        children.map(lambda child: {"$not": child}),
        st.lists(_comparisons(fields), min_size=1, max_size=2).map(lambda items: {"$match": items}),
    ), max_leaves=6)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[RegistryService, list[dict[str, Any]]]]:
    """One store per module with random shell descriptors (normalized as the registry keeps them)."""
    urls = iter([f"sqlite:///{tmp_path_factory.mktemp('q') / 'r.sqlite3'}"]) if request.param == "sqlite" \
        else postgres_schema()
    url = next(urls)
    service = open_service(url)
    shells = [parse(AssetAdministrationShellDescriptor, shell, "descriptor") for shell in
              _random_shells(random.Random(5))]
    for shell in shells:
        asyncio.run(service.save_shell(shell, create=True))
    submodel = parse(SubmodelDescriptor, submodel_descriptor("urn:sm:only"), "descriptor")
    asyncio.run(service.save_submodel(submodel, create=True))
    try:
        yield service, [orjson.loads(orjson.dumps(shell.model_dump(mode="json", by_alias=True, exclude_none=True)))
                        for shell in shells]
    finally:
        service.close()
        next(urls, None)  # drops the PostgreSQL schema


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(condition=conditions(SHELL_FIELDS), limit=st.sampled_from([1, 7, 1000]))
def test_descriptor_queries_answer_as_the_naive_loop(loaded: tuple[RegistryService, list[dict[str, Any]]],
                                                     condition: dict[str, Any], limit: int) -> None:
    service, shells = loaded
    query = parse_query({"$condition": condition})
    holds = matcher(query, Root.AASDESC, Deadline(30.0, lambda: 0.0))
    expected = sorted(shell["id"] for shell in shells if holds(shell))
    answered: list[str] = []
    after: str | None = None
    while True:  # page by page: the cursor never skips or repeats a match
        page, after = asyncio.run(service.query(Root.AASDESC, query, after, limit, 30.0))
        answered.extend(identifier for identifier, _ in page)
        if after is None:
            break
    assert answered == expected
