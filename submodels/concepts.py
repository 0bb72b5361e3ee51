"""Concept descriptions (IEC 61360) for every semanticId the builders emit.

An element's unit is not an attribute in AAS v3: it lives in the ConceptDescription its
semanticId points to. One description per (semanticId, unit); two different units under
one explicit semanticId are a modelling error and are reported with both places.

Browsers (BaSyx AAS Web UI) ask the repository for the ConceptDescription of every semanticId
they meet, to show a preferred name, definition and unit. ``describe_all`` therefore gives
every semanticId of the built submodels one: the template dictionary's (concept_dictionary.json,
copied from the published IDTA template files) when it has the id, else one written from the
element's idShort and value type.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterable, Iterator
from functools import lru_cache
from importlib import resources

from basyx.aas import model
from basyx.aas.adapter.json import read_aas_json_file

from twinbridge.aas import paths
from twinbridge.aas.errors import InvalidInput
from twinbridge.submodels.ids import IdScheme
from twinbridge.submodels.templates.elements import semantic

IEC61360 = "https://admin-shell.io/DataSpecificationTemplates/DataSpecificationIec61360/3"
_INTEGERS = ("xs:int", "xs:integer", "xs:long", "xs:short", "xs:unsignedInt", "xs:unsignedLong", "xs:unsignedShort")
_DATA_TYPES = {
    "xs:string": model.DataTypeIEC61360.STRING,
    "xs:boolean": model.DataTypeIEC61360.BOOLEAN,
    "xs:date": model.DataTypeIEC61360.DATE,
    "xs:dateTime": model.DataTypeIEC61360.TIMESTAMP,
    "xs:anyURI": model.DataTypeIEC61360.IRI,
}


class Concepts:
    def __init__(self, ids: IdScheme) -> None:
        self._ids = ids
        self.items: dict[str, model.ConceptDescription] = {}
        self._units: dict[str, tuple[str | None, str]] = {}

    def reference(self, semantic_id: str | None, id_short: str, unit: str | None, value_type: str,
                  where: str) -> model.ExternalReference:
        """The semanticId for an element; registers the concept description that holds its unit."""
        if semantic_id is None:
            cd_id = self._ids.concept(id_short if unit is None else f"{id_short}_{unit}")
        elif unit is None:
            return semantic(semantic_id)
        else:
            cd_id = semantic_id
        known = self._units.get(cd_id)
        if known is not None:
            if known[0] != unit:
                raise InvalidInput(
                    f"{where}: semanticId {cd_id!r} has unit {unit!r} here but {known[0]!r} at {known[1]}"
                )
            return semantic(cd_id)
        self._units[cd_id] = (unit, where)
        self.items[cd_id] = self._describe(cd_id, id_short, unit, value_type)
        return semantic(cd_id)

    def describe_all(self, submodels: Iterable[model.Submodel]) -> None:
        """Register a description for every semanticId in ``submodels`` that has none yet."""
        dictionary = template_dictionary()
        for semantic_id, element in _semantic_ids(submodels):
            if semantic_id in self.items:
                continue
            known = dictionary.get(semantic_id)
            if known is not None:
                self.items[semantic_id] = copy.deepcopy(known)
                continue
            self.items[semantic_id] = self._describe(semantic_id, element.id_short or "Item", None,
                                                     _type_name(element))

    @staticmethod
    def _describe(cd_id: str, name: str, unit: str | None, value_type: str | None) -> model.ConceptDescription:
        """``value_type`` None: a concept of a collection, entity or relationship (no data type)."""
        data_type: model.DataTypeIEC61360 | None
        if value_type is None:
            data_type = None
        elif value_type in _DATA_TYPES:
            data_type = _DATA_TYPES[value_type]
        elif value_type in _INTEGERS:
            data_type = model.DataTypeIEC61360.INTEGER_MEASURE if unit else model.DataTypeIEC61360.INTEGER_COUNT
        else:
            data_type = model.DataTypeIEC61360.REAL_MEASURE if unit else model.DataTypeIEC61360.REAL_COUNT
        content = model.DataSpecificationIEC61360(
            model.PreferredNameTypeIEC61360({"en": name}), data_type=data_type, unit=unit or None,
            definition=model.DefinitionTypeIEC61360({"en": f"{name} in {unit}" if unit else name}),
        )
        spec = model.EmbeddedDataSpecification(semantic(IEC61360), content)
        return model.ConceptDescription(cd_id, id_short=_id_short(name), embedded_data_specifications=[spec])


def undescribed(submodels: Iterable[model.Submodel], known: Iterable[str]) -> list[model.ConceptDescription]:
    """Descriptions for the semanticIds in ``submodels`` that ``known`` (the repository's
    ConceptDescription ids) lacks: for elements the server adds while it runs (the RUL monitor's
    estimates, a filter's cleaned sibling), which the plant builder never saw."""
    have = set(known)
    dictionary = template_dictionary()
    added: list[model.ConceptDescription] = []
    for semantic_id, element in _semantic_ids(submodels):
        if semantic_id in have:
            continue
        have.add(semantic_id)
        added.append(copy.deepcopy(dictionary[semantic_id]) if semantic_id in dictionary
                     else Concepts._describe(semantic_id, element.id_short or "Item", None, _type_name(element)))
    return added


def _type_name(element: model.Referable) -> str | None:
    value_type = getattr(element, "value_type", None)
    return model.datatypes.XSD_TYPE_NAMES.get(value_type, "xs:string") if value_type else None


def _id_short(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return cleaned if cleaned[:1].isalpha() else f"C_{cleaned}"


@lru_cache(maxsize=1)
def template_dictionary() -> dict[str, model.ConceptDescription]:
    """The concept descriptions of the IDTA templates, by id (read once, strictly: it is our file)."""
    text = resources.files("twinbridge.submodels.templates").joinpath("concept_dictionary.json").read_text("utf-8")
    document = {"conceptDescriptions": json.loads(text)["conceptDescriptions"]}
    store = read_aas_json_file(io.StringIO(json.dumps(document)), failsafe=False)
    return {cd.id: cd for cd in store if isinstance(cd, model.ConceptDescription)}


def _semantic_ids(submodels: Iterable[model.Submodel]) -> Iterator[tuple[str, model.Referable]]:
    """(semanticId, the first element carrying it) for submodels, their elements and list items."""
    stack: list[model.Referable] = list(submodels)
    while stack:
        node = stack.pop()
        for ref in (getattr(node, "semantic_id", None), getattr(node, "semantic_id_list_element", None)):
            if isinstance(ref, model.ExternalReference) and ref.key:
                yield ref.key[0].value, node
        stack.extend(reversed(list(paths.children(node))))
