"""Issue 9, class 10: the OpenAPI document describes the API (schemathesis against it, over HTTP).

Every operation of ``/api/v3.0/openapi.json`` gets a few generated requests (bounded, derandomized
so a run is repeatable and stays near a minute on 2 cores): no answer may be a 5xx, and every
status must be one the document lists for that operation.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from tests.api.conftest import PREFIX
from tests.serving import serving_in_thread

EXAMPLES_PER_OPERATION = 4


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    with serving_in_thread(app) as url:
        yield url


def test_openapi_declares_parameters_bodies_and_error_statuses(base_url: str) -> None:
    document = httpx.get(f"{base_url}{PREFIX}/openapi.json").json()
    assert "Result" in document["components"]["schemas"]
    undeclared, bodiless, undocumented = [], [], []
    for path, item in document["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            if names - declared:
                undeclared.append(f"{method} {path}")
            if method in ("post", "put", "patch") and "requestBody" not in operation:
                bodiless.append(f"{method} {path}")
            responses = operation["responses"]
            for status in ("400", "401", "403", "404", "500"):
                schema = responses.get(status, {}).get("content", {}).get("application/json", {}).get("schema")
                if schema != {"$ref": "#/components/schemas/Result"}:
                    undocumented.append(f"{method} {path} {status}")
    assert (undeclared, bodiless, undocumented) == ([], [], [])


def test_schemathesis_finds_no_server_error_and_no_undocumented_status(base_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}{PREFIX}/openapi.json")
    failures: list[str] = []
    statuses: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, timeout=30)  # the document's paths carry the prefix
            statuses.append(response.status_code)
            try:
                case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
            except Exception as failure:  # one line per failing operation is enough to act on
                failures.append(f"{case.operation.label}: {response.status_code} {type(failure).__name__}")
                raise AssertionError from None

        with contextlib.suppress(AssertionError):  # recorded in failures
            call()
    assert operations > 100
    assert sum(200 <= status < 300 for status in statuses) > 10  # the requests reach the routes (random ids: 404)
    assert failures == []
