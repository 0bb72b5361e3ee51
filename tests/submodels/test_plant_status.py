"""``/live`` and ``/hierarchy/search`` (what the dashboard reads) over real HTTP, on the example plant."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.serving import serving_in_thread
from tests.submodels.conftest import encode, shell_id
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.aas.values import ElementValue
from twinbridge.server.api import hierarchy as hierarchy_api
from twinbridge.server.api import plant_status
from twinbridge.server.api.app import create_app
from twinbridge.server.api.bodies import GZIP_FROM
from twinbridge.submodels.builder import PlantModel
from twinbridge.submodels.hierarchy import PlantHierarchy

FILLER = "DemoPlant/Line1/Cell1/Filler1"


@pytest.fixture
def http(twin: Twin, hierarchy: PlantHierarchy) -> Iterator[httpx.Client]:
    app = create_app(twin, extra_routers=[plant_status.router, hierarchy_api.router])
    app.state.hierarchy = hierarchy
    with serving_in_thread(app) as base, httpx.Client(base_url=f"{base}/api/v3.0", timeout=10) as client:
        yield client


async def _to_device(value: ElementValue) -> None:
    """A device that takes every write (the write-back of a set-point)."""


def test_live_answers_value_quality_timestamp_unit_and_whether_a_write_reaches_a_device(
        http: httpx.Client, twin: Twin, plant: PlantModel) -> None:
    filler = shell_id(FILLER)
    power = twin.live(*plant.signal_target(filler, "Power"))
    twin.bind(power)
    twin.update(power, 7.5, 1_700_000_000.25, Quality.UNCERTAIN)
    speed = twin.live(*plant.signal_target(filler, "SpindleSpeed"))  # bound with write-back: a set-point
    twin.bind(speed, _to_device)
    line = twin.live(*plant.signal_target(shell_id("DemoPlant/Line1"), "TotalPower"))

    response = http.get("/live", params=[("aasId", encode(filler)), ("aasId", encode(shell_id("DemoPlant/Line1")))])
    assert response.status_code == 200, response.text
    filler_live, line_live = response.json()["result"]
    assert (filler_live["aasId"], filler_live["idShort"]) == (filler, "Filler1")
    rows = {row["idShortPath"].rsplit(".", 1)[1]: row for row in filler_live["elements"]}
    assert rows["Power"] == {
        "submodelId": power.submodel_id, "idShortPath": power.path, "value": 7.5, "valueType": "xs:double",
        "quality": "Uncertain", "timestamp": "2023-11-14T22:13:20.250Z", "semanticId": "0173-1#02-AAV590#001",
        "unit": "kW", "bound": True, "writeBack": False,
    }
    assert (rows["SpindleSpeed"]["bound"], rows["SpindleSpeed"]["writeBack"]) == (True, True)
    assert rows["SpindleSpeed"]["unit"] == "1/min"
    assert [row["idShortPath"] for row in line_live["elements"]] == [line.path]
    assert line_live["elements"][0]["bound"] is False
    current = http.get("/live", params={"aasId": encode(filler), "idShortPath": "Segments.LiveValues.Records.Current"})
    assert {row["idShortPath"] for row in current.json()["result"][0]["elements"]} == {power.path, speed.path}
    assert http.get("/live", params={"aasId": encode(filler), "idShortPath": "Segments.Live"}).json()["result"][0][
        "elements"] == []  # a prefix of whole idShorts, not of characters


def test_live_names_what_it_refuses(http: httpx.Client) -> None:
    unknown = http.get("/live", params={"aasId": encode("urn:nowhere")})
    assert unknown.status_code == 404 and "urn:nowhere" in unknown.json()["messages"][0]["text"]
    assert http.get("/live").status_code == 400  # aasId is required
    too_many = http.get("/live", params=[("aasId", encode(shell_id(FILLER)))] * (plant_status.MAX_SHELLS + 1))
    assert too_many.status_code == 400 and "at most 500" in too_many.json()["messages"][0]["text"]


def test_search_finds_shells_by_id_short_or_semantic_id(http: httpx.Client, twin: Twin, plant: PlantModel) -> None:
    by_name = http.get("/hierarchy/search", params={"q": "filler"}).json()["result"]
    assert [(hit["idShort"], hit["level"], hit["matched"]) for hit in by_name][:2] == [
        ("Filler1", "machine", "idShort"), ("Filler1Motor", "component", "idShort")]
    twin.live(*plant.signal_target(shell_id("DemoPlant/Line2/Cell3/Packer1"), "Temperature"))
    by_concept = http.get("/hierarchy/search", params={"q": "AAV232"}).json()["result"]
    assert [hit["idShort"] for hit in by_concept] == ["Packer1"]  # only elements with a live handle are indexed
    assert by_concept[0]["matched"] == "0173-1#02-AAV232#002"
    by_template = http.get("/hierarchy/search", params={"q": "idta/CarbonFootprint", "limit": 1}).json()["result"]
    assert len(by_template) == 1
    assert http.get("/hierarchy/search", params={"q": ""}).status_code == 400


def test_large_bodies_are_gzipped_for_clients_that_accept_it(http: httpx.Client, hierarchy: PlantHierarchy) -> None:
    every_shell = [("aasId", encode(shell)) for shell in hierarchy.shells()] * 20  # ~60 KB of JSON
    plain = http.get("/live", params=every_shell, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) >= GZIP_FROM
    zipped = http.get("/live", params=every_shell, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.json() == plain.json()  # httpx unzips
    assert int(zipped.headers["content-length"]) < len(plain.content) / 5
    small = http.get("/hierarchy", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers and small.json()["roots"][0]["idShort"] == "DemoPlant"
