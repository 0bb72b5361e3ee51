"""The OpenAPI document says what the API really answers.

FastAPI documents only what a route's signature shows: routes that read their path parameters
through a dependency (``server.api.scope``) or their body from the request declared neither,
and no operation listed its error statuses (schemathesis found 199 undocumented 400/401/404/405
answers; generated clients depend on them). This completes the generated document once:

- every ``{name}`` of a path is a declared, required string parameter;
- a POST/PUT/PATCH without a declared body takes a JSON body;
- every operation lists the error statuses the middleware and the routes answer, each with
  the Part 2 ``Result`` schema (IDTA-01002, ``Result``/``Message``).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_WRITES = frozenset({"post", "put", "patch", "delete"})
_METHODS = frozenset({"get", "head", "post", "put", "patch", "delete", "options"})

# Every operation: a malformed request or parameter, the token (missing, or without the role),
# an unknown id or path, a surprise (a generic Result, ``server.api.door``), a store or a device
# that cannot answer now.
_ALL = {
    "400": "Bad Request: the request or a parameter is malformed, or breaks the metamodel or a limit",
    "401": "Unauthorized: no valid bearer token",
    "403": "Forbidden: the token's role does not allow this",
    "404": "Not Found: no such identifiable, element or file",
    "405": "Method Not Allowed: a path parameter holding '$' names one of the $-operations' paths",
    "413": "Payload Too Large: the request body is over its limit (server.rest.limits)",
    "500": "Internal Server Error: logged by the server with the reference in the message",
    "503": "Service Unavailable: the store or a back end is not available now",
}
_WRITE_ONLY = {
    "409": "Conflict: the identifier or idShort exists already",
    "422": "Unprocessable Entity: the value does not fit the element, or the device refused it",
    "502": "Bad Gateway: the device did not answer the write",
    "507": "Insufficient Storage: the store has no room left",
}

_MESSAGE = {
    "type": "object",
    "required": ["code", "messageType", "text", "timestamp"],
    "properties": {
        "code": {"type": "string"},
        "correlationId": {"type": "string"},
        "messageType": {"type": "string", "enum": ["Undefined", "Info", "Warning", "Error", "Exception"]},
        "text": {"type": "string"},
        "timestamp": {"type": "string"},
    },
}
_RESULT = {"type": "object",
           "properties": {"messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}}}}
_RESULT_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}}


def install(app: FastAPI) -> None:
    """Complete ``app``'s OpenAPI document the first time it is asked for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        done = app.openapi_schema is not None
        document = generate()
        if not done:
            complete(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Message", _MESSAGE)
    components.setdefault("Result", _RESULT)
    for path, item in document.get("paths", {}).items():
        names = _PARAMETER.findall(path)
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            _declare_parameters(operation, names)
            if method in ("post", "put", "patch") and "requestBody" not in operation:
                operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": {}}}}
            responses = operation.setdefault("responses", {})
            statuses = {**_ALL, **(_WRITE_ONLY if method in _WRITES else {})}
            for status, description in statuses.items():
                existing = responses.get(status)
                if existing is None or status == "422":  # FastAPI's 422 is its HTTPValidationError; ours is a Result
                    responses[status] = {"description": description, "content": _RESULT_CONTENT}


def _declare_parameters(operation: dict[str, Any], names: list[str]) -> None:
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    declared = {parameter.get("name") for parameter in parameters if parameter.get("in") == "path"}
    for name in names:
        if name not in declared:
            parameters.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
