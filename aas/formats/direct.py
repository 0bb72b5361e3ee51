"""A direct decoder for the submodels the twin stores itself: AAS JSON (parsed) → basyx objects
through basyx's constructors, without basyx's generic decoder around them.

Why: a restart decodes every stored document. Through ``jsontree.build`` and basyx's
``_construct_*`` functions, the 1,000-machine plant's 22,401 documents took ~24 s CPU of a
29 s restart: every element is built with ``id_short=None`` and amended attribute by attribute
(each setter validating again), every child is type-checked with ``str(parent)`` (basyx's
``__repr__`` walks the idShort path to the root: 295,048 calls, ~20% of the decode), and every
semanticId is a fresh Reference of fresh Keys although a plant repeats a few hundred.

Exactness first: this decoder knows the attributes of the element kinds plant documents use
(Property, MultiLanguageProperty, Range, File, ReferenceElement, RelationshipElement, Entity,
SubmodelElementCollection, SubmodelElementList inside a Submodel) and passes them to the same
basyx constructors. Anything else (another kind, a key it does not know, such as qualifiers,
extensions or embedded data specifications, a value of an unexpected type, a constructor
refusing) raises ``Unhandled`` and the caller decodes the whole document with the generic
decoder, which then decides exactly as before (including failsafe skipping and its logs).

References are immutable in basyx (``Key`` and ``Reference`` refuse attribute writes), so equal
ones are shared: built once by basyx's own constructor (``compat_basyx.construct_reference``)
and kept in a bounded table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from basyx.aas import model

from twinbridge.aas import compat_basyx


class Unhandled(Exception):
    """The document holds something this decoder does not reproduce exactly: decode it generically."""


_XSD = model.datatypes.XSD_TYPE_CLASSES
_from_xsd = model.datatypes.from_xsd

_REFERENCES: dict[tuple[object, ...], model.Reference] = {}
_REFERENCES_MAX = 50_000
"""Distinct references kept for sharing; the 1,000-machine plant has ~2,000 distinct semanticIds
and ~30,000 distinct relationship ends (``first``/``second``). Past the bound the table starts over."""

# --- Leaves without their constructor ------------------------------------------------------------
#
# A Property's constructor costs ~3/4 of its decode: it builds qualifier and extension
# NamespaceSets and a supplementalSemanticId list that the empty-container descriptors of
# ``compat_basyx`` then drop again, and it validates every attribute through its setter. The
# plain leaves (no category: its setter checks)
# are assembled instead: their attributes set in the order a basyx-built probe has them (the same
# order keeps CPython's shared-key instance layout, so memory is unchanged), with the checks the
# setters would make (the idShort rule, the value cast). If a basyx release lays them out
# differently, the layout below is None and the constructor is used.

_BASE_LAYOUT = {"embedded_data_specifications", "parent", "_semantic_id", "_id_short", "_display_name",
                "_category", "_description"}


def _layout(probe: object, own: set[str]) -> tuple[str, ...] | None:
    names = tuple(vars(probe))
    return names if set(names) == _BASE_LAYOUT | own else None


_PROPERTY_LAYOUT = _layout(model.Property("probe", model.datatypes.String), {"value_type", "_value", "value_id"})
_RELATIONSHIP_LAYOUT = _layout(model.RelationshipElement("probe", None, None), {"first", "second"})  # type: ignore[arg-type]
_MLP_LAYOUT = _layout(model.MultiLanguageProperty("probe"), {"_value", "value_id"})
_COLLECTION_LAYOUT = _layout(model.SubmodelElementCollection("probe"), {"_twinbridge_namespace_element_sets", "value"})
if _COLLECTION_LAYOUT is not None:  # the container made last, by its NamespaceSet (which registers itself first)
    _COLLECTION_LAYOUT = (_COLLECTION_LAYOUT[:-2] if _COLLECTION_LAYOUT[-2:] == (
        "_twinbridge_namespace_element_sets", "value") else None)
_VALID_ID_SHORTS: set[str] = set()
_E = TypeVar("_E", bound=model.SubmodelElement)


def _plain(arguments: dict[str, Any]) -> bool:
    return "category" not in arguments


def _assemble(cls: type[_E], layout: tuple[str, ...], arguments: dict[str, Any]) -> _E:
    """An element of ``cls`` as its constructor would leave it (``parent`` None, no data specifications)."""
    id_short = arguments["id_short"]
    if id_short is not None and id_short not in _VALID_ID_SHORTS:
        model.Referable.validate_id_short(id_short)
        if len(_VALID_ID_SHORTS) < _REFERENCES_MAX:
            _VALID_ID_SHORTS.add(id_short)
    values = {"embedded_data_specifications": [], "parent": None, "_semantic_id": arguments.get("semantic_id"),
              "_id_short": id_short, "_display_name": arguments.get("display_name"), "_category": None,
              "_description": arguments.get("description"), "value_id": arguments.get("value_id"), **arguments}
    obj = object.__new__(cls)
    for name in layout:
        setattr(obj, name, values[name])
    return obj


_COMMON = frozenset(("modelType", "idShort", "category", "displayName", "description", "semanticId"))
"""supplementalSemanticIds are not among them: basyx's decoder adds them after the semanticId and so
refuses them without one (AASd-118), its constructors accept them in either order."""


def _reference(data: object) -> model.Reference:
    """The shared Reference for ``data``. The look-up reads only what basyx's constructor reads
    (``type``, each key's ``type`` and ``value``; it ignores other members); a reference with a
    ``referredSemanticId`` is not shared."""
    try:
        token = (data["type"], *[(key["type"], key["value"]) for key in data["keys"]])  # type: ignore[index]
        reference = _REFERENCES.get(token)
    except (TypeError, KeyError):  # not a dict, a member missing, an unhashable member
        raise Unhandled from None
    if reference is None or "referredSemanticId" in data:  # type: ignore[operator]
        if not isinstance(data, dict) or "referredSemanticId" in data:
            raise Unhandled
        reference = compat_basyx.construct_reference(data)
        if len(_REFERENCES) >= _REFERENCES_MAX:
            _REFERENCES.clear()
        _REFERENCES[token] = reference
    return reference


def _lang_strings(data: object) -> dict[str, str]:
    if not isinstance(data, list):
        raise Unhandled
    strings: dict[str, str] = {}
    for item in data:
        if not isinstance(item, dict):
            raise Unhandled
        language, text = item.get("language"), item.get("text")
        if not isinstance(language, str) or not isinstance(text, str):
            raise Unhandled
        strings[language] = text
    return strings


def _string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        if key in data:
            raise Unhandled  # basyx's _get_ts refuses an explicit null here
        return None
    if not isinstance(value, str):
        raise Unhandled
    return value


def _common(data: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The constructor arguments every element kind shares (Referable, HasSemantics)."""
    for key in data:
        if key not in allowed:
            raise Unhandled
    arguments: dict[str, Any] = {"id_short": _string(data, "idShort")}
    if "category" in data:
        arguments["category"] = _string(data, "category")
    if "displayName" in data:
        arguments["display_name"] = model.MultiLanguageNameType(_lang_strings(data["displayName"]))
    if "description" in data:
        arguments["description"] = model.MultiLanguageTextType(_lang_strings(data["description"]))
    if "semanticId" in data:
        arguments["semantic_id"] = _reference(data["semanticId"])
    return arguments


def _value_type(data: dict[str, Any], key: str = "valueType") -> type:
    name = data.get(key)
    if not isinstance(name, str) or name not in _XSD:
        raise Unhandled
    return _XSD[name]


def _typed_value(data: dict[str, Any], key: str, value_type: type) -> object:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unhandled
    return _from_xsd(value, value_type)


_PROPERTY = _COMMON | {"valueType", "value", "valueId"}


def _property(data: dict[str, Any]) -> model.Property:
    arguments = _common(data, _PROPERTY)
    value_type = _value_type(data)
    if "valueId" in data:
        arguments["value_id"] = _reference(data["valueId"])
    value = _typed_value(data, "value", value_type)
    if _PROPERTY_LAYOUT is not None and _plain(arguments):
        arguments["value_type"] = value_type
        arguments["_value"] = None if value is None else model.datatypes.trivial_cast(value, value_type)
        return _assemble(model.Property, _PROPERTY_LAYOUT, arguments)
    return model.Property(value_type=value_type, value=value, **arguments)


_MLP = _COMMON | {"value", "valueId"}


def _multi_language_property(data: dict[str, Any]) -> model.MultiLanguageProperty:
    arguments = _common(data, _MLP)
    if data.get("value") is not None:
        arguments["value"] = model.MultiLanguageTextType(_lang_strings(data["value"]))
    if "valueId" in data:
        arguments["value_id"] = _reference(data["valueId"])
    if _MLP_LAYOUT is not None and _plain(arguments):
        arguments["_value"] = arguments.pop("value", None)
        return _assemble(model.MultiLanguageProperty, _MLP_LAYOUT, arguments)
    return model.MultiLanguageProperty(**arguments)


_RANGE = _COMMON | {"valueType", "min", "max"}


def _range(data: dict[str, Any]) -> model.Range:
    arguments = _common(data, _RANGE)
    value_type = _value_type(data)
    return model.Range(value_type=value_type, min=_typed_value(data, "min", value_type),
                       max=_typed_value(data, "max", value_type), **arguments)


_FILE = _COMMON | {"contentType", "value"}


def _file(data: dict[str, Any]) -> model.File:
    arguments = _common(data, _FILE)
    return model.File(content_type=_string(data, "contentType"), value=_optional_string(data, "value"), **arguments)


def _optional_string(data: dict[str, Any], key: str) -> str | None:
    """basyx reads ``value`` of a File only when not null (an explicit null is no defect there)."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise Unhandled
    return value


_REFERENCE_ELEMENT = _COMMON | {"value"}


def _reference_element(data: dict[str, Any]) -> model.ReferenceElement:
    arguments = _common(data, _REFERENCE_ELEMENT)
    value = data.get("value")
    return model.ReferenceElement(value=_reference(value) if value is not None else None, **arguments)


_RELATIONSHIP = _COMMON | {"first", "second"}


def _relationship(data: dict[str, Any]) -> model.RelationshipElement:
    arguments = _common(data, _RELATIONSHIP)
    first, second = data.get("first"), data.get("second")
    if ("first" in data and first is None) or ("second" in data and second is None):
        raise Unhandled
    arguments["first"] = _reference(first) if first is not None else None
    arguments["second"] = _reference(second) if second is not None else None
    if _RELATIONSHIP_LAYOUT is not None and _plain(arguments):
        return _assemble(model.RelationshipElement, _RELATIONSHIP_LAYOUT, arguments)
    return model.RelationshipElement(**arguments)


_ENTITY_TYPES = {"CoManagedEntity": model.EntityType.CO_MANAGED_ENTITY,
                 "SelfManagedEntity": model.EntityType.SELF_MANAGED_ENTITY}
_ENTITY = _COMMON | {"entityType", "globalAssetId", "statements"}


def _entity(data: dict[str, Any]) -> model.Entity:
    arguments = _common(data, _ENTITY)
    entity_type = _ENTITY_TYPES.get(data.get("entityType"))  # type: ignore[arg-type]
    if entity_type is None and "entityType" in data:
        raise Unhandled
    return model.Entity(entity_type=entity_type, global_asset_id=_string(data, "globalAssetId"),
                        statement=_elements(data, "statements", model.SubmodelElement), **arguments)


_COLLECTION = _COMMON | {"value"}


def _collection(data: dict[str, Any]) -> model.SubmodelElementCollection:
    arguments = _common(data, _COLLECTION)
    children = _elements(data, "value", model.SubmodelElement)
    if _COLLECTION_LAYOUT is not None and _plain(arguments):
        collection = _assemble(model.SubmodelElementCollection, _COLLECTION_LAYOUT, arguments)
        collection.value = model.NamespaceSet(collection, [("id_short", True)], children)  # as its constructor
        return collection
    return model.SubmodelElementCollection(value=children, **arguments)


_LIST = _COMMON | {"typeValueListElement", "orderRelevant", "semanticIdListElement", "valueTypeListElement",
                   "value"}


def _list(data: dict[str, Any]) -> model.SubmodelElementList[Any]:
    arguments = _common(data, _LIST)
    element_type = _LIST_ELEMENT_TYPES.get(data.get("typeValueListElement"))  # type: ignore[arg-type]
    if element_type is None:
        raise Unhandled
    order_relevant = data.get("orderRelevant", True)
    if not isinstance(order_relevant, bool):
        raise Unhandled
    semantic = data.get("semanticIdListElement")
    if semantic is None and "semanticIdListElement" in data:
        raise Unhandled
    return model.SubmodelElementList(
        type_value_list_element=element_type, order_relevant=order_relevant,
        semantic_id_list_element=_reference(semantic) if semantic is not None else None,
        value_type_list_element=_value_type(data, "valueTypeListElement") if "valueTypeListElement" in data else None,
        value=_elements(data, "value", element_type), **arguments)


def _elements(data: dict[str, Any], key: str, expected: type) -> list[model.SubmodelElement]:
    items = data.get(key)
    if items is None:
        if key in data:
            raise Unhandled
        return []
    if not isinstance(items, list):
        raise Unhandled
    elements = [_element(item) for item in items]
    for element in elements:
        if not isinstance(element, expected):
            raise Unhandled  # basyx would skip it (failsafe) with a log: let it
    return elements


_ELEMENTS: dict[str, Callable[[dict[str, Any]], model.SubmodelElement]] = {
    "Property": _property,
    "MultiLanguageProperty": _multi_language_property,
    "Range": _range,
    "File": _file,
    "ReferenceElement": _reference_element,
    "RelationshipElement": _relationship,
    "Entity": _entity,
    "SubmodelElementCollection": _collection,
    "SubmodelElementList": _list,
}

_LIST_ELEMENT_TYPES: dict[str, type] = {
    "Property": model.Property,
    "MultiLanguageProperty": model.MultiLanguageProperty,
    "Range": model.Range,
    "File": model.File,
    "ReferenceElement": model.ReferenceElement,
    "RelationshipElement": model.RelationshipElement,
    "Entity": model.Entity,
    "SubmodelElementCollection": model.SubmodelElementCollection,
    "SubmodelElementList": model.SubmodelElementList,
}


def _element(data: object) -> model.SubmodelElement:
    if not isinstance(data, dict):
        raise Unhandled
    build = _ELEMENTS.get(data.get("modelType"))  # type: ignore[arg-type]
    if build is None:
        raise Unhandled
    return build(data)


def element(data: dict[str, Any]) -> model.SubmodelElement:
    """One submodel element from its parsed AAS JSON (a value write to a submodel a bounded
    cache does not hold, an element log's bodies); raises ``Unhandled`` as ``submodel`` does."""
    try:
        return _element(data)
    except (TypeError, ValueError, KeyError, model.AASConstraintViolation):
        raise Unhandled from None


_SUBMODEL = _COMMON | {"id", "administration", "submodelElements"}


def submodel(data: dict[str, Any]) -> model.Submodel:
    """A Submodel from its parsed AAS JSON; raises ``Unhandled`` for anything not reproduced exactly."""
    if data.get("modelType") != "Submodel":
        raise Unhandled
    arguments = _common(data, _SUBMODEL)
    identifier = _string(data, "id")
    if identifier is None:
        raise Unhandled
    if "administration" in data:
        arguments["administration"] = _administration(data["administration"])
    try:
        return model.Submodel(id_=identifier, submodel_element=_elements(data, "submodelElements",
                                                                         model.SubmodelElement), **arguments)
    except (TypeError, ValueError, KeyError, model.AASConstraintViolation):
        raise Unhandled from None


def _administration(data: object) -> model.AdministrativeInformation:
    if not isinstance(data, dict) or not data.keys() <= {"version", "revision"}:
        raise Unhandled
    version, revision = _string(data, "version"), _string(data, "revision")
    if version is None and revision is not None:
        raise Unhandled  # basyx logs and drops the revision here
    return model.AdministrativeInformation(version=version, revision=revision)
