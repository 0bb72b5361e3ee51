"""``GET /serialization`` answers an AASX whose data part is the format the client asks for:
``application/asset-administration-shell-package+json`` a JSON part, ``...+xml`` an XML part."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest
from aas_core3 import jsonization, verification

from tests.interop.conftest import PREFIX
from twinbridge.aas.serialization import read_environment
from twinbridge.aas.twin import Twin


@pytest.mark.parametrize(("media", "part"), [
    ("application/asset-administration-shell-package+json", "aasx/data.json"),
    ("application/asset-administration-shell-package+xml", "aasx/data.xml"),
])
def test_the_aasx_data_part_has_the_asked_format(live_api: str, plant_twin: Twin, media: str, part: str) -> None:
    response = httpx.get(f"{live_api}{PREFIX}/serialization", headers={"Accept": media}, timeout=30)
    assert response.status_code == 200 and response.headers["content-type"] == media
    with zipfile.ZipFile(io.BytesIO(response.content)) as package:
        names = package.namelist()
        data_parts = [n for n in names if n.startswith("aasx/data.")]
        assert data_parts == [part]
        origin = package.read("aasx/_rels/aasx-origin.rels").decode()
        assert f'Target="/{part}"' in origin
        if part.endswith(".json"):
            document = json.loads(package.read(part))
            environment = jsonization.environment_from_jsonable(document)
            assert [f"{e.path}: {e.cause}" for e in verification.verify(environment)] == []
    packed = read_environment(response.content, "aasx")
    assert len(packed.shells) == len(plant_twin.shells) and len(packed.submodels) == len(plant_twin.submodels)
