"""The fixed children of shells, submodels and elements, as OPC 30270's types declare them.

A ``Slot`` is one child an I4AAS type gives a node (``Category``, ``Identification`` with its
``Id``, a Property's ``Value`` and ``ValueType``, a reference object's ``Keys``...), how its
value is read from the AAS object, and, for an Object, its own slots and the object they read
(``descend``). Slots are shared constants (per value codec where the DataType differs), so a
computed node costs no per-child objects. Their BrowseNames are in the I4AAS namespace
(``Namespace.I4AAS``) unless the child is ours (``OWN``) or the base specification's (``BASE``).
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from basyx.aas import model

from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.server.opcua.datatypes import VT, Codec, codec_for, data_value, node_id, utc
from twinbridge.server.opcua.methods import argument, inputs_of, outputs_of
from twinbridge.server.opcua.nodes import DATA_VARIABLE_TYPE, HAS_COMPONENT, HAS_PROPERTY, PROPERTY_TYPE
from twinbridge.server.opcua.types import ENUMS, AASKeyDataType, AasTypes, KeyElements, KeyType, aas_key

A = ua.AttributeIds
NC = ua.NodeClass
_STRING = node_id(VT.String.value)
_LOCALIZED_TEXT = node_id(VT.LocalizedText.value)
_BYTE_STRING = node_id(VT.ByteString.value)
_ARGUMENT = node_id(ua.ObjectIds.Argument)
_BASE_DATA_TYPE = node_id(ua.ObjectIds.BaseDataType)

Subject = Any
"""What a slot reads: an element, a submodel, a shell, a Reference, an Operation, an AssetInformation."""
Read = Callable[[Subject, LiveElement | None], ua.DataValue]


class Namespace(enum.Enum):
    """Whose BrowseName a slot has: OPC 30270's, the project's, or OPC UA's base namespace."""

    I4AAS = "i4aas"
    OWN = "own"
    BASE = "base"


@dataclass(frozen=True, slots=True)
class Slot:
    """One fixed child of a node: a Variable with a value read from its subject, an Object or a Method."""

    name: str
    node_class: ua.NodeClass = NC.Variable
    reference_type: ua.NodeId = HAS_PROPERTY
    type_definition: ua.NodeId = PROPERTY_TYPE
    data_type: ua.NodeId = _STRING
    array: bool = False
    read: Read | None = None
    codec: Codec | None = None
    """Set on a Property's Value: the value clients may write and the mirror encodes itself."""
    namespace: Namespace = Namespace.I4AAS
    children: tuple[Slot, ...] = ()
    """An Object's own slots (a Method's are its arguments)."""
    descend: Callable[[Subject], Subject] | None = None
    """An Object's subject, from its parent's (a Reference from its element...)."""


def _text(value: object) -> ua.DataValue:
    return ua.DataValue(ua.Variant(None if value is None else str(value), VT.String))


def _string_slot(name: str, read: Callable[[Subject], object], namespace: Namespace = Namespace.I4AAS) -> Slot:
    return Slot(name, read=lambda subject, _handle: _text(read(subject)), namespace=namespace)


def _enum_slot(name: str, data_type: ua.NodeId, read: Callable[[Subject], int | None]) -> Slot:
    def value(subject: Subject, _handle: LiveElement | None) -> ua.DataValue:
        number = read(subject)
        return ua.DataValue(ua.Variant(number, VT.Int32) if number is not None else ua.Variant())
    return Slot(name, data_type=data_type, read=value)


def reference_keys(reference: model.Reference | None) -> list[str]:
    if reference is None:
        return []
    return [f"({key.type.name if hasattr(key.type, 'name') else key.type}){key.value}" for key in reference.key]


def reference_text(reference: model.Reference | None) -> str | None:
    """A reference as one string: the key value when there is one key, else ``(Type)value, ...``."""
    if reference is None or not reference.key:
        return None
    keys = list(reference.key)
    if len(keys) == 1:
        return str(keys[0].value)
    return ", ".join(reference_keys(reference))


_IRDI = re.compile(r"^(\d{4}-[0-9A-Z]+#\d{2}-[0-9A-Z]{6}|\d{4}/\d/+[0-9A-Z_]+#[0-9A-Z]{6})#\d+$")
"""ISO 29002-5 IRDIs as ECLASS (``0173-1#02-AAB381#003``) and IEC CDD (``0112/2///61360_4#AAE867#001``) write them."""


def identifier_kind(identifier: str) -> int:
    """OPC 30270's AASIdentifierTypeDataType of an id (AAS v3 dropped ``idType``): IRDI, IRI or Custom."""
    if _IRDI.match(identifier):
        return 0
    return 1 if "://" in identifier or identifier.startswith(("urn:", "http:", "https:")) else 2


