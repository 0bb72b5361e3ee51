"""specificAssetIds keep the order a client sent: basyx's decoder gathers them in a set, whose
order follows string hashing and so changed from process to process (a restart, or another
instance on the same store, rendered the same shell differently)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_shells import new_shell
from twinbridge.aas.formats import jsontree
from twinbridge.server.api.ids import encode_id

ASSET_IDS = [{"name": f"part{index}", "value": f"value-{index * 7919 % 101}"} for index in range(12)]


def _names(listed: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in listed]


def test_decoding_keeps_the_document_order_strict_and_failsafe() -> None:
    shell = new_shell()
    shell["assetInformation"]["specificAssetIds"] = ASSET_IDS
    entity = {"modelType": "Entity", "idShort": "Motor", "entityType": "SelfManagedEntity",
              "globalAssetId": "urn:test:asset:motor", "specificAssetIds": ASSET_IDS[::-1]}
    for failsafe in (False, True):
        built = jsontree.build(shell, failsafe=failsafe)
        assert [item.name for item in built.asset_information.specific_asset_id] == _names(ASSET_IDS)
        assert [item.name for item in jsontree.build(entity, failsafe=failsafe).specific_asset_id] \
            == _names(ASSET_IDS[::-1])


async def test_a_posted_shell_and_a_put_asset_information_read_back_in_order(client: httpx.AsyncClient) -> None:
    shell = new_shell("urn:test:shell:ordered", "Ordered", "urn:test:asset:ordered")
    shell["assetInformation"]["specificAssetIds"] = ASSET_IDS
    assert (await client.post("/shells", json=shell)).status_code == 201
    path = f"/shells/{encode_id(shell['id'])}"
    assert _names((await client.get(path)).json()["assetInformation"]["specificAssetIds"]) == _names(ASSET_IDS)
    info = {**shell["assetInformation"], "specificAssetIds": ASSET_IDS[::-1]}
    assert (await client.put(f"{path}/asset-information", json=info)).status_code == 204
    read = (await client.get(f"{path}/asset-information")).json()
    assert _names(read["specificAssetIds"]) == _names(ASSET_IDS[::-1])


async def test_an_entity_in_a_posted_submodel_reads_back_in_order(client: httpx.AsyncClient) -> None:
    submodel = {"modelType": "Submodel", "id": "urn:test:submodel:ordered", "idShort": "Ordered",
                "submodelElements": [{"modelType": "Entity", "idShort": "Motor", "entityType": "SelfManagedEntity",
                                      "globalAssetId": "urn:test:asset:motor", "specificAssetIds": ASSET_IDS}]}
    assert (await client.post("/submodels", json=submodel)).status_code == 201
    read = (await client.get(f"/submodels/{encode_id(submodel['id'])}/submodel-elements/Motor")).json()
    assert _names(read["specificAssetIds"]) == _names(ASSET_IDS)
