"""Value indexes: the submodels whose element at one idShortPath has a given value or range.

"Every nameplate of manufacturer X" or "width < 100" name one element by its idShortPath
(``$sme.ManufacturerName#value``); without an index the answer asks every submodel. A
``PathIndex`` keeps, for one path, the submodels per value as a string (``$eq "X"``) and, for the
values that are numbers, a sorted list (``$lt 100`` is two bisections).

Indexes are made for the paths queries touch (``BUILD_AFTER`` uses; at most ``MAX_INDEXES``, the
least recently used goes) and follow the twin's change bus: structure changes and value
changes re-read the submodel's indexed paths. Their subscription takes every value change in
LATEST mode (one dict store per update on the hot path) and exists only while an index does. A
read first applies what is pending, synchronously, so a query right after a write sees it. An
index answers with a superset for the comparisons it serves; the evaluator decides every object.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Iterable
from decimal import Decimal

from twinbridge.aas.bus import ChangeBatch
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.following import ViewFollower
from twinbridge.aas.twin import Twin
from twinbridge.query.resolve import values_at
from twinbridge.query.syntax import Field, Kind, Literal
from twinbridge.query.values import INVALID, to_number, to_string

BUILD_AFTER = 2
"""A path gets an index on its second use: a one-off query pays one scan, not a scan and a build."""
MAX_INDEXES = 64

Number = int | float | Decimal


class PathIndex:
    """The submodels per value of one ``$sme.<idShortPath>#value`` field."""

    def __init__(self, field: Field) -> None:
        self.field = field
        steps = field.path or ()
        # The element a value change must name to concern this index (None: a path with lists).
        self.element_path = None if any(step.indexes for step in steps) else ".".join(s.id_short for s in steps)
        self._numbers: list[tuple[Number, str]] = []  # sorted
        self._strings: dict[str, set[str]] = {}
        self._entries: dict[str, tuple[list[Number], list[str]]] = {}

    def build(self, twin: Twin) -> None:
        self._numbers.clear()
        self._strings.clear()
        self._entries.clear()
        for identifier, submodel in twin.submodels.items():
            numbers, strings = self._read(values_at(submodel, self.field))
            self._store(identifier, numbers, strings)
            self._numbers.extend((number, identifier) for number in numbers)
        self._numbers.sort()

    @staticmethod
    def _read(values: list[object]) -> tuple[list[Number], list[str]]:
        numbers: list[Number] = []
        for value in values:
            number = to_number(value)
            if number is not INVALID and not (isinstance(number, float) and math.isnan(number)):
                numbers.append(number)  # type: ignore[arg-type]
        return numbers, [to_string(value) for value in values]

    def _store(self, identifier: str, numbers: list[Number], strings: list[str]) -> None:
        if numbers or strings:
            self._entries[identifier] = (numbers, strings)
        for text in strings:
            self._strings.setdefault(text, set()).add(identifier)

    def refresh(self, twin: Twin, identifier: str) -> None:
        old = self._entries.pop(identifier, None)
        if old is not None:
            for number in old[0]:
                index = bisect.bisect_left(self._numbers, (number, identifier))
                if index < len(self._numbers) and self._numbers[index] == (number, identifier):
                    del self._numbers[index]
            for text in old[1]:
                holders = self._strings.get(text)
                if holders is not None:
                    holders.discard(identifier)
                    if not holders:
                        del self._strings[text]
        submodel = twin.submodels.get(identifier)
        if submodel is None:
            return
        numbers, strings = self._read(values_at(submodel, self.field))
        self._store(identifier, numbers, strings)
        for number in numbers:
            bisect.insort(self._numbers, (number, identifier))

    def lookup(self, op: str, literal: Literal) -> Iterable[str] | None:
        """Identifiers that may satisfy ``field op literal``; None when this index cannot tell."""
        if literal.kind is Kind.STRING:
            return self._strings.get(literal.lexical, ()) if op == "$eq" else None
        if literal.kind is not Kind.NUMBER or op == "$ne":
            return None
        number = literal.value
        assert isinstance(number, int | float)
        numbers = self._numbers
        low, high = 0, len(numbers)
        if op in ("$eq", "$ge"):
            low = _first_at_least(numbers, number)
        elif op == "$gt":
            low = _first_above(numbers, number)
        if op in ("$eq", "$le"):
            high = _first_above(numbers, number)
        elif op == "$lt":
            high = _first_at_least(numbers, number)
        found = {identifier for _, identifier in numbers[low:high]}
        if op == "$eq":  # a value that is no number still equals the literal as a string
            found.update(self._strings.get(literal.lexical, ()))
        return found


def _number(entry: tuple[Number, str]) -> Number:
    return entry[0]


def _first_at_least(numbers: list[tuple[Number, str]], number: Number) -> int:
    return bisect.bisect_left(numbers, number, key=_number)  # type: ignore[arg-type]


def _first_above(numbers: list[tuple[Number, str]], number: Number) -> int:
    return bisect.bisect_right(numbers, number, key=_number)  # type: ignore[arg-type]


class ValueIndexes:
    """The path indexes of one twin's submodels, following its bus (see the module docstring)."""

    def __init__(self, twin: Twin) -> None:
        self._twin = twin
        self._indexes: OrderedDict[str, PathIndex] = OrderedDict()
        self._uses: dict[str, int] = {}
        self._follower = ViewFollower(twin.bus, self._apply, self._rebuild, "query-value-indexes")

    def index_for(self, field: Field) -> PathIndex | None:
        """The index of ``field``'s path, built on its ``BUILD_AFTER``-th use; None before."""
        key = field.text
        index = self._indexes.get(key)
        if index is not None:
            self._follower.catch_up()
            self._indexes.move_to_end(key)
            return index
        uses = self._uses[key] = self._uses.get(key, 0) + 1
        if uses < BUILD_AFTER:
            return None
        if self._follower.following:
            self._follower.catch_up()
        else:
            self._follower.follow()  # before the first build, so no change between the two is lost
        index = PathIndex(field)
        index.build(self._twin)
        self._indexes[key] = index
        if len(self._indexes) > MAX_INDEXES:
            self._indexes.popitem(last=False)
        return index

    def _rebuild(self) -> None:
        for index in self._indexes.values():
            index.build(self._twin)

    def _apply(self, batch: ChangeBatch) -> None:
        if batch.overflowed:
            self._rebuild()
            return
        changed = {event.identifier for event in batch.structure if event.object_kind is ObjectKind.SUBMODEL}
        for identifier in changed:
            for index in self._indexes.values():
                index.refresh(self._twin, identifier)
        # A device's value change concerns only the indexes of its element's path: a busy plant
        # changes thousands of values a second, few of them ones queries look for.
        for event in batch.values:
            element = event.element
            if element.submodel_id in changed:
                continue
            for index in self._indexes.values():
                if index.element_path is None or index.element_path == element.path:
                    index.refresh(self._twin, element.submodel_id)

    def close(self) -> None:
        self._follower.close()
