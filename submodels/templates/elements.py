"""Small constructors shared by the template builders, with value conversion that names the culprit.

References to the same semanticId are shared objects: a plant of 100,000 properties would
otherwise allocate 100,000 identical reference tuples.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from basyx.aas import model

from twinbridge.aas.errors import InvalidInput

XSD_TYPES: dict[str, type] = dict(model.datatypes.XSD_TYPE_CLASSES)


@lru_cache(maxsize=4096)
def semantic(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


@lru_cache(maxsize=4096)
def concept_ref(cd_id: str) -> model.ModelReference[model.ConceptDescription]:
    return model.ModelReference((model.Key(model.KeyTypes.CONCEPT_DESCRIPTION, cd_id),), model.ConceptDescription)


def xsd_type(name: str, where: str) -> type:
    try:
        return XSD_TYPES[name]
    except KeyError:
        raise InvalidInput(f"{where}: unknown value type {name!r}") from None


def typed(value: Any, value_type: type, where: str) -> Any:
    """The description's value as ``value_type``; InvalidInput says which element and why."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            if value_type is not bool:
                raise ValueError("a boolean is not of this type")
            return value
        return model.datatypes.from_xsd(str(value), value_type)  # type: ignore[arg-type]
    except (TypeError, ValueError, ArithmeticError) as error:
        name = model.datatypes.XSD_TYPE_NAMES.get(value_type, value_type.__name__)
        raise InvalidInput(f"{where}: {value!r} is not a valid {name} ({error})") from None


def english(value: str) -> model.MultiLanguageTextType:
    return model.MultiLanguageTextType({"en": value})


def prop(id_short: str, value_type: type, value: Any, semantic_id: model.Reference | None,
         description: str | None = None) -> model.Property:
    return model.Property(id_short, value_type, value, semantic_id=semantic_id,
                          description=english(description) if description else None)


def text(id_short: str, value: str, semantic_id: str) -> model.MultiLanguageProperty:
    return model.MultiLanguageProperty(id_short, english(value), semantic_id=semantic(semantic_id))


def collection(id_short: str | None, semantic_id: str, elements: Iterable[model.SubmodelElement]
               ) -> model.SubmodelElementCollection:
    return model.SubmodelElementCollection(id_short, list(elements), semantic_id=semantic(semantic_id))


def submodel(identifier: str, id_short: str, semantic_id: str, elements: Iterable[model.SubmodelElement],
             version: tuple[str, str] | None = None) -> model.Submodel:
    administration = model.AdministrativeInformation(version=version[0], revision=version[1]) if version else None
    return model.Submodel(identifier, list(elements), id_short=id_short, semantic_id=semantic(semantic_id),
                          administration=administration, kind=model.ModellingKind.INSTANCE)
