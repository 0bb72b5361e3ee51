"""Casting and comparing values the way the query language defines it (XPath 3.0 operators).

A field's values come out of the model in their Python form (a Property's xs value, an idShort, a
key's value...); the language treats them as ``xs:string`` until a comparison's other side (a
literal or an explicit cast) names a type, and then casts them (clause "Casting"). A cast that
cannot be made gives ``INVALID``: the comparison of that pair is invalid, not false.

Two readings of the specification's example table are encoded here:

- ``$aas#assetInformation.assetKind $eq 17`` is *false* and ``$ne 17`` *true* ("17 is implicitly
  cast to the string '17'"): when a field's value does not cast to the literal's type, ``$eq`` and
  ``$ne`` compare the two as strings. Ordering comparisons (``$lt``...) of such a pair are invalid,
  so ``"abc" $lt 100`` never matches.
- Booleans have no order: ``bool(true) $gt bool(true)`` is false, as the table says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Final

from twinbridge.query.syntax import Kind


class _Invalid:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()
Value = object  # a raw model value or one cast to a Kind; INVALID when a cast failed

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = re.compile(r"(?:16#)?([0-9A-Fa-f]+)")
_EPOCH = date(2000, 1, 1)


def to_string(value: object) -> str:
    """The xs lexical form (``true``, ``42``, ``2024-05-01T10:00:00+00:00``...)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | time | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex().upper()
    return str(value)


def to_number(value: object) -> object:
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    return INVALID


def to_boolean(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    if isinstance(value, str):
        text = value.strip()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
    return INVALID


def to_hex(value: object) -> object:
    if isinstance(value, bool):
        return INVALID
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        return int.from_bytes(value, "big")
    if isinstance(value, str):
        match = _HEX.fullmatch(value.strip())
        if match is not None:
            return int(match.group(1), 16)
    return INVALID


def _aware(moment: datetime) -> datetime:
    """A dateTime without a zone is read as UTC, so any two dateTimes compare."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def to_datetime(value: object) -> object:
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _aware(datetime.fromisoformat(value.strip()))
        except ValueError:
            return INVALID
    return INVALID


def _naive_time(moment: time) -> time:
    if moment.tzinfo is None:
        return moment
    return datetime.combine(_EPOCH, moment).astimezone(UTC).time()


def to_time(value: object) -> object:
    if isinstance(value, datetime):
        return _naive_time(_aware(value).astimezone(UTC).timetz())
    if isinstance(value, time):
        return _naive_time(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _naive_time(time.fromisoformat(text))
        except ValueError:
            moment = to_datetime(text)
            return to_time(moment) if isinstance(moment, datetime) else INVALID
    return INVALID


CASTS: dict[Kind, Callable[[object], object]] = {
    Kind.STRING: to_string,
    Kind.NUMBER: to_number,
    Kind.BOOLEAN: to_boolean,
    Kind.HEX: to_hex,
    Kind.DATETIME: to_datetime,
    Kind.TIME: to_time,
}


def cast(value: object, kind: Kind) -> object:
    if value is INVALID:
        return INVALID
    return CASTS[kind](value)


def lexical(value: object, kind: Kind) -> str:
    """A typed value's lexical form, as a string comparison against a field needs it."""
    if kind is Kind.HEX and isinstance(value, int):
        return f"16#{value:X}"
    return to_string(value)


def ordered(op: str, left: object, right: object) -> bool:
    """``left op right`` for two values of one kind (``op`` is ``$eq`` ... ``$le``)."""
    if op == "$eq":
        return left == right
    if op == "$ne":
        return left != right
    if isinstance(left, bool):  # no order: $ge/$le are $eq, $gt/$lt false (the spec's example table)
        return left == right if op in ("$ge", "$le") else False
    if op == "$lt":
        return left < right  # type: ignore[operator]
    if op == "$le":
        return left <= right  # type: ignore[operator]
    if op == "$gt":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]
