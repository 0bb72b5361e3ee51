"""Every registry response judged against the Part 2 v3.0 schemas (``part2_registry_schemas.yaml``,
copied from admin-shell-io/aas-specs-api; its header names the source files and commits)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import openapi_schema_validator
import psycopg
import yaml

from tests.peers import missing_peer

SCHEMAS = Path(__file__).with_name("part2_registry_schemas.yaml")


@cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SCHEMAS.read_text())
    return document


def check(instance: object, schema_name: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` is a valid ``schema_name``."""
    schema = dict(_document(), **{"$ref": f"#/components/schemas/{schema_name}"})
    openapi_schema_validator.validate(instance, schema, cls=openapi_schema_validator.OAS30Validator)


def answer(response: httpx.Response, status: int, schema_name: str | None = None) -> Any:
    """Assert the status, and the body's schema (a failure must be a Part 2 ``Result``)."""
    assert response.status_code == status, f"{response.request.method} {response.request.url}: " \
        f"{response.status_code} {response.text[:500]}"
    if status == 204:
        assert not response.content
        return None
    body = response.json()
    check(body, schema_name if schema_name is not None else "Result")
    if status >= 400:
        assert body["messages"] and body["messages"][0]["messageType"] == "Error"
    return body


POSTGRES = os.environ.get("TWINBRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_schema() -> Iterator[str]:
    """A registry store URL on the machine's PostgreSQL with a schema of its own, dropped afterwards."""
    schema = f"registry_test_{os.getpid()}_{os.urandom(4).hex()}"
    try:
        psycopg.connect(POSTGRES, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        missing_peer(f"PostgreSQL at {POSTGRES} is not reachable: {error}")
    try:
        yield f"{POSTGRES}?schema={schema}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
