"""Cursor paging of list results (Part 2 ``PagedResult``).

Repository lists (shells, submodels, concept descriptions) page over ``server.api.catalog``:
their cursor is the sequence number of the last item handed out, so a page after a deletion or
creation continues where the last one stopped. Other lists (elements, references) page by offset.

A cursor is an opaque, signed offset: clients cannot forge one, so a cursor this process
never issued is refused with 400 instead of silently returning a wrong page. Cursors are
signed with a per-process key and therefore expire when the server restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Query

from twinbridge.server.api.results import ApiError

T = TypeVar("T")

_KEY = secrets.token_bytes(32)
_SIGNATURE_BYTES = 12


def issue_cursor(offset: int) -> str:
    payload = str(offset).encode("ascii")
    signature = hmac.new(_KEY, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(signature + payload).decode("ascii").rstrip("=")


def read_cursor(cursor: str) -> int:
    """The offset behind a cursor this process issued; anything else is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        raw = b""
    signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
    expected = hmac.new(_KEY, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    if not payload or not hmac.compare_digest(signature, expected):
        raise ApiError(400, f"cursor {cursor!r} was not issued by this server (or it has restarted)")
    return int(payload)


async def parse_limit(limit: Annotated[str | None, Query(description="Maximum number of results, > 0")] = None,
                ) -> int | None:
    return limit_of(limit)


def limit_of(limit: str | None) -> int | None:
    """The ``limit`` query parameter (None: no limit); anything but a positive integer is a 400."""
    if limit is None:
        return None
    try:
        value = int(limit)
    except ValueError:
        raise ApiError(400, f"limit {limit!r} is not an integer") from None
    if value < 1:
        raise ApiError(400, f"limit must be a positive integer, got {value}")
    return value


async def parse_cursor(cursor: Annotated[str | None, Query(description="Cursor from a previous page")] = None,
                 ) -> int:
    return cursor_of(cursor)


def cursor_of(cursor: str | None) -> int:
    """The position to start after (0 without a cursor)."""
    if cursor is None or cursor == "":
        return 0
    return read_cursor(cursor)


LimitQuery = Annotated[int | None, Depends(parse_limit)]
CursorQuery = Annotated[int, Depends(parse_cursor)]


def paged(items: Sequence[T], cursor: int, limit: int | None) -> tuple[Sequence[T], str | None]:
    """One page from ``cursor`` (an offset from ``CursorQuery``) and the cursor of the next page."""
    if limit is None:
        return items[cursor:], None
    end = cursor + limit
    return items[cursor:end], issue_cursor(end) if end < len(items) else None


def envelope(result: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"paging_metadata": {"cursor": next_cursor} if next_cursor else {}, "result": result}


def envelope_bytes(parts: Sequence[bytes], next_cursor: str | None) -> bytes:
    """The envelope around items that are already rendered (catalog pages join cached bytes)."""
    meta = b'{"cursor":' + orjson.dumps(next_cursor) + b"}" if next_cursor else b"{}"
    return b'{"paging_metadata":' + meta + b',"result":[' + b",".join(parts) + b"]}"


def next_cursor(after: int | None) -> str | None:
    """The cursor of a catalog page (``Catalog.page``'s last sequence number), or None at the end."""
    return None if after is None else issue_cursor(after)


def paged_envelope(items: Sequence[T], cursor: int, limit: int | None,
                   render: Callable[[T], Any]) -> dict[str, Any]:
    """``paged`` + ``envelope``, rendering only the items on the page."""
    page, next_cursor = paged(items, cursor, limit)
    return envelope([render(item) for item in page], next_cursor)
