"""The AAS Query Language's abstract syntax (IDTA-01002 v3.1, clause "Query Language").

Both forms of a query -- the JSON form the HTTP API carries (``query.json_form``) and the
grammar's text form (``query.text_form``) -- parse into these nodes; the evaluator and the planner
only ever see them. Every node keeps the ``position`` it came from (a JSON path such as
``$condition.$and[1].$eq[0]``, or ``character 17`` in the text form) so a later check can still
name where the query went wrong.

Field identifiers (``$aas#…``, ``$sm#…``, ``$sme.<idShortPath>#…``, ``$cd#…``, and the registry's
``$aasdesc#…`` and ``$smdesc#…``) are parsed here,
by hand: the grammar's attribute list is small and closed, and a hand parser can say *which*
character is wrong, which the JSON schema's one long regular expression cannot.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, time

from twinbridge.aas.errors import InvalidQuery

QuerySyntaxError = InvalidQuery
"""The query is not a query of the language; the message names the position."""


class Root(enum.Enum):
    AAS = "$aas"
    SM = "$sm"
    SME = "$sme"
    CD = "$cd"
    AASDESC = "$aasdesc"
    SMDESC = "$smdesc"


class Kind(enum.Enum):
    """Static types of operands; a field's values are strings until a comparison casts them."""

    STRING = "string"
    NUMBER = "number"
    HEX = "hex"
    BOOLEAN = "boolean"
    DATETIME = "dateTime"
    TIME = "time"


# --------------------------------------------------------------- fields
@dataclass(frozen=True, slots=True)
class PathStep:
    """One idShort of a ``$sme`` idShortPath and its list indexes (``None`` = ``[]``, any item)."""

    id_short: str
    indexes: tuple[int | None, ...] = ()


@dataclass(frozen=True, slots=True)
class ReferenceClause:
    """``type``, or ``keys[<index>].type|value`` of a Reference (``semanticId`` alone = ``keys[0].value``)."""

    part: str  # "type" | "keys"
    key_index: int | None = 0
    key_part: str = "value"  # "type" | "value"


@dataclass(frozen=True, slots=True)
class Attribute:
    """What a field examines: ``name`` plus, for lists and references, which item and which part."""

    # id idShort assetKind assetType globalAssetId specificAssetIds submodels semanticId value valueType language
    # endpoints submodelDescriptors
    name: str
    item: int | None = None  # specificAssetIds / submodels / supplementalSemanticIds / endpoints /
    #                          submodelDescriptors [<index>] (None: any)
    member: str | None = None  # specificAssetIds: name | value | externalSubjectId; endpoints: interface | href
    reference: ReferenceClause | None = None
    inner: Attribute | None = None  # submodelDescriptors: the SubmodelDescriptor's attribute


@dataclass(frozen=True, slots=True, eq=False)  # identity hash: evaluation caches per field cost one lookup
class Field:
    text: str
    root: Root
    path: tuple[PathStep, ...] | None  # $sme with an idShortPath; None: every element (recursive)
    attribute: Attribute
    position: str
    list_keys: tuple[tuple[str, ...], ...] = ()  # per path step, the $match key of each of its []


# ------------------------------------------------------------- operands
@dataclass(frozen=True, slots=True)
class Literal:
    kind: Kind
    value: str | float | int | bool | datetime | time
    lexical: str  # the xs lexical form, for string comparisons against fields
    position: str


@dataclass(frozen=True, slots=True)
class Cast:
    kind: Kind
    operand: Operand
    position: str


@dataclass(frozen=True, slots=True)
class DatePart:
    """``$dayOfWeek`` / ``$dayOfMonth`` / ``$month`` / ``$year`` of a dateTime literal: a number."""

    part: str
    value: datetime
    position: str


Operand = Field | Literal | Cast | DatePart


def static_kind(operand: Operand) -> Kind | None:
    """The operand's type, or None for a bare field (a string that adapts to the other side)."""
    if isinstance(operand, Field):
        return None
    if isinstance(operand, DatePart):
        return Kind.NUMBER
    return operand.kind


# ---------------------------------------------------------- expressions
COMPARISONS = ("$eq", "$ne", "$gt", "$ge", "$lt", "$le")
STRING_TESTS = ("$contains", "$starts-with", "$ends-with", "$regex")


@dataclass(frozen=True, slots=True)
class Comparison:
    op: str  # one of COMPARISONS or STRING_TESTS
    left: Operand
    right: Operand
    position: str


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # "$and" | "$or"
    children: tuple[Expression, ...]
    position: str


