"""The grammar's text form of a query → its JSON form → ``query.syntax`` nodes.

The specification writes queries in a BNF grammar (``$match($sm#idShort $eq "TechnicalData",
$sme#value $lt 100)``) and maps them to JSON for HTTP; it defines no text mapping for HTTP.
twinbridge accepts the text form as ``text/plain`` too, because that is how the specification's
own examples (and people) write queries. The text is read by recursive descent into the JSON
form, which then goes through the one checker (``json_form.parse_query``); an error found there
is reported at the character of the text it came from.

Accepted as in the specification's examples: casts with or without ``$`` (``bool("true")``,
``$num(...)``), strings in double or single quotes, dateTime/time literals bare
(``2024-05-01T10:00:00Z``), hex literals ``16#0A``. ``$select id $where`` leads a query that
returns identifiers.
"""

from __future__ import annotations

import re
from typing import Any

from twinbridge.query.json_form import MAX_DEPTH, parse_query
from twinbridge.query.syntax import COMPARISONS, STRING_TESTS, Query, QuerySyntaxError

_SPACE = re.compile(r"\s*")
_FIELD = re.compile(r"\$(?:aasdesc|smdesc|aas|sme|sm|cd)[A-Za-z0-9_.#\[\]-]*")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?(?:\.[0-9]+)?"
                       r"(?:Z|[+-][0-9]{2}:[0-9]{2})?")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2})?(?:\.[0-9]+)?")
_HEX = re.compile(r"16#[0-9A-F]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CASTS = {"str": "$strCast", "num": "$numCast", "hex": "$hexCast", "bool": "$boolCast",
          "dateTime": "$dateTimeCast", "time": "$timeCast"}
_DATE_PARTS = ("dayOfWeek", "dayOfMonth", "month", "year")
_OPERATORS = sorted(COMPARISONS, key=len, reverse=True)


