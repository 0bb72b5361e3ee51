"""The OpenAPI document says what the API really answers, operation by operation.

FastAPI documents only what a route's signature shows: routes that read their path parameters
through a dependency (``server.api.scope``) or their body from the request declared neither,
and no operation listed its error statuses (schemathesis found 199 undocumented 400/401/404/405
answers; generated clients depend on them). This completes the generated document once:

- every ``{name}`` of a path is a declared, required string parameter;
- a POST/PUT/PATCH without a declared body takes a JSON body;
- every operation lists exactly the error statuses it can answer, each with the Part 2 ``Result``
  schema (IDTA-01002, ``Result``/``Message``), from what the operation is (``statuses``):

  ========================  ==============================================================
  every operation           500 (a surprise: a generic Result, ``server.api.door``)
  path parameters           400 (an id not base64url), 404 (no such object), 405 (a '$'
                            segment naming one of the $-operations' paths)
  query parameters          400
  a request body            400, 413 (over its limit; bodies are read only by POST/PUT/PATCH)
  the read role needed      401, when reads need a token (``auth.read_open: false``)
  the write or admin role   401 and 403, when the server checks tokens
  POST, PUT, PATCH, DELETE  403 (a device-fed element), 503 (the store cannot write now),
                            507 (the store is full); 412 with path parameters (If-Match)
  POST, PUT                 409 (the id or idShort exists)
  POST, PUT, PATCH          422 (the value does not fit / the device refused), 502 (the
                            device did not answer)
  ========================  ==============================================================

  Statuses a route declares itself (``responses=``: 406 of ``/serialization``, 415 and 503 of
  the query routes) are kept.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import FastAPI

from twinbridge.server.api.auth import ApiSecurity

_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_WRITES = frozenset({"post", "put", "patch", "delete"})
_BODIES = frozenset({"post", "put", "patch"})
_METHODS = frozenset({"get", "head", "post", "put", "patch", "delete", "options"})

Role = Literal["read", "write", "admin"]
_RANK: dict[Role, int] = {"read": 0, "write": 1, "admin": 2}

_DESCRIPTIONS = {
    "400": "Bad Request: the request or a parameter is malformed, or breaks the metamodel or a limit",
    "401": "Unauthorized: no valid bearer token",
    "403": "Forbidden: the token's role does not allow this, or a device feeds the element",
    "404": "Not Found: no such identifiable, element or file",
    "405": "Method Not Allowed: a path parameter holding '$' names one of the $-operations' paths",
    "409": "Conflict: the identifier or idShort exists already",
    "412": "Precondition Failed: the object changed since the version If-Match names",
    "413": "Payload Too Large: the request body is over its limit (server.rest.limits)",
    "422": "Unprocessable Entity: the value does not fit the element, or the device refused it",
    "500": "Internal Server Error: logged by the server with the reference in the message",
    "502": "Bad Gateway: the device did not answer the write",
    "503": "Service Unavailable: the store or a back end is not available now",
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
            services = getattr(app.state, "services", None)
            complete(document, services.security if services is not None else ApiSecurity())
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def role_of(method: str, operation: dict[str, Any]) -> Role | None:
    """The role an operation checks: the highest its bearer security requirement names (the
    ``Security(..., scopes=[role])`` of ``server.api.auth``); a requirement naming none (a room's
    own check, the registry's): the one its method suggests; no requirement: it checks no token."""
    requirements = operation.get("security")
    if not requirements:
        return None
    named: list[Role] = [scope for requirement in requirements for scopes in requirement.values()
                         for scope in scopes if scope in _RANK]
    if not named:
        return "read" if method in ("get", "head") else "write"
    return max(named, key=lambda role: _RANK[role])


def statuses(method: str, path: str, operation: dict[str, Any], role: Role | None,
             security: ApiSecurity) -> set[str]:
    """The error statuses an operation can answer (the table in the module docstring)."""
    found = {"500"}
    parameters = operation.get("parameters", [])
    has_path = bool(_PARAMETER.search(path))
    if has_path:
        found |= {"400", "404", "405"}
    if any(parameter.get("in") == "query" for parameter in parameters):
        found.add("400")
    if method in _BODIES and "requestBody" in operation:
        found |= {"400", "413"}
    if role is not None and security.mode != "none" and not (role == "read" and security.read_open):
        found |= {"401"} if role == "read" else {"401", "403"}
    if method in _WRITES:
        found |= {"403", "503", "507"}
        if has_path:
            found.add("412")
    if method in ("post", "put"):
        found.add("409")
    if method in _BODIES:
        found |= {"422", "502"}
    return found


def complete(document: dict[str, Any], security: ApiSecurity | None = None) -> None:
    """Complete ``document`` for a server checking tokens as ``security`` says (default: none)."""
    security = security if security is not None else ApiSecurity()
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Message", _MESSAGE)
    components.setdefault("Result", _RESULT)
    for path, item in document.get("paths", {}).items():
        names = _PARAMETER.findall(path)
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            _declare_parameters(operation, names)
            if method in _BODIES and "requestBody" not in operation:
                operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": {}}}}
            role = role_of(method, operation)
            responses = operation.setdefault("responses", {})
            if "422" in responses and "422" not in statuses(method, path, operation, role, security):
                del responses["422"]  # FastAPI's own HTTPValidationError: its validation errors answer 400 here
            for status in sorted(statuses(method, path, operation, role, security)):
                existing = responses.get(status)
                if existing is None or status == "422":  # FastAPI's 422 is its HTTPValidationError; ours is a Result
                    responses[status] = {"description": _DESCRIPTIONS[status], "content": _RESULT_CONTENT}
            for status, response in responses.items():  # a route's own: its description, the Result
                if status.isdigit() and int(status) >= 400 and "content" not in response:
                    response["content"] = _RESULT_CONTENT


def _declare_parameters(operation: dict[str, Any], names: list[str]) -> None:
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    declared = {parameter.get("name") for parameter in parameters if parameter.get("in") == "path"}
    for name in names:
        if name not in declared:
            parameters.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
