"""The submodel list of a twin with a bounded cache (``?cache=N``): pages and filters in SQL.

The in-memory ``Catalog`` indexes every submodel; with most of them in the database only, the
store answers ``GET /submodels`` instead (``DocumentSource.page``): keyset paging on the
first-insertion order (the cursor is the last item's position, so a page after a creation or
deletion neither skips nor repeats an item that stayed, as in memory) and the ``idShort`` and
``semanticId`` filters over indexed columns. A page costs the same at any repository size
(BENCHMARKS.md). Submodels that memory holds are taken from memory (newer than the row while a
change is on its way to the store); the others are not cached, so listing does not push the
hot submodels out, and a full rendering of one is made from its stored JSON without decoding it
into objects (``stored_json``: the decode is ~85% of rendering a 10-element submodel).

``stored_json`` equals the rendering of the decoded objects because the stored document is the
twin's own encoding of them (``documents.encode``, the same JSON ``to_jsonable`` gives), and an
element log of Property values (what value writes leave) is applied to the JSON as the lexical
strings a decode and encode would give (``values.lexical_of_logged``); any other log (a
structural change, another element kind's value) is replayed on the decoded objects instead.
One difference: basyx keeps a valueList's pairs in a set, so the decoded rendering may list
them in another order than stored; the stored JSON keeps the order the client sent.
"""

from __future__ import annotations

from typing import Any

import orjson
from basyx.aas import model

from twinbridge.aas import documents, tree
from twinbridge.aas.errors import StorageError
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.resident import ResidentTable
from twinbridge.aas.store import StoredDocument
from twinbridge.aas.store.base import ElementOp, LoggedChange, SubmodelFilter
from twinbridge.aas.values import lexical_of_logged
from twinbridge.server.api.bodies import Extent, Level, shape


class StoredSubmodels:
    """``GET /submodels`` over the store (see the module docstring)."""

    def __init__(self, table: ResidentTable[model.Submodel]) -> None:
        self._table = table

    def page(self, where: SubmodelFilter, after: int, limit: int | None,
             ) -> tuple[list[model.Submodel | StoredDocument], int | None]:
        """The matching submodels after position ``after``, at most ``limit``, and the position
        to continue after when more remain: objects where memory has them (or a log must be
        replayed), else the stored documents (``as_submodel`` decodes one)."""
        table = self._table
        rows, more = table.source.page(ObjectKind.SUBMODEL, where, after, limit)
        found: list[model.Submodel | StoredDocument] = []
        for _, stored in rows:
            identifier = stored.identifier
            if table.resident(identifier):
                found.append(table[identifier])
            elif not table.gone(identifier):
                found.append(stored)
        return found, rows[-1][0] if more and rows else None


def stored_json(stored: StoredDocument, level: Level, extent: Extent) -> bytes:
    """The Part 2 rendering of a stored submodel: from its JSON with its logged Property values
    applied, or (another log) from the objects it decodes into (see the module docstring)."""
    data = orjson.loads(stored.body)
    if not _values_applied(data, stored.log):
        data = documents.to_jsonable(as_submodel(stored))
    return orjson.dumps(shape(data, level, extent))


def _values_applied(data: dict[str, Any], log: list[LoggedChange]) -> bool:
    """Applies ``log`` to the JSON ``data`` if it holds only Property values (in place; False,
    with ``data`` partly changed, when it holds anything else)."""
    for change in log:
        if change.op is not ElementOp.VALUE or change.body is None:
            return False
        element = _element_data(data, change.path)
        if element is None or element.get("modelType") != "Property":
            return False
        try:
            lexical = lexical_of_logged(change.body, str(element.get("valueType")))
        except (KeyError, ValueError, TypeError):
            return False  # the objects' replay names what is wrong
        if lexical is None:
            element.pop("value", None)
        else:
            element["value"] = lexical
    return True


def _element_data(data: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The JSON of the element at ``path`` (no list items) in a submodel's JSON, if there."""
    if "[" in path:
        return None
    found: Any = data
    for id_short in path.split("."):
        children = found.get(_CHILDREN.get(str(found.get("modelType")), ""))
        if not isinstance(children, list):
            return None
        found = next((child for child in children if isinstance(child, dict) and child.get("idShort") == id_short),
                     None)
        if found is None:
            return None
    return found  # type: ignore[no-any-return]


_CHILDREN = {"Submodel": "submodelElements", "SubmodelElementCollection": "value", "Entity": "statements",
             "AnnotatedRelationshipElement": "annotations"}


def stored_element(stored: StoredDocument, path: str) -> model.SubmodelElement | None:
    """The element at ``path`` decoded alone from a stored submodel's JSON (one Property: 0.15 to
    0.55 ms, a 10-element submodel 1.8 ms, measured at load 2 to 8), when the stored structure is current:
    no structural change in its element log (value rows change no element's type). None when
    that does not hold, the path names a list item, or nothing is at ``path``: the caller reads
    the submodel in, which answers those cases as for any submodel."""
    if any(change.op is not ElementOp.VALUE for change in stored.log):
        return None
    data = _element_data(orjson.loads(stored.body), path)
    if data is None:
        return None
    try:
        return documents.element_of(data)
    except (TypeError, ValueError, KeyError, AttributeError):
        return None  # not a valid element: reading the submodel in names the fault


def as_submodel(stored: model.Submodel | StoredDocument) -> model.Submodel:
    if isinstance(stored, model.Submodel):
        return stored
    obj = documents.decode(stored.body)
    if not isinstance(obj, model.Submodel):
        raise StorageError(f"the store holds a {type(obj).__name__} as submodel {stored.identifier!r}")
    if stored.log:
        tree.replay(obj, stored.log)
    return obj
