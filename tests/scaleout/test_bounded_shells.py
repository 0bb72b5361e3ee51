"""Bigger than memory, shells: a twin on PostgreSQL with ``?cache=5`` keeps five shells in
memory too, serves the others from the database, and answers ``/shells`` (pages, cursors,
``idShort``, ``assetIds``, ``$reference``), ``/shells/{id}`` and ``/query/shells`` exactly as an
in-memory twin with the same shells does; deleting a submodel finds the shells referencing it
in SQL and drops those references, in evicted shells too."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import yaml
from basyx.aas import model

from tests.scaleout.instances import HEADERS, Instance, b64, wait_for
from tests.serving import serving_in_thread
from tests.submodels.conftest import PLANT_FILE, watched
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import open_store
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.submodels.builder import build_environment
from twinbridge.submodels.description import PlantDescription
from twinbridge.submodels.hierarchy import PlantHierarchy

PREFIX = "/api/v3.0"
COUNT = 23


def _shell(index: int) -> model.AssetAdministrationShell:
    specific = [model.SpecificAssetId("serialNumber", f"SN-{index}"), model.SpecificAssetId("lot", f"L{index % 3}")]
    if index % 5 == 0:  # a SpecificAssetId named like the global one: the filter matches it too
        specific.append(model.SpecificAssetId("globalAssetId", "urn:asset:shared"))
    info = model.AssetInformation(model.AssetKind.INSTANCE, global_asset_id=f"urn:asset:{index % 7}",
                                  specific_asset_id=specific)
    references = {model.ModelReference((model.Key(model.KeyTypes.SUBMODEL, f"urn:sm:{index % 4}"),), model.Submodel)}
    return model.AssetAdministrationShell(info, f"urn:aas:{index}", id_short=f"Machine{index % 4}",
                                          submodel=references)


def _fill(twin: Twin) -> None:
    for index in range(4):
        twin.create(model.Submodel(f"urn:sm:{index}", id_short=f"Sm{index}"))
    for index in range(COUNT):
        twin.create(_shell(index))
    twin.wait_persisted(timeout=30)


def _asset(name: str, value: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"name": name, "value": value}).encode()).decode().rstrip("=")


def _unordered(shell: Any) -> Any:
    """The shell with its specificAssetIds sorted: a shell decoded from its document (read into
    memory) lists them in any order (the decoder keeps them in a set), the stored JSON as sent."""
    shell["assetInformation"].get("specificAssetIds", []).sort(key=json.dumps)
    return shell


def _pages(client: httpx.Client, path: str, query: str) -> list[list[object]]:
    """Every page of ``<path>?<query>&limit=4``, following the cursors."""
    pages: list[list[object]] = []
    cursor = None
    while True:
        params = f"{query}&limit=4" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"{PREFIX}{path}?{params}")
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["result"])
        cursor = body["paging_metadata"].get("cursor")
        if cursor is None:
            return pages


def test_a_bounded_twin_keeps_some_shells_and_reads_the_others(bounded_url: str) -> None:
    twin = Twin(open_store(bounded_url))
    try:
        assert twin.resident_shells is not None
        _fill(twin)
        twin.flush()
        assert len(twin.resident_shells.resident_ids()) <= 5
        assert list(twin.shells) == [f"urn:aas:{index}" for index in range(COUNT)] and len(twin.shells) == COUNT
        assert twin.shell("urn:aas:0").id_short == "Machine0"  # evicted long ago: read from the database
        assert [shell.id for shell in twin.referencing_shells("urn:sm:1")] == [
            f"urn:aas:{index}" for index in range(1, COUNT, 4)]
        twin.delete(ObjectKind.SHELL, "urn:aas:1")
        assert "urn:aas:1" not in twin.shells  # gone at once, before the delete is durable
        twin.wait_persisted(timeout=30)
        assert "urn:aas:1" not in [shell.id for shell in twin.referencing_shells("urn:sm:1")]
    finally:
        twin.close()
    whole = Twin(open_store(bounded_url.replace("&cache=5", "")))  # every shell in memory: the same shells
    try:
        assert whole.resident_shells is None and len(whole.shells) == COUNT - 1
    finally:
        whole.close()


def test_shell_pages_and_filters_in_sql_equal_the_in_memory_catalog(bounded_url: str) -> None:
    bounded, memory = Twin(open_store(bounded_url)), Twin()
    try:
        _fill(bounded)
        _fill(memory)
        queries = ["", "idShort=Machine1", f"assetIds={_asset('serialNumber', 'SN-7')}",
                   f"assetIds={_asset('lot', 'L1')}", f"assetIds={_asset('lot', 'L2')}&idShort=Machine3",
                   f"assetIds={_asset('globalAssetId', 'urn:asset:3')}", f"assetIds={b64('urn:asset:4')}",
                   f"assetIds={_asset('globalAssetId', 'urn:asset:shared')}",
                   f"assetIds={_asset('lot', 'L0')}&assetIds={_asset('globalAssetId', 'urn:asset:0')}",
                   "idShort=Nothing", f"assetIds={_asset('serialNumber', 'SN-999')}"]
        with serving_in_thread(create_app(bounded, prefix=PREFIX)) as left, \
                serving_in_thread(create_app(memory, prefix=PREFIX)) as right, \
                httpx.Client(base_url=left) as sql, httpx.Client(base_url=right) as mem:
            for query in queries:
                for path in ("/shells", "/shells/$reference"):
                    assert _pages(sql, path, query) == _pages(mem, path, query), (path, query)
            assert sum(map(len, _pages(sql, "/shells", ""))) == COUNT
            assert _pages(sql, "/shells", "idShort=Machine1")[0][0]["assetInformation"]["globalAssetId"] \
                == "urn:asset:1"
            for index in (2, 2, 9):  # the row's JSON, then the shell read in; both as in memory
                path = f"{PREFIX}/shells/{b64(f'urn:aas:{index}')}"
                assert _unordered(sql.get(path).json()) == _unordered(mem.get(path).json())
            missing = sql.get(f"{PREFIX}/shells/{b64('urn:aas:nothing')}")
            assert missing.status_code == 404 and "urn:aas:nothing" in missing.text
            # a cursor handed out before a deletion and a creation still continues where it was
            cursors = [client.get(f"{PREFIX}/shells?limit=4").json()["paging_metadata"]["cursor"]
                       for client in (sql, mem)]  # (a position in the store, a sequence number in memory)
            for client in (sql, mem):
                assert client.delete(f"{PREFIX}/shells/{b64('urn:aas:5')}").status_code == 204
                shell = {"modelType": "AssetAdministrationShell", "id": "urn:aas:new", "idShort": "Machine1",
                         "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:asset:3"}}
                assert client.post(f"{PREFIX}/shells", json=shell).status_code == 201
            for query in ("", "idShort=Machine1", f"assetIds={b64('urn:asset:3')}"):
                assert _pages(sql, "/shells", f"{query}&cursor={cursors[0]}") == \
                    _pages(mem, "/shells", f"{query}&cursor={cursors[1]}"), query
            for client in (sql, mem):  # a replaced shell's asset ids follow (the triggers of migration 3)
                shell = {"modelType": "AssetAdministrationShell", "id": "urn:aas:7", "idShort": "Machine3",
                         "assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:asset:moved",
                                              "specificAssetIds": [{"name": "lot", "value": "L9"}]}}
                assert client.put(f"{PREFIX}/shells/{b64('urn:aas:7')}", json=shell).status_code == 204
            for query in (f"assetIds={_asset('serialNumber', 'SN-7')}", f"assetIds={b64('urn:asset:moved')}",
                          f"assetIds={_asset('lot', 'L9')}", f"assetIds={_asset('lot', 'L1')}"):
                assert _pages(sql, "/shells", query) == _pages(mem, "/shells", query), query
            # deleting a submodel drops the references of every shell, resident or not
            for client in (sql, mem):
                assert client.delete(f"{PREFIX}/submodels/{b64('urn:sm:2')}").status_code == 204
            assert [[_unordered(shell) for shell in page] for page in _pages(sql, "/shells", "")] == \
                [[_unordered(shell) for shell in page] for page in _pages(mem, "/shells", "")]
            assert not bounded.referencing_shells("urn:sm:2")
            for condition in ({"$eq": [{"$field": "$aas#idShort"}, {"$strVal": "Machine2"}]},
                              {"$eq": [{"$field": "$aas#assetInformation.globalAssetId"},
                                       {"$strVal": "urn:asset:3"}]}):
                answers = [[_unordered(shell) for shell in client.post(
                f"{PREFIX}/query/shells", json={"$condition": condition}).json()["result"]] for client in (sql, mem)]
                assert answers[0] == answers[1] and answers[0], condition
    finally:
        bounded.close()
        memory.close()


def test_two_bounded_instances_see_each_others_shell_changes(
        bounded_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    logs = tmp_path_factory.mktemp("bshells")
    a, b = Instance(bounded_url, logs / "a.log"), Instance(bounded_url, logs / "b.log")
    try:
        a.start()
        b.start()
        for index in range(12):
            body = {"modelType": "AssetAdministrationShell", "id": f"urn:aas:{index}", "idShort": f"M{index}",
                    "assetInformation": {"assetKind": "Instance", "globalAssetId": f"urn:asset:{index}"}}
            assert httpx.post(f"{a.url}/shells", json=body, headers=HEADERS).status_code == 201

        def id_short(instance: Instance, index: int) -> object:
            response = httpx.get(f"{instance.url}/shells/{b64(f'urn:aas:{index}')}", headers=HEADERS, timeout=5)
            return response.json()["idShort"] if response.status_code == 200 else None

        for index in (0, 0, 11, 11):  # read twice: resident on B
            assert id_short(b, index) == f"M{index}"
        for index in (0, 11, 6):  # resident on B (0, 11) and never read there (6)
            body = {"modelType": "AssetAdministrationShell", "id": f"urn:aas:{index}", "idShort": f"Renamed{index}",
                    "assetInformation": {"assetKind": "Instance", "globalAssetId": f"urn:asset:{index}"}}
            assert httpx.put(f"{a.url}/shells/{b64(f'urn:aas:{index}')}", json=body,
                             headers=HEADERS).status_code == 204
        for index in (0, 11, 6):
            wait_for(lambda index=index: id_short(b, index) == f"Renamed{index}", timeout=2.0)
        assert httpx.delete(f"{b.url}/shells/{b64('urn:aas:5')}", headers=HEADERS).status_code == 204
        wait_for(lambda: id_short(a, 5) is None)
        listed = httpx.get(f"{a.url}/shells?idShort=Renamed6", headers=HEADERS).json()["result"]
        assert [item["id"] for item in listed] == ["urn:aas:6"]
    finally:
        a.stop()
        b.stop()


def test_the_plant_tree_of_a_bounded_twin_is_read_in_sql(bounded_url: str) -> None:
    """Only the shells a BoM names are read (not every shell): the tree equals the in-memory one."""
    raw = yaml.safe_load(PLANT_FILE.read_text())["plant"]
    plant = build_environment(PlantDescription.model_validate(raw), PLANT_FILE.parent, watched(PLANT_FILE))
    bounded, memory = Twin(open_store(bounded_url)), Twin()
    try:
        plant.load_into(bounded)
        plant.load_into(memory)
        bounded.wait_persisted(timeout=30)
        bounded.flush()
        stored, held = PlantHierarchy.from_twin(bounded), PlantHierarchy.from_twin(memory)
        assert stored.roots() == held.roots() and stored.shells() == held.shells()
        for shell in held.shells():
            assert stored.children(shell) == held.children(shell) and stored.level(shell) == held.level(shell)
    finally:
        bounded.close()
        memory.close()
