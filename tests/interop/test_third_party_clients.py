"""Third-party AAS Part 2 clients from PyPI list, read and write through the API of the demo plant.

- ``basyx-client`` (BaSyx-model-native, httpx): its ``shells.list(asset_ids=[...])`` sends the bare
  globalAssetId base64url-encoded, which the server accepts beside the SpecificAssetId JSON form;
- ``aas-python-http-client`` (the client generated from the IDTA OpenAPI document);
- ``aas-http-client`` (requests + basyx wrapper). It asks PyPI for a newer version when imported;
  the test points that request at a closed local port so the suite never leaves the machine.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from basyx.aas import model
from basyx_client import AASClient

from tests.interop.conftest import PREFIX
from twinbridge.aas.twin import Twin

FILLER_ASSET = "https://example.com/twinbridge/asset/DemoPlant/Line1/Cell1/Filler1"
FILLER_SHELL = "https://example.com/twinbridge/aas/DemoPlant/Line1/Cell1/Filler1"
OPERATIONAL = "https://example.com/twinbridge/sm/DemoPlant/Line1/Cell1/Filler1/OperationalData"
NAMEPLATE = "https://example.com/twinbridge/sm/DemoPlant/Line1/Cell1/Filler1/Nameplate"
SETPOINT = "Segments.LiveValues.Records.Current.SpeedSetpoint"


def _b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def _setpoint(twin: Twin) -> Any:
    element = twin.element(OPERATIONAL, SETPOINT)
    assert isinstance(element, model.Property)
    return element.value


# ----------------------------------------------------------------------------------- basyx-client
def test_basyx_client_lists_filters_reads_and_writes(live_api: str, plant_twin: Twin) -> None:
    with AASClient(f"{live_api}{PREFIX}") as client:
        first = client.shells.list(limit=5)
        assert len(first.items) == 5 and first.has_more
        rest = client.shells.list(limit=100, cursor=first.cursor)
        assert len(first.items) + len(rest.items) == len(plant_twin.shells)
        found = client.shells.list(asset_ids=[FILLER_ASSET])
        assert [shell.id for shell in found.items] == [FILLER_SHELL]
        shell = client.shells.get(FILLER_SHELL)
        assert isinstance(shell, model.AssetAdministrationShell) and shell.id_short == "Filler1"
        nameplate = client.submodels.get(NAMEPLATE)
        assert nameplate.id_short == "Nameplate"
        order_code = client.submodels.elements.get(NAMEPLATE, "OrderCodeOfManufacturer")
        assert isinstance(order_code, model.Property) and order_code.value == "MF40-STD"
        client.submodels.elements.set_value(OPERATIONAL, SETPOINT, 1450.0)
        assert client.submodels.elements.get_value(OPERATIONAL, SETPOINT) == {"SpeedSetpoint": 1450.0}
    assert _setpoint(plant_twin) == 1450.0


# ------------------------------------------------------------------------- aas-python-http-client
def test_aas_python_http_client_lists_reads_and_writes(live_api: str, plant_twin: Twin) -> None:
    import aas_python_http_client as generated

    configuration = generated.Configuration()
    configuration.host = f"{live_api}{PREFIX}"
    api = generated.ApiClient(configuration)
    shells = generated.AssetAdministrationShellRepositoryAPIApi(api)
    page = shells.get_all_asset_administration_shells(limit=5)
    assert [s.id_short for s in page.result][:3] == ["DemoPlant", "Line1", "Cell1"]
    assert page.paging_metadata.cursor
    by_asset = shells.get_all_asset_administration_shells(
        asset_ids=[_b64(json.dumps({"name": "globalAssetId", "value": FILLER_ASSET}))])
    assert [s.id for s in by_asset.result] == [FILLER_SHELL]
    submodels = generated.SubmodelRepositoryAPIApi(api)
    value = submodels.get_submodel_element_by_path_value_only_submodel_repo(_b64(NAMEPLATE), "OrderCodeOfManufacturer")
    assert value == {"OrderCodeOfManufacturer": "MF40-STD"}
    submodels.patch_submodel_element_by_path_value_only_submodel_repo(1500.5, _b64(OPERATIONAL), SETPOINT)
    assert _setpoint(plant_twin) == 1500.5


# -------------------------------------------------------------------------------- aas-http-client
@pytest.fixture(scope="module")
def aas_http_client_module() -> Iterator[Any]:
    """Import with the PyPI version check sent to a closed port (no request leaves the machine)."""
    saved = {name: os.environ.get(name) for name in ("HTTPS_PROXY", "NO_PROXY")}
    os.environ["HTTPS_PROXY"] = "http://127.0.0.1:9"
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    try:
        import aas_http_client

        yield aas_http_client
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_aas_http_client_lists_reads_and_writes(aas_http_client_module: Any, live_api: str,
                                                plant_twin: Twin) -> None:
    from aas_http_client.classes.wrapper.sdk_wrapper import create_by_url

    wrapper = create_by_url(f"{live_api}{PREFIX}", trust_env=False, encoded_ids=False)  # it encodes them
    assert wrapper is not None
    page = wrapper.get_all_asset_administration_shells(limit=100)
    assert page is not None and len(page.results) == len(plant_twin.shells)
    shell = wrapper.get_asset_administration_shell_by_id(FILLER_SHELL)
    assert shell is not None and shell.id_short == "Filler1"
    nameplate = wrapper.get_submodel_by_id(NAMEPLATE)
    assert nameplate is not None and nameplate.id_short == "Nameplate"
    assert wrapper.patch_submodel_element_by_path_value_only_submodel_repo(OPERATIONAL, SETPOINT, "1600.25")
    assert _setpoint(plant_twin) == 1600.25
