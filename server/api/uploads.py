"""Multipart uploads streamed to a file of the data directory, never held in memory whole.

With ``UploadFile`` parameters, Starlette parses the whole body before the route runs: it spools
each file to the system's temporary directory (often a tmpfs, i.e. memory again), and the route
then read it into one ``bytes`` that the store copied (a 200 MiB attachment: 727 MiB peak RSS in
the first probe, ~1x the upload after the last round). Here the route reads the body itself:
the one file part goes chunk by chunk into an ``aas.files.Spool`` under ``DATA/uploads`` (0700),
hashed on the way for its assigned name, and is refused with 413 the moment it passes its limit
(the rest of the body is never read); the store then copies it from that file in chunks. Form
fields are small text, bounded here.

The routes declare the multipart body for the OpenAPI document with ``multipart_body``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header

from twinbridge.aas import files, limits
from twinbridge.aas.errors import InvalidInput
from twinbridge.server.api.results import ApiError
from twinbridge.server.api.services import services_of

MAX_FIELD_BYTES = 64 * 1024
"""One form field (a file name, a list of shell ids): text, never content."""
MAX_PARTS = 64


@dataclass(slots=True)
class Received:
    """The form fields of a multipart upload and its file part, spooled."""

    file: files.Spool
    file_name: str | None = None
    content_type: str | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None

    def required(self, name: str) -> str:
        value = self.field(name)
        if value is None:
            raise ApiError(400, f"the multipart body has no form field {name!r}")
        return value


@dataclass(slots=True)
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    is_file: bool = False
    text: bytearray = field(default_factory=bytearray)


@contextlib.asynccontextmanager
async def received(request: Request, file_field: str, limit_key: str, what: str) -> AsyncIterator[Received]:
    """The upload in ``request``'s multipart body, its ``file_field`` part spooled within the
    limit ``limit_key``; the spooled file is deleted on leaving unless the store took it."""
    bounds = limits.current()
    media, parameters = parse_options_header(request.headers.get("content-type", ""))
    boundary = parameters.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise ApiError(400, f"the request has no {file_field!r} file part: {what} is sent as multipart/form-data "
                            f"(with a boundary), not {request.headers.get('content-type')!r}")
    spool = files.Spool(services_of(request).upload_dir, getattr(bounds, limit_key), what, limit_key, bounds)
    try:
        upload = Received(spool)
        await _receive(request, boundary, file_field, upload, what)
        spool.close()
        yield upload
    finally:
        spool.discard()


async def _receive(request: Request, boundary: bytes, file_field: str, upload: Received, what: str) -> None:
    parts: list[_Part] = []
    header: list[bytearray] = [bytearray(), bytearray()]
    file_seen = False

    def on_part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise ApiError(400, f"the multipart body has more than {MAX_PARTS} parts")
        parts.append(_Part())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        parts[-1].headers[bytes(header[0]).lower()] = bytes(header[1])
        header[0], header[1] = bytearray(), bytearray()

    def on_headers_finished() -> None:
        nonlocal file_seen
        part = parts[-1]
        _, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = _text(options.get(b"name", b""), "a form field name")
        if b"filename" in options and part.name == file_field:
            if file_seen:
                raise ApiError(400, f"the multipart body holds more than one {file_field!r} file")
            file_seen = part.is_file = True
            upload.file_name = _text(options[b"filename"], "the part's filename")
            content_type = part.headers.get(b"content-type")
            upload.content_type = _text(content_type, "the part's content type") if content_type else None

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        if part.is_file:
            upload.file.write(data[start:end])  # LimitExceeded (413) as soon as it passes the limit
            return
        part.text += data[start:end]
        if len(part.text) > MAX_FIELD_BYTES:
            raise ApiError(413, f"the form field {part.name!r} is longer than {MAX_FIELD_BYTES} bytes")

    def on_part_end() -> None:
        part = parts[-1]
        if not part.is_file:
            upload.fields.setdefault(part.name, []).append(_text(bytes(part.text), f"the form field {part.name!r}"))
            part.text = bytearray()

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data, "on_part_end": on_part_end,
    })
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as error:
        raise ApiError(400, f"malformed multipart body: {error}") from None
    if not file_seen:
        raise ApiError(400, f"the multipart body has no {file_field!r} file part ({what})")


def _text(raw: bytes, what: str) -> str:
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise ApiError(400, f"{what} is not UTF-8") from None
    try:
        limits.check_text(text, what)
    except InvalidInput as error:
        raise ApiError(400, str(error)) from None
    return text


def multipart_body(description: str, fields: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    """``openapi_extra`` declaring a multipart body with a ``file`` part and the text ``fields``."""
    properties = {"file": {"type": "string", "format": "binary", "description": description}, **fields}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": properties, "required": ["file", *required]}}}}}
