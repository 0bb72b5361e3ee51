"""The OpenAPI documents of a repository that serves the registry: v3.1's lists what the v3.1
prefix serves of it (Discovery with ``POST /lookup/shellsByAssetLink``, the registry queries) and
not the descriptors it serves on v3.0 only; v3.0's lists the v3.0 routes and the queries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from twinbridge.aas.twin import Twin
from twinbridge.registry.host import RegistryHost
from twinbridge.registry.settings import RegistrySettings
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    twin = Twin()
    app = create_app(twin)
    host = RegistryHost(twin, RegistrySettings(serve=True, store="memory:", feed=False), None,
                        "http://localhost/api/v3.0")
    host.mount(app, ApiSecurity(), "/api/v3.0")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http
    await host.stop()
    twin.close()


async def test_the_v31_document_lists_what_v31_serves(client: httpx.AsyncClient) -> None:
    v31 = (await client.get("/api/v3.1/openapi.json")).json()
    paths = v31["paths"]
    link = paths["/api/v3.1/lookup/shellsByAssetLink"]["post"]
    assert link["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    assert {"limit", "cursor"} <= {parameter["name"] for parameter in link["parameters"]}
    assert "400" in link["responses"] and "$ref" in link["responses"]["400"]["content"]["application/json"]["schema"]
    for path in ("/api/v3.1/query/shell-descriptors", "/api/v3.1/query/submodel-descriptors"):
        assert "text/plain" in paths[path]["post"]["requestBody"]["content"]
    assert "/api/v3.1/lookup/shells" in paths and "/api/v3.1/query/submodels" in paths
    assert not any(path.startswith(("/api/v3.1/shell-descriptors", "/api/v3.1/submodel-descriptors"))
                   for path in paths)  # served on v3.0 only
    # and every path it lists answers (a POST with a bad body is a 400, not a 404)
    assert (await client.post("/api/v3.1/lookup/shellsByAssetLink", json=[])).status_code == 200
    assert (await client.post("/api/v3.1/query/shell-descriptors", json={})).status_code == 400

    v30 = (await client.get("/api/v3.0/openapi.json")).json()["paths"]
    assert "/api/v3.0/query/shell-descriptors" in v30 and "/api/v3.0/shell-descriptors" in v30
    assert not any("shellsByAssetLink" in path or path.startswith("/api/v3.1") for path in v30)
