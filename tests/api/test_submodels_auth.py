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


@pytest.mark.parametrize("authorization", ["Basic writer-token", "Bearer", "Bearer   ", "writer-token", ""])
async def test_a_hot_write_without_a_bearer_token_is_a_401_and_changes_nothing(
        client: httpx.AsyncClient, authorization: str) -> None:
    before = (await client.get(VALUE, headers=READ)).json()
    refused = await client.patch(VALUE, json={"ExampleRange": {"min": 7, "max": 8}},
                                 headers={"Authorization": authorization})
    assert refused.status_code == 401 and "write role" in refused.json()["messages"][0]["text"]
    assert (await client.get(VALUE, headers=READ)).json() == before


async def test_a_hot_write_takes_the_bearer_scheme_in_any_case_and_spaces_around_the_token(
        client: httpx.AsyncClient) -> None:
    body = {"ExampleRange": {"min": 3, "max": 4}}
    assert (await client.patch(VALUE, json=body, headers={"Authorization": "bearer  writer-token "})).status_code == 204
    assert (await client.get(VALUE, headers=READ)).json() == body
