"""Operation invocation: sync and async, full and ValueOnly, timeouts, failures, missing implementations."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import SHELL_ID, SUBMODEL_ID
from twinbridge.aas.operations import OperationRegistry
from twinbridge.server.api.ids import encode_id
from twinbridge.server.api.services import app_services

OPERATION = f"/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/ExampleOperation"
VIA_SHELL = f"/shells/{encode_id(SHELL_ID)}/submodels/{encode_id(SUBMODEL_ID)}/submodel-elements/ExampleOperation"


def _input(value: str) -> dict[str, Any]:
    return {"value": {"modelType": "Property", "idShort": "ExamplePropertyInput", "valueType": "xs:string",
                      "value": value}}


@pytest.fixture
def registry(app: FastAPI) -> OperationRegistry:
    return app_services(app).operations


@pytest.fixture
def echo(registry: OperationRegistry) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    async def implementation(inputs: dict[str, Any]) -> dict[str, Any]:
        calls.append(inputs)
        if inputs["ExamplePropertyInput"] == "sleep":
            await asyncio.sleep(5)
        if inputs["ExamplePropertyInput"] == "fail":
            raise RuntimeError("spindle not homed")
        if inputs["ExamplePropertyInput"] == "undeclared":
            return {"Bogus": 1}
        return {"ExamplePropertyOutput": inputs["ExamplePropertyInput"].upper(),
                "ExamplePropertyInOutput": inputs["ExamplePropertyInOutput"] + "!"}

    registry.register(implementation, submodel_id=SUBMODEL_ID, path="ExampleOperation")
    return calls


async def test_sync_invoke(client: httpx.AsyncClient, echo: list[dict[str, Any]]) -> None:
    response = await client.post(f"{OPERATION}/invoke", json={"inputArguments": [_input("drill")]})
    assert response.status_code == 200
    result = response.json()
    assert result["executionState"] == "Completed" and result["success"] is True
    assert result["outputArguments"][0]["value"]["value"] == "DRILL"
    assert result["inoutputArguments"][0]["value"]["idShort"] == "ExamplePropertyInOutput"
    assert echo == [{"ExamplePropertyInput": "drill", "ExamplePropertyInOutput": "exampleValue"}]


async def test_value_only_invoke_via_shell(client: httpx.AsyncClient, echo: list[dict[str, Any]]) -> None:
    body = {"inputArguments": {"ExamplePropertyInput": "mill"}, "inoutputArguments": {"ExamplePropertyInOutput": "x"}}
    result = (await client.post(f"{VIA_SHELL}/invoke/$value", json=body)).json()
    assert result["outputArguments"] == {"ExamplePropertyOutput": "MILL"}
    assert result["inoutputArguments"] == {"ExamplePropertyInOutput": "x!"}


async def test_failures_are_reported_in_the_result(client: httpx.AsyncClient, echo: list[dict[str, Any]]) -> None:
    failed = (await client.post(f"{OPERATION}/invoke", json={"inputArguments": [_input("fail")]})).json()
    assert failed["executionState"] == "Failed" and failed["success"] is False
    assert "spindle not homed" in failed["messages"][0]["text"]
    undeclared = (await client.post(f"{OPERATION}/invoke", json={"inputArguments": [_input("undeclared")]})).json()
    assert undeclared["success"] is False and "Bogus" in undeclared["messages"][0]["text"]


async def test_timeout(client: httpx.AsyncClient, echo: list[dict[str, Any]]) -> None:
    body = {"inputArguments": [_input("sleep")], "clientTimeoutDuration": "PT0.2S"}
    result = (await client.post(f"{OPERATION}/invoke", json=body)).json()
    assert result["executionState"] == "Timeout" and result["success"] is False
    bad = await client.post(f"{OPERATION}/invoke", json={"clientTimeoutDuration": "soon"})
    assert bad.status_code == 400 and "xs:duration" in bad.json()["messages"][0]["text"]
    misnamed = await client.post(f"{OPERATION}/invoke", json={"timeout": "PT1S"})
    assert misnamed.status_code == 400 and "clientTimeoutDuration" in misnamed.json()["messages"][0]["text"]


async def test_async_invoke(client: httpx.AsyncClient, echo: list[dict[str, Any]]) -> None:
    started = await client.post(f"{OPERATION}/invoke-async", json={"inputArguments": [_input("turn")]})
    assert started.status_code == 202
    handle = started.json()["handleId"]
    assert started.headers["Location"].endswith(f"/operation-status/{handle}")
    for _ in range(100):
        status = (await client.get(f"{OPERATION}/operation-status/{handle}")).json()
        if status["executionState"] != "Running":
            break
        await asyncio.sleep(0.01)
    assert status["executionState"] == "Completed" and status["success"] is True
    full = (await client.get(f"{OPERATION}/operation-results/{handle}")).json()
    assert full["outputArguments"][0]["value"]["value"] == "TURN"
    values = (await client.get(f"{OPERATION}/operation-results/{handle}/$value")).json()
    assert values["outputArguments"] == {"ExamplePropertyOutput": "TURN"}
    unknown = await client.get(f"{OPERATION}/operation-status/nope")
    assert unknown.status_code == 404


async def test_bad_requests(client: httpx.AsyncClient, echo: list[dict[str, Any]]) -> None:
    wrong_name = {"inputArguments": [{"value": {**_input("x")["value"], "idShort": "Other"}}]}
    response = await client.post(f"{OPERATION}/invoke", json=wrong_name)
    assert response.status_code == 400 and "'Other'" in response.json()["messages"][0]["text"]
    not_variable = await client.post(f"{OPERATION}/invoke", json={"inputArguments": ["x"]})
    assert not_variable.status_code == 400 and "OperationVariable" in not_variable.json()["messages"][0]["text"]
    not_operation = await client.post(OPERATION.replace("ExampleOperation", "ExampleCapability") + "/invoke")
    assert not_operation.status_code == 400 and "not an Operation" in not_operation.json()["messages"][0]["text"]
    assert echo == []


async def test_operation_without_implementation(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{OPERATION}/invoke", json={"inputArguments": [_input("x")]})
    assert response.status_code == 404
    assert "no implementation" in response.json()["messages"][0]["text"]
