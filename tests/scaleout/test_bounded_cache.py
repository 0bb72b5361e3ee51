"""Bigger than memory: a twin on PostgreSQL with ``?cache=5`` keeps five submodels in memory,
serves the others from the database, pages and filters ``/submodels`` in SQL exactly as the
in-memory catalog does, and its writes to evicted submodels reach other instances."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from basyx.aas import model

from tests.scaleout.instances import HEADERS, Instance, b64, wait_for
from tests.serving import serving_in_thread
from twinbridge.aas.errors import InvalidInput
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import open_store
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.bounded_cache import bounded_plant_file
from twinbridge.server.config import parse_plant_file

PREFIX = "/api/v3.0"
COUNT = 23
SEMANTICS = ("urn:sem:a", "urn:sem:b", "urn:sem:c")


def _submodel(index: int) -> model.Submodel:
    semantic = model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, SEMANTICS[index % 3]),
                                        model.Key(model.KeyTypes.GLOBAL_REFERENCE, f"urn:extra:{index % 2}")))
    return model.Submodel(
        f"urn:sm:{index}", id_short=f"Sm{index % 4}", semantic_id=semantic,
        submodel_element=[model.Property(f"p{k}", model.datatypes.Int, value=index * 10 + k) for k in range(3)])


def _fill(twin: Twin) -> None:
    for index in range(COUNT):
        twin.create(_submodel(index))
    twin.wait_persisted(timeout=30)


def test_a_bounded_twin_reads_evicted_submodels_and_writes_to_them(bounded_url: str) -> None:
    twin = Twin(open_store(bounded_url))
    try:
        assert twin.resident is not None
        _fill(twin)
        twin.flush()
        assert len(twin.resident.resident_ids()) <= 5
        assert len(twin.submodels) == COUNT
        assert list(twin.submodels) == [f"urn:sm:{index}" for index in range(COUNT)]
        first = twin.submodel("urn:sm:0")  # evicted long ago: read from the database
        assert first.id_short == "Sm0" and twin.resident.misses >= 1
        handle = twin.live("urn:sm:1", "p2")
        twin.resident.capacity = 5

        async def write() -> None:
            await twin.write_value(handle, 777)
            await twin.persisted()

        import asyncio
        asyncio.run(write())
        for index in range(2, COUNT):  # push urn:sm:1 out
            twin.submodel(f"urn:sm:{index}")
        assert not twin.resident.resident("urn:sm:1")
        element = twin.element("urn:sm:1", "p2")
        assert isinstance(element, model.Property) and element.value == 777
        twin.delete(ObjectKind.SUBMODEL, "urn:sm:3")
        assert "urn:sm:3" not in twin.submodels  # gone at once, before the delete is durable
        twin.wait_persisted(timeout=30)
        assert "urn:sm:3" not in twin.submodels and len(twin.submodels) == COUNT - 1
    finally:
        twin.close()
    whole = Twin(open_store(bounded_url.replace("&cache=5", "")))  # every submodel in memory: the same values
    try:
        assert whole.resident is None and len(whole.submodels) == COUNT - 1
        element = whole.element("urn:sm:1", "p2")
        assert isinstance(element, model.Property) and element.value == 777
    finally:
        whole.close()


def _pages(client: httpx.Client, query: str) -> list[list[str]]:
    """Every page of ``/submodels?<query>&limit=4`` as lists of ids, following the cursors."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        params = f"{query}&limit=4" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"{PREFIX}/submodels?{params}")
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["result"]])
        cursor = body["paging_metadata"].get("cursor")
        if cursor is None:
            return pages


def _semantic(values: tuple[str, ...]) -> str:
    reference = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": v} for v in values]}
    return base64.urlsafe_b64encode(json.dumps(reference).encode()).decode().rstrip("=")