_KEY_ELEMENTS = {
    model.KeyTypes.BASIC_EVENT_ELEMENT: KeyElements.Event,
    model.KeyTypes.EVENT_ELEMENT: KeyElements.Event,
    model.KeyTypes.SUBMODEL_ELEMENT_LIST: KeyElements.SubmodelElementCollection,
}
_IDENTIFIED_BY_ID = {model.KeyTypes.ASSET_ADMINISTRATION_SHELL, model.KeyTypes.SUBMODEL,
                     model.KeyTypes.CONCEPT_DESCRIPTION, model.KeyTypes.GLOBAL_REFERENCE}
_ID_KEY_TYPES = (KeyType.IRDI, KeyType.IRI, KeyType.Custom)


def key_data(reference: model.Reference) -> list[AASKeyDataType]:
    """A v3 Reference's keys as OPC 30270 keys: the key type by name, ``Local`` for a ModelReference
    (a reference into this repository), ``IdType`` from the value for ids and IdShort otherwise."""
    local = isinstance(reference, model.ModelReference)
    keys = []
    for key in reference.key:
        element = _KEY_ELEMENTS.get(key.type) or KeyElements[key.type.name.title().replace("_", "")]
        if key.type in _IDENTIFIED_BY_ID:
            id_type = _ID_KEY_TYPES[identifier_kind(str(key.value))]
        elif key.type is model.KeyTypes.FRAGMENT_REFERENCE:
            id_type = KeyType.FragmentId
        else:
            id_type = KeyType.IdShort
        keys.append(aas_key(element, local, str(key.value), id_type))
    return keys


def modeling_kind(referable: model.Referable) -> int:
    """An element's kind is its submodel's (AAS v3 moved ``kind`` to the submodel): Template 0, Instance 1."""
    node: Any = referable
    while node is not None and not isinstance(node, model.Submodel):
        node = node.parent
    return 0 if node is not None and node.kind is model.ModellingKind.TEMPLATE else 1


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _live(handle: LiveElement | None) -> tuple[Quality, datetime.datetime | None]:
    return (handle.quality, utc(handle.timestamp)) if handle is not None else (Quality.GOOD, None)


def _property_value(codec: Codec) -> Read:
    def read(element: model.Property, handle: LiveElement | None) -> ua.DataValue:
        quality, source = _live(handle)
        return data_value(codec, element.value, quality, source, _now())
    return read


def _bound(codec: Codec, name: str) -> Read:
    def read(element: model.Range, handle: LiveElement | None) -> ua.DataValue:
        quality, source = _live(handle)
        return data_value(codec, element.min if name == "Min" else element.max, quality, source, _now())
    return read


def _texts(element: model.MultiLanguageProperty, _handle: LiveElement | None) -> ua.DataValue:
    texts = [ua.LocalizedText(text, language) for language, text in (element.value or {}).items()]
    return ua.DataValue(ua.Variant(texts, VT.LocalizedText, is_array=True))


def _file(element: model.File, _handle: LiveElement | None) -> ua.DataValue:
    return ua.DataValue(ua.Variant(element.value, VT.String))


def _blob(element: model.Blob, _handle: LiveElement | None) -> ua.DataValue:
    return ua.DataValue(ua.Variant(bytes(element.value) if element.value else None, VT.ByteString))


def _keys(reference: model.Reference | None, _handle: LiveElement | None) -> ua.DataValue:
    keys = key_data(reference) if reference is not None else []
    return ua.DataValue(ua.Variant(keys, VT.ExtensionObject, is_array=True))


def _global_asset(identifier: str | None) -> model.Reference | None:
    """An Entity's ``globalAssetId`` as the Reference OPC 30270's ``Asset`` holds."""
    if not identifier:
        return None
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, identifier),))


_ID_SHORT = _string_slot("IdShort", lambda referable: referable.id_short)
_CATEGORY = _string_slot("Category", lambda referable: referable.category)
_LIST_TYPE = _string_slot("TypeValueListElement", lambda element: element.type_value_list_element.__name__,
                          Namespace.OWN)
_MLP_VALUE = Slot("Value", data_type=_LOCALIZED_TEXT, array=True, read=_texts)
_FILE_VALUE = Slot("Value", read=_file)
_MIME_TYPE = _string_slot("MimeType", lambda element: element.content_type)
_BLOB_VALUE = Slot("Value", reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE,
                   data_type=_BYTE_STRING, read=_blob, namespace=Namespace.OWN)
_BLOB_MIME_TYPE = _string_slot("MimeType", lambda element: element.content_type, Namespace.OWN)
INPUTS = Slot("InputArguments", data_type=_ARGUMENT, array=True, namespace=Namespace.BASE,
              read=lambda operation, _handle: _arguments(inputs_of(operation)))
