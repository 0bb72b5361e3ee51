"""A write is answered only once it is durable: the store's writer thread has committed it, and a
store failure turns the success into an error Result naming the store."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from basyx.aas import model

from twinbridge.aas.store import SqliteStore
from twinbridge.aas.twin import Twin
from twinbridge.server.api.app import create_app
from twinbridge.server.api.auth import ApiSecurity

SUBMODEL = "urn:test:durable"
ELEMENTS = f"/submodels/{base64.urlsafe_b64encode(SUBMODEL.encode()).decode().rstrip('=')}/submodel-elements"


@pytest.fixture
async def durable(tmp_path: Path) -> AsyncIterator[tuple[Twin, httpx.AsyncClient]]:
    twin = Twin(SqliteStore(tmp_path / "twin.sqlite3", max_bytes=256 * 1024))  # SQLITE_FULL past 256 KiB
    twin.create(model.Submodel(SUBMODEL, submodel_element=[
        model.Property("Setpoint", model.datatypes.Double, value=1.0),
        model.Blob("Config", content_type="application/octet-stream"),
    ]))
    await twin.persisted()
    app = create_app(twin, security=ApiSecurity(mode="none"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://twin/api/v3.0") as client:
        yield twin, client
    twin.close()


async def test_an_acknowledged_value_write_is_already_in_the_database(
        durable: tuple[Twin, httpx.AsyncClient], tmp_path: Path) -> None:
    _, client = durable
    response = await client.patch(f"{ELEMENTS}/Setpoint/$value", content="1500.5")
    assert response.status_code == 204
    reader = Twin(SqliteStore(tmp_path / "twin.sqlite3"))  # a second connection sees the commit
    assert reader.element(SUBMODEL, "Setpoint").value == 1500.5  # type: ignore[attr-defined]
    reader.close()


async def test_a_full_store_answers_an_error_instead_of_success(durable: tuple[Twin, httpx.AsyncClient]) -> None:
    _, client = durable
    big = base64.b64encode(b"x" * 1024 * 1024).decode()
    response = await client.patch(f"{ELEMENTS}/Config/$value",
                                  json={"Config": {"contentType": "application/octet-stream", "value": big}})
    assert response.status_code >= 400
    assert "is full" in response.json()["messages"][0]["text"]
    response = await client.patch(f"{ELEMENTS}/Setpoint/$value", content="2.5")  # what fits still works
    assert response.status_code == 204
