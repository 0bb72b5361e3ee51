"""Part 2 ``Result`` bodies and the mapping of every error to its HTTP status.

Clients of the AAS API expect each failure as a ``Result`` with a message that says what was
wrong; one place maps the twin's errors (``aas.errors``), validation errors and surprises to
those bodies. Every message's ``code`` is the status' name (``NotFound``, ``Conflict``...), the
same for a twin error and a route's own ``ApiError`` of that status, so clients can switch on it.

A device refusing a write (``WriteRejected``) is 422: the request was understood and well-formed,
the value is what the device or the element's type will not take. The twin ran out of room
(``StorageFull``) is 507; any other failure to make a change durable (``StorageError``) is 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from twinbridge.aas.errors import (
    Conflict,
    InvalidInput,
    InvalidQuery,
    LimitExceeded,
    NotFound,
    NotWritable,
    PreconditionFailed,
    StorageError,
    StorageFull,
    TimedOut,
    TwinError,
    WriteRejected,
)

log = logging.getLogger(__name__)

# The most specific class wins (``status_of`` walks the MRO): StorageFull before StorageError.
_STATUS_CODES: dict[type[TwinError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 400,
    NotWritable: 403,
    WriteRejected: 422,
    LimitExceeded: 413,
    StorageError: 503,
    StorageFull: 507,
    PreconditionFailed: 412,
    InvalidQuery: 400,
    TimedOut: 503,
}

_CODES: dict[int, str] = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 412: "PreconditionFailed", 413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "UnprocessableEntity", 429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
    503: "ServiceUnavailable",
    507: "InsufficientStorage",
}


def code_of(status: int) -> str:
    """The Result ``code`` of a status: its name, or the number for a status without one here."""
    return _CODES.get(status, str(status))


class ApiError(Exception):
    """An error a route raises to answer with ``status`` and a Result naming the problem."""

    def __init__(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers


def xs_datetime(epoch: float) -> str:
    """xs:dateTime in UTC with milliseconds, as the Result schema and the live headers use it."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def timestamp() -> str:
    return xs_datetime(time.time())


def result_body(status: int, text: str, message_type: str = "Error") -> dict[str, object]:
    return {
        "messages": [
            {
                "code": code_of(status),
                "messageType": message_type,
                "text": text,
                "timestamp": timestamp(),
            }
        ]
    }


class OrjsonResponse(JSONResponse):
    """JSON rendered by orjson: several times faster than json.dumps on large submodels."""

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def result_response(status: int, text: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return OrjsonResponse(result_body(status, text), status_code=status, headers=headers)


def status_of(error: TwinError) -> int:
    for cls in type(error).__mro__:
        if cls in _STATUS_CODES:
            return _STATUS_CODES[cls]  # type: ignore[index]
    return 400


def error_response(error: ApiError | TwinError) -> JSONResponse:
    """The Result of a route's own error or of a twin error (also used by ``server.api.hot``)."""
    if isinstance(error, ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else error.headers
        return result_response(error.status, error.text, headers)
    return result_response(status_of(error), str(error))


def _validation_text(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(part) for part in item.get("loc", ()))
        parts.append(f"{location}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is invalid"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every failure with a Part 2 Result; unexpected errors are logged and become 500."""

    async def on_api_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, (ApiError, TwinError))
        return error_response(error)

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return result_response(400, _validation_text(error))

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        return result_response(error.status_code, str(error.detail), headers=error.headers)

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return result_response(500, f"internal error: {type(error).__name__}: {error}")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(TwinError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
