"""Request bodies → basyx objects (strictly) and basyx objects → response JSON (fast).

Parsing uses orjson and the checks of ``aas.limits`` first, then basyx's *strict* decoder: the
failsafe one silently drops invalid parts, which
would store something other than what the client sent. Rendering goes through
``aas.documents.to_jsonable`` (strips the empty ``specificAssetIds`` basyx writes) and orjson.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import anyio
import orjson
from basyx.aas import model
from fastapi import Query, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from twinbridge.aas import compat_basyx, files, limits
from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import InvalidInput
from twinbridge.server.api.results import ApiError

T = TypeVar("T")

_MAX_ERROR_TEXT = 600
OFF_LOOP_BYTES = 256 * 1024
"""Bodies from this size on are parsed in a worker thread (about 5 ms of parsing)."""

Level = Literal["deep", "core"]
Extent = Literal["withBlobValue", "withoutBlobValue"]

LevelQuery = Query("deep", description="deep: all levels; core: only the direct children")
ExtentQuery = Query("withBlobValue", description="withoutBlobValue omits the values of Blobs")

# JSON keys holding child elements, per modelType (Part 1, "SubmodelElement" subclasses).
_CHILD_KEYS: dict[str, tuple[str, ...]] = {
    "Submodel": ("submodelElements",),
    "SubmodelElementCollection": ("value",),
    "SubmodelElementList": ("value",),
    "Entity": ("statements",),
    "AnnotatedRelationshipElement": ("annotations",),
}


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_TEXT else text[:_MAX_ERROR_TEXT] + " ..."


def load_json(data: bytes, what: str) -> Any:
    """Plain JSON with a message naming the position of a syntax error, checked against the
    limits and the xs:string character rules (``aas.limits``) before anyone acts on it."""
    if not data.strip():
        raise ApiError(400, f"the request body is empty; expected {what} as JSON")
    try:
        # orjson stops at 1,024 levels and 64-bit integers with an error, where json.loads
        # recursed until RecursionError (a 500) and took 5,000-digit numbers.
        tree = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, f"malformed JSON in the request body: {_json_reason(error)}") from None
    limits.check_json(tree, limits.current(), "the request body", raw=data)
    return tree


def _json_reason(error: orjson.JSONDecodeError) -> str:
    if "depth" in error.msg.lower() or "recursion" in error.msg.lower():
        return f"nested too deeply (limit {limits.current().key('json_depth')})"
    if "utf-8" in error.msg.lower() or "surrogate" in error.msg.lower():
        return f"{error.msg} (the body must be UTF-8 encoded JSON)"
    return f"{error.msg} at line {error.lineno} column {error.colno}"


def parse_body(data: bytes, expected: type[T]) -> T:
    """The basyx object of type ``expected`` in a JSON body; anything invalid is a 400 saying why."""
    name = expected.__name__
    raw = load_json(data, f"a {name}")
    if not isinstance(raw, dict):
        raise ApiError(400, f"expected a {name} JSON object, got a JSON {type(raw).__name__}")
    model_type = raw.get("modelType")
    if model_type is None:
        raise ApiError(400, f"the {name} has no modelType")
    try:  # basyx's own strict decoder, for its messages; the tree above passed the limits
        obj = json.loads(data, cls=compat_basyx.StrictDecoder)
    except (model.AASConstraintViolation, KeyError, TypeError, ValueError) as error:
        raise ApiError(400, _shorten(f"invalid {name}: {_describe(error)}")) from None
    if not isinstance(obj, expected):
        raise ApiError(400, f"expected modelType {name}, got {model_type!r}")
    check_model(obj)
    return obj


def check_model(obj: object) -> None:
    """What the JSON checks cannot see: nesting, element counts and file references."""
    current = limits.current()
    if isinstance(obj, model.Submodel):
        limits.check_submodel(obj, current)
    elif isinstance(obj, model.SubmodelElement):
        depth = limits.count_and_depth(obj)[1]
        if depth > current.path_depth:
            raise InvalidInput(f"the element nests {depth} levels deep; at most {current.path_depth} "
                               f"(limit {current.key('path_depth')})")
    files.check_references(obj)


async def parsed(data: bytes, parse: Callable[..., T], *args: Any) -> T:
    """``parse(data, *args)``, in a worker thread when ``data`` is big: a 12 MB body parsed on the
    event loop stalled every other client for 12.7 s. Small bodies stay on the loop, where a
    thread hop would cost more than the parse."""
    if len(data) < OFF_LOOP_BYTES:
        return parse(data, *args)
    return await anyio.to_thread.run_sync(functools.partial(parse, data, *args))


async def parsed_body(request: Request, expected: type[T]) -> T:
    return await parsed(await request.body(), parse_body, expected)


def same_id(obj: model.Identifiable, identifier: str, parameter: str) -> None:
    """A PUT's body must be the object its path names (Part 2): a 400 naming both ids otherwise."""
    if obj.id != identifier:
        raise ApiError(400, f"the body's id {obj.id!r} differs from the path's {parameter} {identifier!r}")


