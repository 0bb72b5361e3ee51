"""The JSON form of a query (the HTTP API's ``Query`` body) → ``query.syntax`` nodes, checked.

Follows the specification's JSON schema (``{"$condition": <logicalExpression>, "$select": "id"}``,
comparisons as ``{"$eq": [<Value>, <Value>]}``...) and checks what the schema cannot: operand
types (two literals of different types, a string test over a number), regular expressions that
do not compile or are too costly, nesting deeper than ``MAX_DEPTH`` and queries larger than
``MAX_NODES``. Every error is a ``QuerySyntaxError`` naming the JSON path of the offending part,
e.g. ``$condition.$and[1].$regex[1].$strVal``.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any

from twinbridge.query.patterns import compile_pattern
from twinbridge.query.syntax import (
    COMPARISONS,
    STRING_TESTS,
    Cast,
    Comparison,
    Constant,
    DatePart,
    Expression,
    Kind,
    Literal,
    Logical,
    Match,
    Not,
    Operand,
    Query,
    QuerySyntaxError,
    parse_field,
    static_kind,
)
from twinbridge.query.values import cast

MAX_DEPTH = 32
"""Deeper nesting is refused: real queries nest a few levels; this bounds the recursion."""
MAX_NODES = 2_000
"""Operators and operands in one query; the spec's largest example has 15."""

_LITERALS = {"$strVal": Kind.STRING, "$numVal": Kind.NUMBER, "$hexVal": Kind.HEX, "$dateTimeVal": Kind.DATETIME,
             "$timeVal": Kind.TIME, "$boolean": Kind.BOOLEAN}
_CASTS = {"$strCast": Kind.STRING, "$numCast": Kind.NUMBER, "$hexCast": Kind.HEX, "$boolCast": Kind.BOOLEAN,
          "$dateTimeCast": Kind.DATETIME, "$timeCast": Kind.TIME}
_DATE_PARTS = ("$dayOfWeek", "$dayOfMonth", "$month", "$year")
_HEX_LITERAL = re.compile(r"16#[0-9A-F]+")


