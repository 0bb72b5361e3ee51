"""The repository catalogs: filtered, paged lists stay equal to a naive filter across changes.

Every check compares the API's answer with a plain walk over the twin's dicts (the obvious
implementation the catalogs replace), after creations, replacements, in-place modifications and
deletions made both over REST and directly on the twin (imports, the plant builder).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from typing import Any

import httpx
import pytest
from basyx.aas import model

from tests.api.test_shells import asset_query
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.server.api.ids import encode_id

SEMANTIC = "urn:test:semantics:"


def shell_json(number: int, id_short: str, serial: str, global_asset: str) -> dict[str, Any]:
    return {
        "modelType": "AssetAdministrationShell", "id": f"urn:cat:shell:{number}", "idShort": id_short,
        "assetInformation": {"assetKind": "Instance", "globalAssetId": global_asset,
                             "specificAssetIds": [{"name": "serialNumber", "value": serial}]},
    }


def naive_shells(twin: Twin, id_short: str | None, assets: list[tuple[str, str]]) -> list[str]:
    def has(shell: model.AssetAdministrationShell, name: str, value: str) -> bool:
        info = shell.asset_information
        if name == "globalAssetId" and info.global_asset_id == value:
            return True
        return any(asset.name == name and asset.value == value for asset in info.specific_asset_id)

    return [shell.id for shell in twin.shells.values()
            if (id_short is None or shell.id_short == id_short) and all(has(shell, n, v) for n, v in assets)]


async def all_pages(client: httpx.AsyncClient, path: str, params: dict[str, Any], limit: int) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        ids.extend(item["id"] for item in body["result"])
        assert len(body["result"]) <= limit
        cursor = body["paging_metadata"].get("cursor")
        if cursor is None:
            return ids


async def assert_shell_filters(client: httpx.AsyncClient, twin: Twin) -> None:
    filters: list[tuple[str | None, list[tuple[str, str]]]] = [
        (None, []), ("Even", []), ("Odd", []), ("Missing", []),
        (None, [("serialNumber", "SN-A")]), ("Even", [("serialNumber", "SN-A")]),
        (None, [("globalAssetId", "urn:cat:asset:1")]),
        (None, [("serialNumber", "SN-A"), ("globalAssetId", "urn:cat:asset:2")]),
    ]
    for id_short, assets in filters:
        params: dict[str, Any] = {}
        if id_short is not None:
            params["idShort"] = id_short
        if assets:
            params["assetIds"] = [asset_query(name, value) for name, value in assets]
        expected = naive_shells(twin, id_short, assets)
        unpaged = (await client.get("/shells", params=params)).json()
        assert [item["id"] for item in unpaged["result"]] == expected, (id_short, assets)
        for limit in (1, 3, 100):
            assert await all_pages(client, "/shells", params, limit) == expected, (id_short, assets, limit)


async def test_shell_filters_and_paging_follow_every_kind_of_change(client: httpx.AsyncClient,
                                                                     full_twin: Twin) -> None:
    rng = random.Random(7)
    for number in range(30):
        body = shell_json(number, "Even" if number % 2 == 0 else "Odd", rng.choice(["SN-A", "SN-B"]),
                          f"urn:cat:asset:{number % 3}")
        assert (await client.post("/shells", json=body)).status_code == 201
    await assert_shell_filters(client, full_twin)
    for number in rng.sample(range(30), 8):  # replace over REST: other idShort, serial and asset
        body = shell_json(number, rng.choice(["Even", "Odd", "Renamed"]), rng.choice(["SN-A", "SN-C"]),
                          f"urn:cat:asset:{rng.randrange(3)}")
        assert (await client.put(f"/shells/{encode_id(body['id'])}", json=body)).status_code == 204
    for number in rng.sample(range(30), 6):
        assert (await client.delete(f"/shells/{encode_id(f'urn:cat:shell:{number}')}")).status_code in (204, 404)
    await assert_shell_filters(client, full_twin)
    # Changes that do not come over REST: a modify in place, a delete and a re-create on the twin.
    kept = next(iter(identifier for identifier in full_twin.shells if identifier.startswith("urn:cat:")))
    full_twin.modify(ObjectKind.SHELL, kept, lambda shell: setattr(shell, "id_short", "Even"))
    info = {"assetKind": "Instance", "globalAssetId": "urn:cat:asset:2"}
    assert (await client.put(f"/shells/{encode_id(kept)}/asset-information", json=info)).status_code == 204
    victim = list(full_twin.shells)[-1]
    full_twin.delete(ObjectKind.SHELL, victim)
    assert (await client.post("/shells", json=shell_json(999, "Even", "SN-A", "urn:cat:asset:1"))).status_code == 201
    await assert_shell_filters(client, full_twin)


async def test_cursor_paging_across_changes_neither_skips_nor_repeats(client: httpx.AsyncClient,
                                                                       full_twin: Twin) -> None:
    for number in range(10):
        assert (await client.post("/shells", json=shell_json(number, "S", "SN", "urn:a"))).status_code == 201
    first = (await client.get("/shells", params={"idShort": "S", "limit": "4"})).json()
    seen = [item["id"] for item in first["result"]]
    assert seen == [f"urn:cat:shell:{n}" for n in range(4)]
    # Between pages: delete a shell already seen and one not yet seen, add one at the end.
    assert (await client.delete(f"/shells/{encode_id('urn:cat:shell:1')}")).status_code == 204
    assert (await client.delete(f"/shells/{encode_id('urn:cat:shell:5')}")).status_code == 204
    assert (await client.post("/shells", json=shell_json(10, "S", "SN", "urn:a"))).status_code == 201
    cursor = first["paging_metadata"]["cursor"]
    rest: list[str] = []
    while cursor:
        page = (await client.get("/shells", params={"idShort": "S", "limit": "4", "cursor": cursor})).json()
        rest.extend(item["id"] for item in page["result"])
        cursor = page["paging_metadata"].get("cursor")
    assert rest == [f"urn:cat:shell:{n}" for n in (4, 6, 7, 8, 9, 10)]


async def test_shell_references_and_single_shell_reads_follow_changes(client: httpx.AsyncClient,
                                                                       full_twin: Twin) -> None:
    body = shell_json(1, "Before", "SN-1", "urn:a")
    assert (await client.post("/shells", json=body)).status_code == 201
    url = f"/shells/{encode_id(body['id'])}"
    assert (await client.get(url)).json()["idShort"] == "Before"
    full_twin.modify(ObjectKind.SHELL, body["id"], lambda shell: setattr(shell, "id_short", "After"))
    assert (await client.get(url)).json()["idShort"] == "After"
    refs = (await client.get("/shells/$reference", params={"idShort": "After"})).json()["result"]
    assert [ref["keys"][0]["value"] for ref in refs] == [body["id"]]
    full_twin.delete(ObjectKind.SHELL, body["id"])
    assert (await client.get(url)).status_code == 404


def semantic_query(value: str, as_reference: bool) -> str:
    text = json.dumps({"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": value}]}) \
        if as_reference else value
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("as_reference", [False, True])
async def test_submodel_filters_follow_changes(client: httpx.AsyncClient, full_twin: Twin,
                                               as_reference: bool) -> None:
    def make(number: int, id_short: str, semantic: str) -> model.Submodel:
        return model.Submodel(f"urn:cat:sm:{number}", id_short=id_short,
                              semantic_id=model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE,
                                                                             SEMANTIC + semantic),)))

    for number in range(12):
        full_twin.create(make(number, "Nameplate" if number % 3 else "Data", "np" if number % 2 else "td"))
    full_twin.replace(make(4, "Data", "td"))
    full_twin.delete(ObjectKind.SUBMODEL, "urn:cat:sm:7")
    full_twin.modify(ObjectKind.SUBMODEL, "urn:cat:sm:9", lambda sm: setattr(sm, "id_short", "Renamed"))
    for semantic in ("np", "td", "none"):
        for id_short in (None, "Data", "Nameplate", "Renamed"):
            expected = [sm.id for sm in full_twin.submodels.values()
                        if (id_short is None or sm.id_short == id_short) and sm.semantic_id is not None
                        and sm.semantic_id.key[0].value == SEMANTIC + semantic]
            params = {"semanticId": semantic_query(SEMANTIC + semantic, as_reference),
                      **({"idShort": id_short} if id_short else {})}
            assert await all_pages(client, "/submodels", params, 2) == expected
            metadata = (await client.get("/submodels/$metadata", params=params)).json()["result"]
            assert [item["id"] for item in metadata] == expected


async def test_concept_description_filters_follow_changes(client: httpx.AsyncClient, full_twin: Twin) -> None:
    case = {"type": "ExternalReference", "keys": [{"type": "GlobalReference", "value": "urn:cat:case"}]}
    for number in range(6):
        body: dict[str, Any] = {"modelType": "ConceptDescription", "id": f"urn:cat:cd:{number}",
                                "idShort": f"Cd{number % 2}"}
        if number % 3 == 0:
            body["isCaseOf"] = [case]
        assert (await client.post("/concept-descriptions", json=body)).status_code == 201
    assert (await client.delete(f"/concept-descriptions/{encode_id('urn:cat:cd:3')}")).status_code == 204
    encoded = base64.urlsafe_b64encode(json.dumps(case).encode()).decode()
    cases = await all_pages(client, "/concept-descriptions", {"isCaseOf": encoded}, 1)
    assert cases == ["urn:cat:cd:0"]
    both = (await client.get("/concept-descriptions", params={"isCaseOf": encoded, "idShort": "Cd0"})).json()
    assert [item["id"] for item in both["result"]] == ["urn:cat:cd:0"]
    assert await all_pages(client, "/concept-descriptions", {"idShort": "Cd1"}, 2) == [
        f"urn:cat:cd:{n}" for n in (1, 5)]


async def test_the_catalogs_never_hold_up_bus_drained(client: httpx.AsyncClient, full_twin: Twin) -> None:
    """The catalogs' subscription is consumed by their own task, so tests and shutdown that wait
    for ``bus.drained()`` are not kept waiting for the next REST read."""
    assert (await client.get("/shells")).status_code == 200  # the catalogs now follow the bus
    for number in range(3):
        full_twin.create(model.AssetAdministrationShell(
            model.AssetInformation(global_asset_id=f"urn:cat:drained:{number}"), f"urn:cat:drained:{number}"))
    await asyncio.wait_for(full_twin.bus.drained(), timeout=5)
    assert len((await client.get("/shells")).json()["result"]) == 4
