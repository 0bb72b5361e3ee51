"""The fixed children of shells, submodels and elements, and how each reads its value.

A ``Slot`` is one child that OPC 30270's types give a node (``IdShort``, ``Value``,
``ValueType``, ``Min``/``Max``, a reference object's ``Keys``...). Slots are shared constants
(per value codec where the DataType differs), so a computed node costs no per-child objects.
"""

from __future__ import annotations

import datetime
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

A = ua.AttributeIds
NC = ua.NodeClass
_STRING = node_id(VT.String.value)
_LOCALIZED_TEXT = node_id(VT.LocalizedText.value)
_BYTE_STRING = node_id(VT.ByteString.value)
_ARGUMENT = node_id(ua.ObjectIds.Argument)

Subject = Any
"""What a slot reads: an element, a submodel, a shell, a Reference or an Operation."""
Read = Callable[[Subject, LiveElement | None], ua.DataValue]


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


def _text(value: object) -> ua.DataValue:
    return ua.DataValue(ua.Variant(None if value is None else str(value), VT.String))


def _string_slot(name: str, read: Callable[[Subject], object]) -> Slot:
    return Slot(name, read=lambda subject, _handle: _text(read(subject)))


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


def _keys(reference: model.Reference, _handle: LiveElement | None) -> ua.DataValue:
    return ua.DataValue(ua.Variant(reference_keys(reference), VT.String, is_array=True))


_ID_SHORT = _string_slot("IdShort", lambda referable: referable.id_short)
_CATEGORY = _string_slot("Category", lambda referable: referable.category)
_SEMANTIC_ID = _string_slot("SemanticId", lambda referable: reference_text(referable.semantic_id))
_ID = _string_slot("Id", lambda identifiable: identifiable.id)
_KIND = _string_slot("Kind", lambda submodel: submodel.kind.name if submodel.kind is not None else None)
_SHELL_ASSET = _string_slot("GlobalAssetId", lambda shell: shell.asset_information.global_asset_id)
_ASSET_KIND = _string_slot("AssetKind", lambda shell: shell.asset_information.asset_kind.name)
_CONTENT_TYPE = _string_slot("ContentType", lambda element: element.content_type)
_LIST_TYPE = _string_slot("TypeValueListElement", lambda element: element.type_value_list_element.__name__)
_ENTITY_TYPE = _string_slot("EntityType", lambda entity: entity.entity_type.name if entity.entity_type else None)
_ENTITY_ASSET = _string_slot("GlobalAssetId", lambda entity: entity.global_asset_id)
_MLP_VALUE = Slot("Value", reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE,
                  data_type=_LOCALIZED_TEXT, array=True, read=_texts)
_FILE_VALUE = Slot("Value", reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE, read=_file)
_BLOB_VALUE = Slot("Value", reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE,
                   data_type=_BYTE_STRING, read=_blob)
_KEYS = Slot("Keys", array=True, read=_keys)
_TYPE = _string_slot("Type", lambda reference: type(reference).__name__)
REFERENCE_SLOTS = (_KEYS, _TYPE)
INVOKE = Slot("Invoke", node_class=NC.Method, reference_type=HAS_COMPONENT, type_definition=ua.NodeId())


def _argument_list(variables: Callable[[model.Operation], list[model.SubmodelElement]]) -> Read:
    def read(operation: model.Operation, _handle: LiveElement | None) -> ua.DataValue:
        arguments = [argument(variable) for variable in variables(operation)]
        return ua.DataValue(ua.Variant(arguments, VT.ExtensionObject, is_array=True))
    return read


INPUTS = Slot("InputArguments", data_type=_ARGUMENT, array=True, read=_argument_list(inputs_of))
OUTPUTS = Slot("OutputArguments", data_type=_ARGUMENT, array=True, read=_argument_list(outputs_of))



class SlotCatalog:
    """Which slots a shell, submodel or element has, in browse order."""

    def __init__(self, reference_type_definition: ua.NodeId) -> None:
        value, first, second = (Slot(name, node_class=NC.Object, reference_type=HAS_COMPONENT,
                                     type_definition=reference_type_definition)
                                for name in ("Value", "First", "Second"))
        self._value_slots: dict[Codec, Slot] = {}
        self._range_slots: dict[Codec, tuple[Slot, Slot, Slot]] = {}
        self._value_types: dict[Codec, Slot] = {}
        self._by_kind: dict[type, Callable[[Any], list[Slot]]] = {
            model.Submodel: lambda _submodel: [_ID, _KIND],
            model.Property: lambda prop: [self._property_slot(codec_for(prop.value_type)),
                                          self._value_type(codec_for(prop.value_type))],
            model.MultiLanguageProperty: lambda _mlp: [_MLP_VALUE],
            model.Range: lambda bounds: list(self._range(codec_for(bounds.value_type))),
            model.File: lambda _file: [_FILE_VALUE, _CONTENT_TYPE],
            model.Blob: lambda _blob: [_BLOB_VALUE, _CONTENT_TYPE],
            model.ReferenceElement: lambda element: [value] if element.value is not None else [],
            model.RelationshipElement: lambda _relationship: [first, second],
            model.SubmodelElementList: lambda _list: [_LIST_TYPE],
            model.Entity: lambda _entity: [_ENTITY_TYPE, _ENTITY_ASSET],
            model.Operation: lambda _operation: [INVOKE],
        }
        """Each kind's own slots after the Referable ones, found along the class's MRO."""

    def slots(self, target: model.Referable, path: str) -> list[Slot]:
        """The fixed children of a shell, submodel or element, in browse order."""
        if isinstance(target, model.AssetAdministrationShell):
            return [_ID_SHORT, *([_CATEGORY] if target.category else []), _ID, _SHELL_ASSET, _ASSET_KIND]
        result: list[Slot] = []
        if not path.endswith("]") and target.id_short:
            result.append(_ID_SHORT)
        if target.category:
            result.append(_CATEGORY)
        if getattr(target, "semantic_id", None) is not None:
            result.append(_SEMANTIC_ID)
        for cls in type(target).__mro__:
            own = self._by_kind.get(cls)
            if own is not None:
                result += own(target)
                break
        return result

    def _property_slot(self, codec: Codec) -> Slot:
        slot = self._value_slots.get(codec)
        if slot is None:
            slot = self._value_slots[codec] = Slot(
                "Value", reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE,
                data_type=codec.data_type, read=_property_value(codec), codec=codec)
        return slot

    def _value_type(self, codec: Codec) -> Slot:
        slot = self._value_types.get(codec)
        if slot is None:
            slot = self._value_types[codec] = _string_slot("ValueType", lambda _subject: codec.xsd)
        return slot

    def _range(self, codec: Codec) -> tuple[Slot, Slot, Slot]:
        slots = self._range_slots.get(codec)
        if slots is None:
            low, high = (Slot(name, reference_type=HAS_COMPONENT, type_definition=DATA_VARIABLE_TYPE,
                              data_type=codec.data_type, read=_bound(codec, name)) for name in ("Min", "Max"))
            slots = self._range_slots[codec] = (low, high, self._value_type(codec))
        return slots


def reference_of(element: Subject, name: str) -> model.Reference | None:
    if name == "Value":
        return element.value  # type: ignore[no-any-return]
    return element.first if name == "First" else element.second  # type: ignore[no-any-return]