class _Reader:
    def __init__(self) -> None:
        self.nodes = 0

    def _count(self, position: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise QuerySyntaxError(position, f"the query has more than {MAX_NODES} operators and operands")
        if depth > MAX_DEPTH:
            raise QuerySyntaxError(position, f"the query nests deeper than {MAX_DEPTH} levels")

    @staticmethod
    def _single(data: Any, position: str, what: str) -> tuple[str, Any]:
        if not isinstance(data, dict):
            raise QuerySyntaxError(position, f"expected {what} (a JSON object), got {type(data).__name__}")
        if len(data) != 1:
            names = ", ".join(sorted(data)) or "nothing"
            raise QuerySyntaxError(position, f"{what} must have exactly one operator, got {names}")
        ((key, value),) = data.items()
        return key, value

    # -------------------------------------------------------- expressions
    def expression(self, data: Any, position: str, depth: int, in_match: bool = False) -> Expression:
        self._count(position, depth)
        what = "a match expression" if in_match else "a logical expression"
        op, argument = self._single(data, position, what)
        here = f"{position}.{op}"
        if op in ("$and", "$or") and not in_match:
            items = self._list(argument, here, minimum=2)
            return Logical(op, tuple(self.expression(item, f"{here}[{n}]", depth + 1) for n, item in enumerate(items)),
                           here)
        if op == "$not" and not in_match:
            return Not(self.expression(argument, here, depth + 1), here)
        if op == "$match":
            items = self._list(argument, here, minimum=1)
            children = []
            for n, item in enumerate(items):
                child = self.expression(item, f"{here}[{n}]", depth + 1, in_match=True)
                if not isinstance(child, Comparison | Match):
                    raise QuerySyntaxError(f"{here}[{n}]", "a $match holds comparisons and $match only")
                children.append(child)
            return Match(tuple(children), here)
        if op == "$boolean":
            if not isinstance(argument, bool):
                raise QuerySyntaxError(here, "$boolean takes true or false")
            return Constant(argument, here)
        if op in COMPARISONS or op in STRING_TESTS:
            return self.comparison(op, argument, here, depth)
        allowed = "comparisons and $match" if in_match else "$and, $or, $not, $match, $boolean and comparisons"
        raise QuerySyntaxError(here, f"unknown operator {op!r} (allowed here: {allowed})")

    @staticmethod
    def _list(argument: Any, position: str, minimum: int) -> list[Any]:
        if not isinstance(argument, list) or len(argument) < minimum:
            raise QuerySyntaxError(position, f"expected a list of at least {minimum} expressions")
        return argument

    def comparison(self, op: str, argument: Any, position: str, depth: int) -> Comparison:
        if not isinstance(argument, list) or len(argument) != 2:
            raise QuerySyntaxError(position, f"{op} takes a list of exactly two operands")
        left = self.operand(argument[0], f"{position}[0]", depth + 1)
        right = self.operand(argument[1], f"{position}[1]", depth + 1)
        if op in STRING_TESTS:
            for side, where in ((left, "[0]"), (right, "[1]")):
                kind = static_kind(side)
                if kind is not None and kind is not Kind.STRING:
                    raise QuerySyntaxError(f"{position}{where}", f"{op} compares strings: use a field, $strVal "
                                                                 f"or $strCast, not a {kind.value}")
            if op == "$regex" and isinstance(right, Literal):
                compile_pattern(str(right.value), right.position)  # refuse it now, not per object
        else:
            left_kind, right_kind = static_kind(left), static_kind(right)
            if left_kind is not None and right_kind is not None and left_kind is not right_kind:
                raise QuerySyntaxError(position, f"type mismatch: {left_kind.value} {op} {right_kind.value} "
                                                 "(cast one side, e.g. $numCast or $strCast)")
        return Comparison(op, left, right, position)

    # ------------------------------------------------------------- operands
    def operand(self, data: Any, position: str, depth: int) -> Operand:
        self._count(position, depth)
        key, value = self._single(data, position, "a value")
        here = f"{position}.{key}"
        if key == "$field":
            if not isinstance(value, str):
                raise QuerySyntaxError(here, "$field takes a field identifier string such as \"$sm#idShort\"")
            return parse_field(value, here)
        if key in _LITERALS:
            return self.literal(_LITERALS[key], value, here)
        if key in _CASTS:
            return Cast(_CASTS[key], self.operand(value, here, depth + 1), here)
        if key in _DATE_PARTS:
            moment = self.literal(Kind.DATETIME, value, here)
            assert isinstance(moment.value, datetime)
            return DatePart(key, moment.value, here)
        if key == "$attribute":
            raise QuerySyntaxError(here, "$attribute belongs to access rules, not to queries")
        raise QuerySyntaxError(here, f"unknown operand {key!r}")

    @staticmethod
    def literal(kind: Kind, value: Any, position: str) -> Literal:
        def fail(expected: str) -> QuerySyntaxError:
            return QuerySyntaxError(position, f"expected {expected}, got {value!r}")

        if kind is Kind.STRING:
            if not isinstance(value, str):
                raise fail("a string")
            if value.startswith("$"):
                raise fail("a string not starting with '$' (a field goes into $field)")
            return Literal(kind, value, value, position)
        if kind is Kind.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail("a number")
            return Literal(kind, value, str(value), position)
        if kind is Kind.BOOLEAN:
            if not isinstance(value, bool):
                raise fail("true or false")
            return Literal(kind, value, "true" if value else "false", position)
        if kind is Kind.HEX:
            if not isinstance(value, str) or not _HEX_LITERAL.fullmatch(value):
                raise fail("a hex literal such as \"16#0A1F\"")
            return Literal(kind, int(value[3:], 16), value, position)
        if not isinstance(value, str):
            raise fail("a string")
        try:
            if kind is Kind.DATETIME:
                moment: datetime | time = datetime.fromisoformat(value)
            else:
                moment = time.fromisoformat(value)
        except ValueError:
            raise fail("an xs:dateTime such as \"2024-05-01T10:00:00Z\"" if kind is Kind.DATETIME
                       else "an xs:time such as \"10:00:00\"") from None
        return Literal(kind, cast(moment, kind), value, position)  # type: ignore[arg-type]


def parse_query(data: Any) -> Query:
    """A ``Query`` from its JSON form (``Query`` wrapper of the schema's top level accepted too)."""
    if isinstance(data, dict) and set(data) == {"Query"}:
        data = data["Query"]
    if not isinstance(data, dict):
        raise QuerySyntaxError("(top)", "a query is a JSON object with \"$condition\"")
    unknown = sorted(set(data) - {"$condition", "$select"})
    if unknown:
        raise QuerySyntaxError(unknown[0], f"unknown member {unknown[0]!r} (a query has $condition and $select)")
    if "$condition" not in data:
        raise QuerySyntaxError("(top)", "a query needs \"$condition\"")
    select = data.get("$select")
    if select is not None and select != "id":
        raise QuerySyntaxError("$select", f"$select may only be \"id\", got {select!r}")
    condition = _Reader().expression(data["$condition"], "$condition", 1)
    return Query(condition, select_id=select == "id")
