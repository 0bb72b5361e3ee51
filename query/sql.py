"""A query's condition as a PostgreSQL predicate over JSON documents (``jsonb``).

For the shared store's ``documents`` table (shells, submodels and concept descriptions as their
AAS JSON, ``aas.store.postgres``) and the registry's descriptor tables
(``registry.store_postgres``): the database picks the documents, no object is built for those
it leaves out. ``compile_where`` gives the predicate and whether it is *exact*:

- exact: it holds for exactly the documents the condition holds for; the rows are the answer;
- not exact: it holds for every such document (a superset), and the in-memory evaluator
  (``query.evaluate``) decides each row it returns. The answer is then the evaluator's by
  construction; the predicate only saves work.

Each node compiles to two supersets, ``T`` (where it may be true) and ``F`` (where it may be
false), so ``$not`` stays a superset (its ``T`` is the child's ``F``); an exact node has
``F = NOT T``. What compiles exactly: a field of the object's own level whose JSON string is
the value the evaluator reads (ids, idShorts, Reference keys and types, asset ids, descriptor
fields) compared with a string literal by ``$eq``… ``$le`` (``COLLATE "C"``: code point order,
as Python compares), ``$contains``, ``$starts-with``, ``$ends-with``.

What only narrows (evaluator decides): ``$sme`` fields (the evaluator reads typed Property
values: ``xs:double`` "1.50" is 1.5, whose string is "1.5"; only ``xs:string``/``xs:anyURI``
values, MultiLanguageProperty texts and File paths are the JSON string), number literals
(compared in the jsonpath as doubles, widened by a relative 1e-12 that covers the roundings of
both sides, and any value that is not a plain decimal string passes), ``$regex`` (RE2 and
PostgreSQL's regular expressions differ: any value passes), other literal types (any value passes).
What does not compile
(``TRUE``): casts, field against field, ``$match`` bindings, fields of another level of the
hierarchy (``$aas`` in a submodel query...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from psycopg import sql

from twinbridge.query.syntax import (
    COMPARISONS,
    Attribute,
    Comparison,
    Constant,
    Expression,
    Field,
    Kind,
    Literal,
    Logical,
    Match,
    Not,
    PathStep,
    Query,
    ReferenceClause,
    Root,
)

_TRUE, _FALSE = sql.SQL("TRUE"), sql.SQL("FALSE")
Columns = Mapping[str, sql.Composable]
_MIRRORED = {"$eq": "$eq", "$ne": "$ne", "$lt": "$gt", "$gt": "$lt", "$le": "$ge", "$ge": "$le"}
_SQL_OPS = {"$eq": "=", "$ne": "<>", "$lt": "<", "$gt": ">", "$le": "<=", "$ge": ">="}
_OWN_ROOTS = {Root.AAS: (Root.AAS,), Root.SM: (Root.SM, Root.SME), Root.CD: (Root.CD,),
              Root.AASDESC: (Root.AASDESC,), Root.SMDESC: (Root.SMDESC,)}
_PLAIN_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,2})?$"
"""A decimal numeral jsonpath's ``.double()`` reads within a double's range (an exponent of at most
2 digits); any other value passes a number test, whatever the evaluator makes of it."""
_RELATIVE = Decimal("1e-12")  # far above a double's rounding (2**-53, 1.1e-16)
_ABSOLUTE = Decimal("1e-300")  # around zero, where doubles round to subnormals or 0
_STRING_VALUE_TYPES = ('"xs:string"', '"xs:anyURI"')
_TEST = "%TEST%"


@dataclass(frozen=True, slots=True)
class Compiled:
    """``where``: a predicate over the document; ``exact``: it is the condition itself."""

    where: sql.Composable
    exact: bool


@dataclass(frozen=True, slots=True)
class _Values:
    """Where a field's values are in the document: one text expression (``scalar``) or jsonpaths
    of zero or more JSON strings; ``exact``: these are the evaluator's values. ``$sme#value``
    adds ``typed``: Property values whose JSON string is not the evaluator's string (but whose
    number is), and ``loose``: elements that pass any string test (typed Properties, and a
    Property or File without a value, which the evaluator reads as "")."""

    scalar: sql.Composable | None
    paths: tuple[str, ...]
    exact: bool
    typed: tuple[str, ...] = ()
    loose: str | None = None
    column: str | None = None  # the name of an indexed column holding the value, if the table has one
    numbers: str | None = None  # one jsonpath whose _TEST (a filter on one value) selects every value


@dataclass(frozen=True, slots=True)
class _Node:
    true: sql.Composable
    false: sql.Composable
    exact: bool


_UNKNOWN = _Node(_TRUE, _TRUE, False)


def _paren(part: sql.Composable) -> sql.Composable:
    return sql.SQL("({})").format(part)


# ----------------------------------------------------------------- field paths
def _reference(prefix: str, clause: ReferenceClause) -> str:
    if clause.part == "type":
        return f"{prefix}.type"
    index = "*" if clause.key_index is None else str(clause.key_index)
    return f"{prefix}.keys[{index}].{clause.key_part}"


def _index(item: int | None) -> str:
    return "*" if item is None else str(item)


def _endpoint(prefix: str, attribute: Attribute) -> str:
    member = "interface" if attribute.member == "interface" else "protocolInformation.href"
    return f"{prefix}.endpoints[{_index(attribute.item)}].{member}"


def _text(document: sql.Composable, *keys: str) -> sql.Composable:
    """``document -> k1 ->> k2`` with "" for an absent member (as the evaluator reads it)."""
    expression = document
    for key in keys[:-1]:
        expression = sql.SQL("{} -> {}").format(expression, sql.Literal(key))
    return sql.SQL("coalesce({} ->> {}, '')").format(expression, sql.Literal(keys[-1]))


def _specific_asset_ids(prefix: str, attribute: Attribute) -> str:
    base = f"{prefix}.specificAssetIds[{_index(attribute.item)}]"
    if attribute.member in ("name", "value"):
        return f"{base}.{attribute.member}"
    assert attribute.reference is not None
    return _reference(f"{base}.externalSubjectId", attribute.reference)


def _descriptor_common(document: sql.Composable, prefix: str, attribute: Attribute,
                       inside: bool) -> _Values | None:
    """``id``, ``idShort``, ``semanticId…``, ``endpoints…`` of a descriptor at ``prefix``
    (``inside``: a submodel descriptor in a list, read by jsonpath only)."""
    name = attribute.name
    if name == "semanticId" and attribute.reference is not None:
        return _Values(None, (_reference(f"{prefix}.semanticId", attribute.reference),), True)
    if name == "endpoints":
        return _Values(None, (_endpoint(prefix, attribute),), True)
    if name == "id":
        return _Values(None, (f"{prefix}.id",), True, column=None if inside else "id")
    if name == "idShort" and not inside:
        return _Values(_text(document, "idShort"), (), True)
    return None  # an embedded descriptor's absent idShort reads "": not a jsonpath value


def _element_path(steps: tuple[PathStep, ...] | None) -> str:
    """The jsonpath of (a superset of) the elements an idShortPath names (``[]`` / ``[n]``: a
    list's items); no path: every element, at any depth."""
    if steps is None:
        return "$.submodelElements.** ? (exists (@.modelType))"
    path = "$.submodelElements[*]"
    for number, step in enumerate(steps):
        path += f'{".value[*]" if number else ""} ? (@.idShort == "{step.id_short}")'
        for index in step.indexes:
            path += f".value[{_index(index)}]"
    return path


def _field_values(field: Field, document: sql.Composable) -> _Values | None:
    attribute, name, root = field.attribute, field.attribute.name, field.root
    if root in (Root.AAS, Root.SM, Root.CD) and name in ("id", "idShort"):
        return _Values(_text(document, name), (), True, column=name)
    if root is Root.AAS:
        if name in ("assetKind", "assetType", "globalAssetId"):
            return _Values(_text(document, "assetInformation", name), (), True,
                           column=name if name == "globalAssetId" else None)
        if name == "specificAssetIds":
            return _Values(None, (_specific_asset_ids("$.assetInformation", attribute),), True)
        if name == "submodels" and attribute.reference is not None:
            return _Values(None, (_reference(f"$.submodels[{_index(attribute.item)}]", attribute.reference),), True)
        return None
    if root is Root.SM:
        if name == "semanticId" and attribute.reference is not None:
            first = attribute.reference == ReferenceClause("keys", 0, "value")
            return _Values(None, (_reference("$.semanticId", attribute.reference),), True,
                           column="semanticFirstKey" if first else None)
        if name == "supplementalSemanticIds" and attribute.reference is not None:
            return _Values(None, (_reference(f"$.supplementalSemanticIds[{_index(attribute.item)}]",
                                             attribute.reference),), True)
        return None
    if root is Root.SME:
        return _element_values(field, attribute)
    if root is Root.AASDESC:
        if name in ("idShort", "assetKind", "assetType", "globalAssetId"):
            return _Values(_text(document, name), (), True, column=name if name in ("assetKind", "assetType") else None)
        if name == "specificAssetIds":
            return _Values(None, (_specific_asset_ids("$", attribute),), True)
        if name == "submodelDescriptors" and attribute.inner is not None:
            return _descriptor_common(document, f"$.submodelDescriptors[{_index(attribute.item)}]",
                                      attribute.inner, inside=True)
        return _descriptor_common(document, "$", attribute, inside=False)
    if root is Root.SMDESC:
        return _descriptor_common(document, "$", attribute, inside=False)
    return None


def _element_values(field: Field, attribute: Attribute) -> _Values | None:
    """``$sme`` values: from a superset of the elements the evaluator reaches (``.**`` also
    enters Entity statements...), so never exact."""
    elements = _element_path(field.path)
    name = attribute.name
    if name == "value":
        strings = " || ".join(f"@.valueType == {kind}" for kind in _STRING_VALUE_TYPES)
        typed = f'@.modelType == "Property" && !({strings})'
        return _Values(None, (
            f'{elements} ? (@.modelType == "File" || (@.modelType == "Property" && ({strings}))).value',
            f'{elements} ? (@.modelType == "MultiLanguageProperty").value[*].text',
        ), False, typed=(f"{elements} ? ({typed}).value",),
            numbers=f'{elements} ? ((@.modelType == "Property" || @.modelType == "File")'
                    f' && exists (@.value ? ({_TEST}))'
                    f' || @.modelType == "MultiLanguageProperty" && exists (@.value[*].text ? ({_TEST})))',
            loose=f'{elements} ? (({typed}) || ((@.modelType == "Property" || @.modelType == "File") '
                  '&& !exists (@.value)))')
    if name == "semanticId" and attribute.reference is not None:
        return _Values(None, (_reference(f"{elements}.semanticId", attribute.reference),), False)
    if name == "language":
        return _Values(None, (f'{elements} ? (@.modelType == "MultiLanguageProperty").value[*].language',), False)
    if name == "valueType":
        return _Values(None, (f'{elements} ? (@.modelType == "Property" || @.modelType == "Range").valueType',),
                       False)
    return None


# ----------------------------------------------------------------- comparisons
def _exists(document: sql.Composable, values: _Values, test: sql.Composable | None,
            paths: tuple[str, ...] | None = None) -> sql.Composable:
    """Some value (``v``, text) passes ``test`` (None: any value)."""
    condition = test if test is not None else _TRUE
    if values.scalar is not None:
        return sql.SQL("(SELECT {} FROM (SELECT {} AS v) AS s)").format(condition, values.scalar)
    return _paren(sql.SQL(" OR ").join(
        sql.SQL("EXISTS (SELECT 1 FROM jsonb_path_query({}, {}::jsonpath) AS j(value), "
                "LATERAL (SELECT j.value #>> '{{}}' AS v) AS s WHERE jsonb_typeof(j.value) = 'string' AND {})").format(
            document, sql.Literal(path), condition) for path in (values.paths if paths is None else paths)))


def _loose(document: sql.Composable, values: _Values, found: sql.Composable) -> sql.Composable:
    if values.loose is None:
        return found
    return sql.SQL("({} OR jsonb_path_exists({}, {}::jsonpath))").format(found, document, sql.Literal(values.loose))


def _string_test(op: str, literal: str, field_left: bool) -> sql.Composable:
    text = sql.Literal(literal)
    if op in COMPARISONS:
        symbol = _SQL_OPS[op if field_left else _MIRRORED[op]]
        return sql.SQL('v COLLATE "C" {} {} COLLATE "C"').format(sql.SQL(symbol), text)
    outer, inner = (sql.SQL("v"), text) if field_left else (text, sql.SQL("v"))
    if op == "$contains":
        return sql.SQL("strpos({}, {}) > 0").format(outer, inner)
    if op == "$starts-with":
        return sql.SQL("starts_with({}, {})").format(outer, inner)
    return sql.SQL("right({}, length({})) = {}").format(outer, inner, inner)


def _number_test(document: sql.Composable, values: _Values, op: str, number: float | int,
                 field_left: bool) -> sql.Composable:
    """A superset of the documents with a value whose number compares as asked (see the module's
    docstring), tested inside the jsonpath: one scalar call per path, no row set per document."""
    op = op if field_left else _MIRRORED[op]
    exact = Decimal(number)
    slack = abs(exact) * _RELATIVE + _ABSOLUTE
    tests = {"$lt": "@.double() < $high", "$le": "@.double() <= $high", "$gt": "@.double() > $low",
             "$ge": "@.double() >= $low", "$eq": "@.double() >= $low && @.double() <= $high"}
    plain = _PLAIN_NUMBER.replace("\\", "\\\\")
    test = f'@.type() == "string" && (!(@ like_regex "{plain}") || {tests[op]})'
    if values.numbers is not None:  # one pass over the elements, not one per path
        paths: tuple[str, ...] = (values.numbers.replace(_TEST, test),)
    else:
        paths = tuple(f"{path} ? ({test})" for path in values.paths + values.typed)
    bounds = sql.SQL("jsonb_build_object('low', {}::numeric, 'high', {}::numeric)").format(
        sql.Literal(exact - slack), sql.Literal(exact + slack))
    return _paren(sql.SQL(" OR ").join(
        sql.SQL("jsonb_path_exists({}, {}::jsonpath, {})").format(document, sql.Literal(path), bounds)
        for path in paths))


def _comparison(node: Comparison, root: Root, document: sql.Composable, columns: Columns) -> _Node:
    if isinstance(node.left, Field) and isinstance(node.right, Literal):
        field, literal, field_left = node.left, node.right, True
    elif isinstance(node.right, Field) and isinstance(node.left, Literal):
        field, literal, field_left = node.right, node.left, False
    else:
        return _UNKNOWN
    if field.root not in _OWN_ROOTS[root]:
        return _UNKNOWN
    values = _field_values(field, document)
    if values is None:
        return _UNKNOWN
    op = node.op
    if literal.kind is Kind.STRING and op != "$regex":
        text = str(literal.value)
        if "\x00" in text:  # PostgreSQL text cannot hold it; the evaluator decides
            return _UNKNOWN
        column = columns.get(values.column) if values.column is not None else None
        if column is not None and op == "$eq" and text:  # the indexed column: a missing value is NULL, never ""
            found: sql.Composable = sql.SQL("coalesce({} = {}, FALSE)").format(column, sql.Literal(text))
        else:
            found = _loose(document, values, _exists(document, values, _string_test(op, text, field_left)))
        if values.exact:
            return _Node(found, sql.SQL("NOT {}").format(found), True)
        return _Node(found, _TRUE, False)
    if literal.kind is Kind.NUMBER and op in COMPARISONS and isinstance(literal.value, int | float):
        if op == "$ne":  # true wherever some value is not the number or is no number
            return _Node(_exists(document, values, None, values.paths + values.typed), _TRUE, False)
        if values.scalar is not None:  # an id or idShort: a string the evaluator casts; no index to gain
            return _Node(_exists(document, values, None), _TRUE, False)
        return _Node(_number_test(document, values, op, literal.value, field_left), _TRUE, False)
    if op == "$regex":
        if not field_left:
            return _UNKNOWN  # the pattern is the field's value
        return _Node(_loose(document, values, _exists(document, values, None)), _TRUE, False)
    # another literal type: true only where the field has a value ("" never equals its lexical form)
    return _Node(_exists(document, values, None, values.paths + values.typed), _TRUE, False)


# ----------------------------------------------------------------- expressions
def _node(node: Expression, root: Root, document: sql.Composable, columns: Columns) -> _Node:
    if isinstance(node, Constant):
        return _Node(_TRUE, _FALSE, True) if node.value else _Node(_FALSE, _TRUE, True)
    if isinstance(node, Comparison):
        return _comparison(node, root, document, columns)
    if isinstance(node, Not):
        child = _node(node.child, root, document, columns)
        return _Node(child.false, child.true, child.exact)
    children = [_node(child, root, document, columns) for child in node.children]
    trues = sql.SQL(" AND ").join(_paren(child.true) for child in children)
    if isinstance(node, Match):  # the same list item: the evaluator checks the bindings
        return _Node(trues, _TRUE, False)
    falses = sql.SQL(" OR ").join(_paren(child.false) for child in children)
    exact = all(child.exact for child in children)
    if isinstance(node, Logical) and node.op == "$or":
        return _Node(sql.SQL(" OR ").join(_paren(child.true) for child in children),
                     sql.SQL(" AND ").join(_paren(child.false) for child in children), exact)
    return _Node(trues, falses, exact)


def compile_where(query: Query, root: Root, document: sql.Composable, columns: Columns | None = None) -> Compiled:
    """The predicate over ``document`` (an SQL expression of type jsonb) for a query of the
    repository or registry ``root``; call ``plan.check_roots`` first. ``columns``: indexed
    columns of the table holding a field's value (``id``, ``idShort``, ``globalAssetId``,
    ``semanticFirstKey``: the first semanticId key's value; a descriptor's ``id``, ``assetKind``,
    ``assetType``), which ``$eq`` uses instead."""
    compiled = _node(query.condition, root, document, columns or {})
    return Compiled(compiled.true, compiled.exact)