@dataclass(frozen=True, slots=True)
class Not:
    child: Expression
    position: str


@dataclass(frozen=True, slots=True)
class Match:
    """Every child holds for the same object, the same element, the same list item (``[]``)."""

    children: tuple[Comparison | Match, ...]
    position: str


@dataclass(frozen=True, slots=True)
class Constant:
    value: bool
    position: str


Expression = Comparison | Logical | Not | Match | Constant


@dataclass(frozen=True, slots=True)
class Query:
    condition: Expression
    select_id: bool = False


def fields_of(node: Expression | Operand) -> list[Field]:
    """Every field identifier in ``node``, in order."""
    if isinstance(node, Field):
        return [node]
    if isinstance(node, Cast):
        return fields_of(node.operand)
    if isinstance(node, Comparison):
        return fields_of(node.left) + fields_of(node.right)
    if isinstance(node, Logical | Match):
        return [field for child in node.children for field in fields_of(child)]
    if isinstance(node, Not):
        return fields_of(node.child)
    return []


# ---------------------------------------------------- field identifiers
_ID_SHORT = re.compile(r"[A-Za-z](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?")
_INDEX = re.compile(r"\[([0-9]*)\]")


class _Cursor:
    """Reads a field identifier left to right; errors say which character is wrong."""

    def __init__(self, text: str, position: str) -> None:
        self.text = text
        self.at = 0
        self.position = position

    def fail(self, what: str) -> QuerySyntaxError:
        return QuerySyntaxError(f"{self.position}, character {self.at + 1} of {self.text!r}", what)

    def take(self, literal: str) -> bool:
        if self.text.startswith(literal, self.at):
            self.at += len(literal)
            return True
        return False

    def expect(self, literal: str) -> None:
        if not self.take(literal):
            raise self.fail(f"expected {literal!r}")

    def word(self, choices: tuple[str, ...]) -> str:
        """The longest of ``choices`` at the cursor."""
        for choice in sorted(choices, key=len, reverse=True):
            if self.text.startswith(choice, self.at):
                end = self.at + len(choice)
                if end == len(self.text) or not self.text[end].isalnum():
                    self.at = end
                    return choice
        raise self.fail(f"expected one of {', '.join(choices)}")

    def index(self) -> int | bool | None:
        """``[n]`` → n, ``[]`` → None, nothing → False."""
        match = _INDEX.match(self.text, self.at)
        if match is None:
            return False
        self.at = match.end()
        return int(match.group(1)) if match.group(1) else None

    def done(self) -> None:
        if self.at != len(self.text):
            raise self.fail("unexpected text after the field")


def _reference(cursor: _Cursor) -> ReferenceClause:
    """After ``semanticId`` / ``submodels`` / ``externalSubjectId``: the optional ``.type`` or
    ``.keys[<index>].type|value`` (nothing = the first key's value)."""
    if not cursor.take("."):
        return ReferenceClause("keys", 0, "value")
    part = cursor.word(("type", "keys"))
    if part == "type":
        return ReferenceClause("type")
    index = cursor.index()
    cursor.expect(".")
    key_part = cursor.word(("type", "value"))
    return ReferenceClause("keys", None if index is False else index, key_part)  # type: ignore[arg-type]


def _specific_asset_ids(cursor: _Cursor) -> Attribute:
    index = cursor.index()
    item = None if index is False else index
    if not cursor.take("."):
        raise cursor.fail("expected .name, .value or .externalSubjectId after specificAssetIds")
    member = cursor.word(("name", "value", "externalSubjectId"))
    reference = _reference(cursor) if member == "externalSubjectId" else None
    return Attribute("specificAssetIds", item, member, reference)  # type: ignore[arg-type]


def _aas_attribute(cursor: _Cursor) -> Attribute:
    name = cursor.word(("idShort", "id", "assetInformation", "submodels"))
    if name == "submodels":
        return _listed_references(cursor, "submodels")
    if name == "assetInformation":
        cursor.expect(".")
        part = cursor.word(("assetKind", "assetType", "globalAssetId", "specificAssetIds"))
        return _specific_asset_ids(cursor) if part == "specificAssetIds" else Attribute(part)
    return Attribute(name)


