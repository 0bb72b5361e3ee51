"""Bearer tokens on the submodel routes: reads need the read role when reads are closed, writes the write role."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from tests.api.conftest import SUBMODEL_ID
from twinbridge.server.api.auth import ApiSecurity, ApiToken
from twinbridge.server.api.ids import encode_id

VALUE = f"/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/ExampleSubmodelCollection.ExampleRange/$value"
READ = {"Authorization": "Bearer reader-token"}
WRITE = {"Authorization": "Bearer writer-token"}


@pytest.fixture
def security() -> ApiSecurity:
    return ApiSecurity(mode="token", read_open=False, tokens=[
        ApiToken(token=SecretStr("reader-token"), role="read"),
        ApiToken(token=SecretStr("writer-token"), role="write"),
    ])


async def test_closed_reads_need_a_token_even_on_the_hot_path(client: httpx.AsyncClient) -> None:
    anonymous = await client.get(VALUE)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.get(VALUE, headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert (await client.get(VALUE, headers=READ)).json() == {"ExampleRange": {"min": 0, "max": 100}}
    assert (await client.get(f"/submodels/{encode_id(SUBMODEL_ID)}", headers=READ)).status_code == 200


async def test_writes_need_the_write_role(client: httpx.AsyncClient) -> None:
    body = {"ExampleRange": {"min": 1, "max": 2}}
    assert (await client.patch(VALUE, json=body)).status_code == 401
    forbidden = await client.patch(VALUE, json=body, headers=READ)
    assert forbidden.status_code == 403 and "write" in forbidden.json()["messages"][0]["text"]
    assert (await client.patch(VALUE, json=body, headers=WRITE)).status_code == 204
    assert (await client.get(VALUE, headers=READ)).json() == body