OUTPUTS = Slot("OutputArguments", data_type=_ARGUMENT, array=True, namespace=Namespace.BASE,
               read=lambda operation, _handle: _arguments(outputs_of(operation)))
INVOKE = Slot("Invoke", node_class=NC.Method, reference_type=HAS_COMPONENT, type_definition=ua.NodeId(),
              namespace=Namespace.OWN, children=(INPUTS, OUTPUTS), descend=lambda operation: operation)


def _arguments(variables: list[model.SubmodelElement]) -> ua.DataValue:
    return ua.DataValue(ua.Variant([argument(variable) for variable in variables], VT.ExtensionObject,
                                   is_array=True))


class SlotCatalog:
    """Which slots a shell, submodel or element has, in browse order."""

    def __init__(self, types: AasTypes) -> None:
        ids = types.ids
        value_type_enum = ids["AASValueTypeDataType"]
        self._value_type_enum = value_type_enum
        self._value_type_names = ENUMS["AASValueTypeDataType"][1]
        keys = Slot("Keys", data_type=ids["AASKeyDataType"], array=True, read=_keys)

        def reference(name: str, descend: Callable[[Subject], Subject]) -> Slot:
            return Slot(name, node_class=NC.Object, reference_type=HAS_COMPONENT,
                        type_definition=ids["AASReferenceType"], children=(keys,), descend=descend)

        identification = Slot("Identification", node_class=NC.Object, reference_type=HAS_COMPONENT,
                              type_definition=ids["AASIdentifierType"], descend=lambda identifiable: identifiable,
                              children=(_string_slot("Id", lambda identifiable: identifiable.id),
                                        _enum_slot("IdType", ids["AASIdentifierTypeDataType"],
                                                   lambda identifiable: identifier_kind(identifiable.id))))
        administration = Slot("Administration", node_class=NC.Object, reference_type=HAS_COMPONENT,
                              type_definition=ids["AASAdministrativeInformationType"],
                              descend=lambda identifiable: identifiable.administration,
                              children=(_string_slot("Version", lambda info: info.version if info else None),
                                        _string_slot("Revision", lambda info: info.revision if info else None)))
        self._element_kind = _enum_slot("ModelingKind", ids["AASModelingKindDataType"], modeling_kind)
        submodel_kind = _enum_slot("ModelingKind", ids["AASModelingKindDataType"],
                                   lambda submodel: 0 if submodel.kind is model.ModellingKind.TEMPLATE else 1)
        asset = Slot("Asset", node_class=NC.Object, reference_type=HAS_COMPONENT, type_definition=ids["AASAssetType"],
                     descend=lambda shell: shell.asset_information, children=(
                         _string_slot("Category", lambda _info: None), administration_of_asset(ids),
                         Slot("Identification", node_class=NC.Object, reference_type=HAS_COMPONENT,
                              type_definition=ids["AASIdentifierType"], descend=lambda info: info, children=(
                                  _string_slot("Id", lambda info: info.global_asset_id),
                                  _enum_slot("IdType", ids["AASIdentifierTypeDataType"],
                                             lambda info: identifier_kind(info.global_asset_id or "")))),
                         _enum_slot("AssetKind", ids["AASAssetKindDataType"],
                                    lambda info: 0 if info.asset_kind is model.AssetKind.TYPE else 1)))
        self._identifiable = (_CATEGORY, administration, identification)
        self._shell = (*self._identifiable, asset)
        self._derived_from = reference("DerivedFrom", lambda shell: shell.derived_from)
        self._submodel = (*self._identifiable, submodel_kind)
        self._value_id = reference("ValueId", lambda element: element.value_id)
        self._qualifier_value_id = reference("ValueId", lambda qualifier: qualifier.value_id if qualifier else None)
        self._qualifier_type = ids["AASQualifierType"]
        self._qualifier_slots: list[Slot] = []
        self._value_slots: dict[Codec, Slot] = {}
        self._range_slots: dict[Codec, tuple[Slot, Slot, Slot]] = {}
        self._value_types: dict[Codec, Slot] = {}
        value = reference("Value", lambda element: element.value)
        first = reference("First", lambda element: element.first)
        second = reference("Second", lambda element: element.second)
        entity_asset = reference("Asset", lambda entity: _global_asset(entity.global_asset_id))
        entity_type = _enum_slot("EntityType", ids["AASEntityTypeDataType"],
                                 lambda entity: 1 if entity.entity_type is model.EntityType.SELF_MANAGED_ENTITY else 0)
        self._by_kind: dict[type, Callable[[Any], list[Slot]]] = {
            model.Property: lambda prop: [self._property_slot(codec_for(prop.value_type)),
                                          *([self._value_id] if prop.value_id is not None else []),
                                          self._value_type(codec_for(prop.value_type))],
            model.MultiLanguageProperty: lambda mlp: [_MLP_VALUE, *([self._value_id] if mlp.value_id else [])],
            model.Range: lambda bounds: list(self._range(codec_for(bounds.value_type))),
            model.File: lambda _file: [_MIME_TYPE, _FILE_VALUE],
            model.Blob: lambda _blob: [_BLOB_MIME_TYPE, _BLOB_VALUE],
            model.ReferenceElement: lambda element: [value] if element.value is not None else [],
            model.RelationshipElement: lambda _relationship: [first, second],
            model.SubmodelElementList: lambda _list: [_LIST_TYPE],
            model.Entity: lambda entity: [*([entity_asset] if entity.global_asset_id else []), entity_type],
            model.Operation: lambda _operation: [INVOKE],
        }
        """Each kind's own slots after the Referable ones, found along the class's MRO."""

    def slots(self, target: model.Referable, path: str) -> list[Slot]:
        """The fixed children of a shell, submodel or element, in browse order."""
        if isinstance(target, model.AssetAdministrationShell):
            return [_ID_SHORT, *self._shell, *([self._derived_from] if target.derived_from else [])]
        if isinstance(target, model.Submodel):
            return [_ID_SHORT, *self._submodel, *self._qualifiers(target)]
        result: list[Slot] = [_ID_SHORT] if not path.endswith("]") and target.id_short else []
        result += (_CATEGORY, self._element_kind)
        for cls in type(target).__mro__:
            own = self._by_kind.get(cls)
            if own is not None:
                result += own(target)
                break
        return [*result, *self._qualifiers(target)]

    def _qualifiers(self, target: model.Referable) -> list[Slot]:
        """One ``AASQualifierType`` object per qualifier, named by position (``Qualifier0``...):
        a qualifier's type may hold characters a NodeId of this mirror cannot."""
        count = len(target.qualifier) if isinstance(target, model.Qualifiable) else 0
        while len(self._qualifier_slots) < count:
            self._qualifier_slots.append(self._qualifier(len(self._qualifier_slots)))
        return self._qualifier_slots[:count]

    def _qualifier(self, index: int) -> Slot:
        def value(qualifier: model.Qualifier | None, _handle: LiveElement | None) -> ua.DataValue:
            if qualifier is None:
                return ua.DataValue()
            return data_value(codec_for(qualifier.value_type), qualifier.value, Quality.GOOD, None, _now())

        def value_type(qualifier: model.Qualifier | None) -> int | None:
            if qualifier is None:
                return None
            return self._value_type_names.index(codec_for(qualifier.value_type).variant_type.name)

        return Slot(f"Qualifier{index}", node_class=NC.Object, reference_type=HAS_COMPONENT,
                    type_definition=self._qualifier_type, namespace=Namespace.OWN,
                    descend=lambda qualifiable: _nth(qualifiable.qualifier, index), children=(
                        _string_slot("Type", lambda qualifier: qualifier.type if qualifier else None),
                        Slot("Value", data_type=_BASE_DATA_TYPE, read=value),
                        _enum_slot("ValueType", self._value_type_enum, value_type),
                        self._qualifier_value_id))

    def _property_slot(self, codec: Codec) -> Slot:
        slot = self._value_slots.get(codec)
        if slot is None:
            slot = self._value_slots[codec] = Slot("Value", data_type=codec.data_type,
                                                   read=_property_value(codec), codec=codec)
        return slot

    def _value_type(self, codec: Codec) -> Slot:
        """``ValueType`` as OPC 30270's enumeration of the OPC UA type the value travels in."""
        slot = self._value_types.get(codec)
        if slot is None:
            number = self._value_type_names.index(codec.variant_type.name)
            slot = self._value_types[codec] = _enum_slot("ValueType", self._value_type_enum, lambda _subject: number)
        return slot

    def _range(self, codec: Codec) -> tuple[Slot, Slot, Slot]:
        slots = self._range_slots.get(codec)
        if slots is None:
            high, low = (Slot(name, data_type=codec.data_type, read=_bound(codec, name)) for name in ("Max", "Min"))
            slots = self._range_slots[codec] = (high, low, self._value_type(codec))
        return slots


def _nth(qualifiers: Any, index: int) -> model.Qualifier | None:
    """The ``index``-th qualifier in the set's order, None once it is gone."""
    for position, qualifier in enumerate(qualifiers):
        if position == index:
            return qualifier  # type: ignore[no-any-return]
    return None


def administration_of_asset(ids: dict[str, ua.NodeId]) -> Slot:
    """An asset's ``Administration``: AAS v3's AssetInformation has none, so its values are empty."""
    return Slot("Administration", node_class=NC.Object, reference_type=HAS_COMPONENT,
                type_definition=ids["AASAdministrativeInformationType"], descend=lambda info: info, children=(
                    _string_slot("Version", lambda _info: None), _string_slot("Revision", lambda _info: None)))