class _Text:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.offsets: dict[str, int] = {}

    def fail(self, what: str) -> QuerySyntaxError:
        return QuerySyntaxError(f"character {self.at + 1}", what)

    def skip(self) -> None:
        self.at = _SPACE.match(self.text, self.at).end()  # type: ignore[union-attr]

    def take(self, literal: str) -> bool:
        self.skip()
        if self.text.startswith(literal, self.at):
            self.at += len(literal)
            return True
        return False

    def expect(self, literal: str) -> None:
        if not self.take(literal):
            found = self.text[self.at:self.at + 12] or "the end"
            raise self.fail(f"expected {literal!r}, found {found!r}")

    def mark(self, path: str) -> None:
        self.skip()
        self.offsets[path] = self.at

    # ------------------------------------------------------------ logic
    def logical(self, path: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"the query nests deeper than {MAX_DEPTH} levels")
        self.mark(path)
        if self.take("("):
            inner = self.logical(path, depth + 1)
            self.expect(")")
            return inner
        for op in ("$and", "$or"):
            if self.take(op):
                return {op: self._list(f"{path}.{op}", depth, self.logical)}
        if self.take("$not"):
            self.expect("(")
            inner = self.logical(f"{path}.$not", depth + 1)
            self.expect(")")
            return {"$not": inner}
        if self._match_ahead():
            return self.match(path, depth)
        for word, value in (("true", True), ("false", False)):
            if self._word(word):
                return {"$boolean": value}
        return self.comparison(path, depth)

    def _word(self, word: str) -> bool:
        self.skip()
        end = self.at + len(word)
        if self.text.startswith(word, self.at) and (end == len(self.text) or not self.text[end].isalnum()):
            self.at = end
            return True
        return False

    def _match_ahead(self) -> bool:
        self.skip()
        return self.text.startswith("$match", self.at)

    def match(self, path: str, depth: int) -> Any:
        self.expect("$match")
        here = f"{path}.$match"

        def item(item_path: str, item_depth: int) -> Any:
            self.mark(item_path)
            return self.match(item_path, item_depth) if self._match_ahead() else self.comparison(item_path, item_depth)
        return {"$match": self._list(here, depth, item)}

    def _list(self, path: str, depth: int, read: Any) -> list[Any]:
        self.expect("(")
        items = [read(f"{path}[0]", depth + 1)]
        while self.take(","):
            items.append(read(f"{path}[{len(items)}]", depth + 1))
        self.expect(")")
        return items

    def comparison(self, path: str, depth: int) -> Any:
        self.mark(path)
        for test in STRING_TESTS:
            if self.take(test):
                here = f"{path}.{test}"
                self.expect("(")
                left = self.operand(f"{here}[0]", depth + 1)
                self.expect(",")
                right = self.operand(f"{here}[1]", depth + 1)
                self.expect(")")
                return {test: [left, right]}
        left = self.operand(path, depth + 1)  # its JSON path is unknown until the operator: the comparison's
        self.skip()
        op = next((op for op in _OPERATORS if self.text.startswith(op, self.at)), None)
        if op is None:
            if "$boolCast" in left:  # castToBool standing as a condition (grammar: logicalExpression)
                return {"$eq": [left, {"$boolean": True}]}
            raise self.fail("expected a comparison ($eq, $ne, $gt, $lt, $ge, $le) or a string test "
                            "($contains, $starts-with, $ends-with, $regex)")
        self.at += len(op)
        right = self.operand(f"{path}.{op}[1]", depth + 1)
        return {op: [left, right]}

    # ---------------------------------------------------------- operands
    def operand(self, path: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"the query nests deeper than {MAX_DEPTH} levels")
        self.mark(path)
        text, at = self.text, self.at
        if text.startswith("$", at) and (field := _FIELD.match(text, at)) is not None:
            self.at = field.end()
            return {"$field": field.group(0)}
        if at < len(text) and text[at] in "\"'":
            end = text.find(text[at], at + 1)
            if end < 0:
                raise self.fail("the string is not closed")
            self.at = end + 1
            return {"$strVal": text[at + 1:end]}
        for pattern, key in ((_DATETIME, "$dateTimeVal"), (_TIME, "$timeVal"), (_HEX, "$hexVal")):
            found = pattern.match(text, at)
            if found is not None:
                self.at = found.end()
                return {key: found.group(0)}
        found = _NUMBER.match(text, at)
        if found is not None:
            self.at = found.end()
            number = found.group(0)
            return {"$numVal": float(number) if any(c in number for c in ".eE") else int(number)}
        for word, value in (("true", True), ("false", False)):
            if self._word(word):
                return {"$boolean": value}
        name = re.match(r"\$?([A-Za-z]+)", text[at:])
        if name is not None and name.group(1) in (*_CASTS, *_DATE_PARTS):
            self.at += name.end()
            self.expect("(")
            key = _CASTS.get(name.group(1)) or "$" + name.group(1)
            inner = self.operand(f"{path}.{key}", depth + 1)
            self.expect(")")
            if key in _CASTS.values():
                return {key: inner}
            if "$dateTimeVal" not in inner:
                raise self.fail(f"{key} takes a dateTime literal")
            return {key: inner["$dateTimeVal"]}
        raise self.fail("expected a field ($aas#…, $sm#…, $sme…#…, $cd#…), a literal or a cast")


def parse_text_query(text: str) -> Query:
    """A ``Query`` from the grammar's text form; errors name the character."""
    reader = _Text(text)
    select = reader.take("$select")
    if select:
        if not reader._word("id"):
            raise reader.fail("$select takes 'id'")
        reader.expect("$where")
    condition = reader.logical("$condition", 1)
    reader.skip()
    if reader.at != len(text):
        raise reader.fail("unexpected text after the query")
    data: dict[str, Any] = {"$condition": condition}
    if select:
        data["$select"] = "id"
    try:
        return parse_query(data)
    except QuerySyntaxError as error:
        origin = max((path for path in reader.offsets if error.position.startswith(path)), key=len,
                     default="$condition")
        raise QuerySyntaxError(f"character {reader.offsets.get(origin, 0) + 1}", error.text) from None
