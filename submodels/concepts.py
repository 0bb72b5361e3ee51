"""Concept descriptions that carry units (IEC 61360) for the plant's properties and signals.

An element's unit is not an attribute in AAS v3: it lives in the ConceptDescription its
semanticId points to. One description per (semanticId, unit); two different units under
one explicit semanticId are a modelling error and are reported with both places.
"""

from __future__ import annotations

from basyx.aas import model

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

    @staticmethod
    def _describe(cd_id: str, name: str, unit: str | None, value_type: str) -> model.ConceptDescription:
        if value_type in _DATA_TYPES:
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


def _id_short(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    return cleaned if cleaned[:1].isalpha() else f"C_{cleaned}"