async def parsed_part(request: Request, what: str, construct: Callable[[dict[str, Any]], T]) -> T:
    return await parsed(await request.body(), parse_part, what, construct)


async def loaded_json(request: Request, what: str) -> Any:
    return await parsed(await request_body(request), load_json, what)


async def request_body(request: Request) -> bytes:
    """The whole body, read once from ``receive``, as ``Request.body`` reads it but without its
    async generator, which the event loop registers and finalizes: ~15 us of a value PATCH."""
    chunks: list[bytes] = []
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def parse_part(data: bytes, what: str, construct: Callable[[dict[str, Any]], T]) -> T:
    """A metamodel part without modelType (AssetInformation, Reference, SpecificAssetId...).

    ``construct`` is one of ``compat_basyx``'s ``construct_*`` functions.
    """
    raw = load_json(data, what)
    return construct_part(raw, what, construct)


def construct_part(raw: Any, what: str, construct: Callable[[dict[str, Any]], T]) -> T:
    if not isinstance(raw, dict):
        raise ApiError(400, f"expected {what} as a JSON object, got a JSON {type(raw).__name__}")
    try:
        part = construct(raw)
    except (model.AASConstraintViolation, KeyError, TypeError, ValueError) as error:
        raise ApiError(400, _shorten(f"invalid {what}: {_describe(error)}")) from None
    check_model(part)
    return part


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing or unknown value {error}"
    return str(error)


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """orjson-rendered response of a basyx object or already plain JSON data."""
    if isinstance(content, (model.Referable, model.Reference, model.AssetInformation,
                            model.SpecificAssetId, model.Resource)):
        content = to_jsonable(content)
    return Response(orjson.dumps(content), status_code=status, media_type="application/json", headers=headers)


GZIP_FROM = 32 * 1024
"""JSON bodies from this size on are gzipped for clients that accept it (``compressible_json``)."""


def compressible_json(content: Any, accept_encoding: str | None) -> Response:
    """JSON, gzipped (level 1) when large and accepted: the plant tree of 6,111 shells is 1.5 MiB
    as JSON and 77 KiB gzipped, for 3 ms of CPU (measured). The API has no compression middleware (it
    would cost every small value read), so the few routes with large bodies opt in here."""
    body = orjson.dumps(content)
    if len(body) < GZIP_FROM or "gzip" not in (accept_encoding or ""):
        return Response(body, media_type="application/json", headers={"Vary": "Accept-Encoding"})
    return Response(gzip.compress(body, 1), media_type="application/json",
                    headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})


def bytes_response(data: bytes, status: int = 200) -> Response:
    """Already rendered JSON bytes (from a cache)."""
    return Response(data, status_code=status, media_type="application/json")


def shape(data: Any, level: Level = "deep", extent: Extent = "withBlobValue") -> Any:
    """Apply Part 2 ``level`` and ``extent`` to the JSON form of a submodel or element (in place)."""
    if extent == "withoutBlobValue":
        _drop_blob_values(data)
    if level == "core" and isinstance(data, dict):
        for child in _children(data):
            _drop_children(child)
    return data


def _children(data: dict[str, Any]) -> list[Any]:
    children: list[Any] = []
    for key in _CHILD_KEYS.get(str(data.get("modelType")), ()):
        value = data.get(key)
        if isinstance(value, list):
            children.extend(value)
    return children


def _drop_children(data: Any) -> None:
    if isinstance(data, dict):
        for key in _CHILD_KEYS.get(str(data.get("modelType")), ()):
            data.pop(key, None)


def _drop_blob_values(data: Any) -> None:
    if isinstance(data, dict):
        if data.get("modelType") == "Blob":
            data.pop("value", None)
        for value in data.values():
            _drop_blob_values(value)
    elif isinstance(data, list):
        for item in data:
            _drop_blob_values(item)
