"""Decoding plain-text and JSON payloads into a raw value and a source timestamp.

Rules (documented for plant authors):

- ``text``: the payload is UTF-8; surrounding whitespace is ignored; the element's valueType
  decides how it is read (``21.5``, ``true``/``false``/``1``/``0``/``on``/``off``, any string).
- ``json``: the payload is one JSON document; the binding's ``value`` selector (default ``$``,
  the whole document) picks the value. JSON ``null`` counts as a missing value.
- timestamps, when a binding has a ``timestamp`` selector: a number is epoch seconds, epoch
  milliseconds (≥ 1e11) or epoch microseconds (≥ 1e14); a string is ISO 8601 (``Z`` or an
  offset; no offset means UTC) or a number in text. Without a selector, the receive time.

Anything that does not follow these rules raises PayloadError; the adapter then leaves the
value unchanged and marks it Bad (see ``adapter.py``).
"""

from __future__ import annotations

import datetime
from typing import Any

import orjson

from twinbridge.adapters.coerce import LATEST_SOURCE_TIME, source_time
from twinbridge.adapters.mqtt.selectors import Missing, Selector


class PayloadError(ValueError):
    """The payload cannot give this binding a value; the message says why."""


def parse_json(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise PayloadError(f"payload is not JSON ({error}): {_preview(payload)}") from None


def select(selector: Selector, document: Any) -> Any:
    try:
        value = selector.select(document)
    except Missing as error:
        raise PayloadError(str(error)) from None
    if value is None:
        raise PayloadError(f"{selector.text}: the payload has null there")
    return value


def text(payload: bytes) -> str:
    try:
        return payload.decode().strip()
    except UnicodeDecodeError as error:
        raise PayloadError(f"payload is not UTF-8 text ({error}): {_preview(payload)}") from None


def epoch_seconds(raw: Any) -> float:
    """A payload timestamp as epoch seconds (see the module rules)."""
    kind = type(raw)
    if kind is float or kind is int:  # the common case first (bool is not int by type): ~2x faster per message
        number = float(raw)
        if number >= 1e14:
            seconds = number / 1e6
        elif number >= 1e11:
            seconds = number / 1e3
        elif number >= 0:
            return number
        else:
            return _scaled(number)  # raises, naming it
        return seconds if seconds <= LATEST_SOURCE_TIME else _scaled(number)  # NaN, inf: _scaled raises
    if isinstance(raw, bool):
        raise PayloadError(f"timestamp {raw!r} is a boolean, expected a number or ISO 8601 text")
    if isinstance(raw, (int, float)):
        return _scaled(float(raw))
    if isinstance(raw, str):
        try:
            return _scaled(float(raw))
        except ValueError:
            pass
        try:
            parsed = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise PayloadError(f"timestamp {raw!r} is neither epoch time nor ISO 8601") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return _representable(parsed.timestamp())
    raise PayloadError(f"timestamp {raw!r} is a {type(raw).__name__}, expected a number or ISO 8601 text")


def _scaled(number: float) -> float:
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        raise PayloadError(f"timestamp {number!r} is not a point in time")
    if number >= 1e14:
        return _representable(number / 1e6)
    if number >= 1e11:
        return _representable(number / 1e3)
    return number


def _representable(seconds: float) -> float:
    try:
        return source_time(seconds)
    except ValueError as error:
        raise PayloadError(str(error)) from None


def _preview(payload: bytes, limit: int = 60) -> str:
    shown = payload[:limit]
    return repr(shown) + ("…" if len(payload) > limit else "")
