"""Bearer-token security: roles read < write < admin, open reads, 401/403 Results, CORS."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from tests.api.conftest import PREFIX, SHELL_ID
from tests.api.test_shells import assert_result, new_shell
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity, ApiToken
from twinbridge.server.api.ids import encode_id

TOKENS = [ApiToken(token=SecretStr("r-token"), role="read"), ApiToken(token=SecretStr("w-token"), role="write"),
          ApiToken(token=SecretStr("a-token"), role="admin", name="ops")]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def security() -> ApiSecurity:
    return ApiSecurity(mode="token", tokens=TOKENS, read_open=True)


async def test_reads_are_open_and_writes_need_the_write_role(client: httpx.AsyncClient, full_twin: Twin) -> None:
    assert (await client.get("/shells")).status_code == 200
    missing = await client.post("/shells", json=new_shell())
    assert_result(missing, 401, "bearer token", "write")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_result(await client.post("/shells", json=new_shell(), headers=bearer("wrong")), 401, "not valid")
    assert_result(await client.post("/shells", json=new_shell(), headers=bearer("r-token")), 403, "'read'", "write")
    assert "urn:test:shell:2" not in full_twin.shells
    assert (await client.post("/shells", json=new_shell(), headers=bearer("w-token"))).status_code == 201
    assert (await client.post("/shells", json=new_shell("urn:test:shell:3"), headers=bearer("a-token"))
            ).status_code == 201


async def test_package_delete_needs_admin(client: httpx.AsyncClient) -> None:
    path = f"/packages/{encode_id('any')}"
    assert_result(await client.delete(path, headers=bearer("w-token")), 403, "admin")
    assert_result(await client.delete(path, headers=bearer("a-token")), 404)


async def test_closed_reads_need_a_token(full_twin: Twin) -> None:
    app = create_app(full_twin, prefix=PREFIX, security=ApiSecurity(mode="token", tokens=TOKENS, read_open=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://t{PREFIX}") as http:
        assert_result(await http.get(f"/shells/{encode_id(SHELL_ID)}"), 401, "read")
        assert (await http.get(f"/shells/{encode_id(SHELL_ID)}", headers=bearer("r-token"))).status_code == 200


async def test_cors_preflight(full_twin: Twin) -> None:
    app = create_app(full_twin, prefix=PREFIX, cors_origins=["https://dashboard.example"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://t{PREFIX}") as http:
        response = await http.options("/shells", headers={
            "Origin": "https://dashboard.example", "Access-Control-Request-Method": "POST"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://dashboard.example"
        other = await http.get("/shells", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_openapi_and_docs_under_the_prefix(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert f"{PREFIX}/shells/{{aasIdentifier}}" in schema["paths"]
    assert (await client.get("/docs")).status_code == 200