def _element_attribute(cursor: _Cursor, root: Root) -> Attribute:
    choices = {
        Root.SM: ("semanticId", "supplementalSemanticIds", "idShort", "id"),
        Root.SME: ("semanticId", "supplementalSemanticIds", "idShort", "value", "valueType", "language"),
        Root.CD: ("idShort", "id"),
    }[root]
    name = cursor.word(choices)
    if name == "semanticId":
        return Attribute(name, reference=_reference(cursor))
    if name == "supplementalSemanticIds":
        return _listed_references(cursor, name)
    return Attribute(name)


def _listed_references(cursor: _Cursor, name: str) -> Attribute:
    """``submodels`` / ``supplementalSemanticIds``: a list of References, ``[<index>]`` optional
    (none: any), then the Reference clause (none: the first key's value)."""
    index = cursor.index()
    return Attribute(name, item=None if index is False else index,  # type: ignore[arg-type]
                     reference=_reference(cursor))


def _endpoint(cursor: _Cursor) -> Attribute:
    """After ``endpoints``: ``[<index>]`` optional, then ``.interface`` or
    ``.protocolinformation.href`` (the grammar's spelling; the JSON member's ``protocolInformation``
    is accepted too)."""
    index = cursor.index()
    cursor.expect(".")
    part = cursor.word(("interface", "protocolinformation", "protocolInformation"))
    if part != "interface":
        cursor.expect(".href")
        part = "href"
    return Attribute("endpoints", None if index is False else index, part)  # type: ignore[arg-type]


def _submodel_descriptor_attribute(cursor: _Cursor) -> Attribute:
    """The grammar's ``SmDescriptorClause``: ``$smdesc#…`` and ``$aasdesc#submodelDescriptors.…``."""
    name = cursor.word(("semanticId", "idShort", "id", "endpoints"))
    if name == "semanticId":
        return Attribute(name, reference=_reference(cursor))
    if name == "endpoints":
        return _endpoint(cursor)
    return Attribute(name)


def _shell_descriptor_attribute(cursor: _Cursor) -> Attribute:
    name = cursor.word(("idShort", "id", "assetKind", "assetType", "globalAssetId", "specificAssetIds",
                        "endpoints", "submodelDescriptors"))
    if name == "specificAssetIds":
        return _specific_asset_ids(cursor)
    if name == "endpoints":
        return _endpoint(cursor)
    if name == "submodelDescriptors":
        index = cursor.index()
        cursor.expect(".")
        return Attribute(name, None if index is False else index,  # type: ignore[arg-type]
                         inner=_submodel_descriptor_attribute(cursor))
    return Attribute(name)


def _id_short_path(cursor: _Cursor) -> tuple[PathStep, ...]:
    steps: list[PathStep] = []
    while True:
        match = _ID_SHORT.match(cursor.text, cursor.at)
        if match is None:
            raise cursor.fail("expected an idShort (a letter, then letters, digits, '_' or '-')")
        cursor.at = match.end()
        indexes: list[int | None] = []
        while (index := cursor.index()) is not False:
            indexes.append(index)  # type: ignore[arg-type]
        steps.append(PathStep(match.group(0), tuple(indexes)))
        if not cursor.take("."):
            return tuple(steps)


def parse_field(text: str, position: str) -> Field:
    """A field identifier such as ``$sme.Documents[].DocumentClassification.Class#value``."""
    cursor = _Cursor(text, position)
    root_text = cursor.word(("$aasdesc", "$smdesc", "$aas", "$sme", "$sm", "$cd"))
    root = Root(root_text)
    path = None
    if root is Root.SME and cursor.take("."):
        path = _id_short_path(cursor)
    cursor.expect("#")
    if root is Root.AAS:
        attribute = _aas_attribute(cursor)
    elif root is Root.AASDESC:
        attribute = _shell_descriptor_attribute(cursor)
    elif root is Root.SMDESC:
        attribute = _submodel_descriptor_attribute(cursor)
    else:
        attribute = _element_attribute(cursor, root)
    cursor.done()
    return Field(text, root, path, attribute, position, _list_keys(path))


def _list_keys(path: tuple[PathStep, ...] | None) -> tuple[tuple[str, ...], ...]:
    """Per path step, the binding key of each of its ``[]``: ``$sme.Documents[]``,
    ``$sme.Documents[].DocumentVersion.SMLLanguages[]``... (``$match`` ties items by them)."""
    if path is None:
        return ()
    keys: list[tuple[str, ...]] = []
    prefix = "$sme"
    for step in path:
        prefix += "." + step.id_short
        step_keys = []
        for _ in step.indexes:
            prefix += "[]"
            step_keys.append(prefix)
        keys.append(tuple(step_keys))
    return tuple(keys)
