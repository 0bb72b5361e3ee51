"""Every registry response judged against the Part 2 v3.0 schemas (``part2_registry_schemas.yaml``,
copied from admin-shell-io/aas-specs-api; its header names the source files and commits)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import httpx
import openapi_schema_validator
import yaml

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