def test_paging_and_filters_in_sql_equal_the_in_memory_catalog(bounded_url: str) -> None:
    bounded, memory = Twin(open_store(bounded_url)), Twin()
    try:
        _fill(bounded)
        for index in range(COUNT):
            memory.create(_submodel(index))
        queries = ["", "idShort=Sm1", f"semanticId={b64('urn:sem:b')}", f"semanticId={b64('urn:extra:1')}",
                   f"semanticId={b64('urn:sem:c')}&idShort=Sm2", "idShort=Nothing",
                   f"semanticId={_semantic(('urn:sem:a', 'urn:extra:1'))}", f"semanticId={_semantic(('urn:sem:a',))}"]
        with serving_in_thread(create_app(bounded, prefix=PREFIX)) as left, \
                serving_in_thread(create_app(memory, prefix=PREFIX)) as right, \
                httpx.Client(base_url=left) as sql, httpx.Client(base_url=right) as mem:
            for query in queries:
                assert _pages(sql, query) == _pages(mem, query), query
            assert len(_pages(sql, "")[0]) == 4 and sum(map(len, _pages(sql, ""))) == COUNT
            for index, level in ((1, "deep"), (2, "core")):  # the first read renders the row's JSON, the second
                path = f"{PREFIX}/submodels/{b64(f'urn:sm:{index}')}?level={level}"  # the objects
                first, second = sql.get(path), sql.get(path)
                assert first.status_code == second.status_code == 200
                assert first.json() == second.json() == mem.get(path).json()
                assert first.headers["ETag"] == second.headers["ETag"]
            assert bounded.resident is not None and bounded.resident.resident("urn:sm:1")
            written = sql.patch(f"{PREFIX}/submodels/{b64('urn:sm:4')}/submodel-elements/p1/$value", json=99)
            assert written.status_code == 204
            for index in range(5, COUNT):  # push urn:sm:4 out: its row now has a value in the log
                sql.get(f"{PREFIX}/submodels/{b64(f'urn:sm:{index}')}/$metadata")
            assert not bounded.resident.resident("urn:sm:4")
            fourth = sql.get(f"{PREFIX}/submodels/{b64('urn:sm:4')}").json()
            assert [e["value"] for e in fourth["submodelElements"]] == ["40", "99", "42"]
            listed = sql.get(f"{PREFIX}/submodels?idShort=Sm0").json()["result"]
            assert [e["value"] for e in listed[1]["submodelElements"]] == ["40", "99", "42"]
            memory.submodel("urn:sm:4").get_referable("p1").value = 99  # as written on the bounded side
            for condition in ({"$eq": [{"$field": "$sm#idShort"}, {"$strVal": "Sm1"}]},  # in SQL, from the store
                              {"$eq": [{"$field": "$sme.p1#value"}, {"$numVal": 99}]},  # the logged value
                              {"$regex": [{"$field": "$sm#id"}, {"$strVal": "^urn:sm:1[0-9]$"}]}):
                pages = []
                for client in (sql, mem):  # pages of 4, cursors followed: the same ids in the same order
                    ids, cursor = [], None
                    while True:
                        answer = client.post(f"{PREFIX}/query/submodels?limit=4" + (f"&cursor={cursor}" if cursor
                                                                                   else ""),
                                             json={"$condition": condition, "$select": "id"})
                        assert answer.status_code == 200, answer.text
                        ids += answer.json()["result"]
                        cursor = answer.json()["paging_metadata"].get("cursor")
                        if cursor is None:
                            break
                    pages.append(ids)
                assert pages[0] == pages[1] and pages[0], condition
    finally:
        bounded.close()
        memory.close()


def test_features_that_need_every_submodel_are_off_or_refused() -> None:
    settled = bounded_plant_file(parse_plant_file("server: {rest: {port: 8081}}"))
    assert not settled.server.opcua.enabled and settled.server.semantic == "off"
    assert not settled.server.history.enabled
    with pytest.raises(InvalidInput, match=r"server.opcua.enabled: false.*server.semantic: off"):
        bounded_plant_file(parse_plant_file("server: {opcua: {enabled: true}, semantic: eager}"))
    with pytest.raises(InvalidInput, match=r"Sparkplug edge node.*server.events.sparkplug.edge_node"):
        bounded_plant_file(parse_plant_file(
            "server: {events: {sparkplug: {url: 'mqtt://broker:1883', edge_node: {group_id: plant}}}}"))


def test_two_bounded_instances_see_each_others_writes_to_evicted_submodels(
        bounded_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    logs = tmp_path_factory.mktemp("bounded")
    a, b = Instance(bounded_url, logs / "a.log"), Instance(bounded_url, logs / "b.log")
    try:
        a.start()
        b.start()
        for index in range(12):
            body = {"modelType": "Submodel", "id": f"urn:sm:{index}", "idShort": "Counters", "submodelElements": [
                {"modelType": "Property", "idShort": "x", "valueType": "xs:int", "value": str(index)}]}
            assert httpx.post(f"{a.url}/submodels", json=body, headers=HEADERS).status_code == 201

        def value(instance: Instance, index: int) -> object:
            response = httpx.get(f"{instance.url}/submodels/{b64(f'urn:sm:{index}')}/submodel-elements/x/$value",
                                 headers=HEADERS, timeout=5)
            return response.json()["x"] if response.status_code == 200 else None

        assert value(b, 0) == 0  # B reads it in, then pushes it out again
        for index in range(1, 12):
            assert value(b, index) == index
        patched = httpx.patch(f"{a.url}/submodels/{b64('urn:sm:0')}/submodel-elements/x/$value", json=41,
                              headers=HEADERS)  # evicted on A too (twelve created, five kept)
        assert patched.status_code == 204, patched.text
        wait_for(lambda: value(b, 0) == 41, timeout=2.0)
        assert value(b, 11) == 11
        patched = httpx.patch(f"{a.url}/submodels/{b64('urn:sm:11')}/submodel-elements/x/$value", json=42,
                              headers=HEADERS)  # resident on B: its copy follows
        wait_for(lambda: value(b, 11) == 42, timeout=2.0)
        assert httpx.delete(f"{b.url}/submodels/{b64('urn:sm:5')}", headers=HEADERS).status_code == 204
        wait_for(lambda: httpx.get(f"{a.url}/submodels/{b64('urn:sm:5')}", headers=HEADERS).status_code == 404)
        listed = httpx.get(f"{a.url}/submodels?limit=100", headers=HEADERS).json()["result"]
        assert [item["id"] for item in listed] == [f"urn:sm:{i}" for i in range(12) if i != 5]
    finally:
        a.stop()
        b.stop()
