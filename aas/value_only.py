"""The Part 2 "ValueOnly" form of submodel elements, in both directions.

Clients that only care about values (dashboards, PLC gateways) read and write this compact
JSON instead of the full metamodel. Reading maps every element kind to its value shape;
writing (``apply_value``) first builds and checks every new value of the whole subtree and
only then assigns them, so a bad part leaves the model untouched and the error names its path.

Shapes (IDTA-01002 Part 2 v3.0, "ValueOnly serialization"): Property → JSON typed by valueType;
MultiLanguageProperty → ``[{"en": "..."}]``; Range → ``{"min", "max"}``; File/Blob →
``{"contentType", "value"}`` (Blob base64, only with blob values); ReferenceElement → Reference;
RelationshipElement → ``{"first", "second"}`` (+ ``annotations`` for annotated ones, a list of
``{idShort: value}``); Entity → ``{"statements": {...}, "entityType", "globalAssetId",
"specificAssetIds": [{name: value}]}``; collection → object by idShort; list → array;
BasicEventElement → ``{"observed": Reference}``. Operations and Capabilities have no value.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import math
from collections.abc import Callable, Iterable
from typing import Any

from basyx.aas import model

from twinbridge.aas import compat_basyx, files
from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import InvalidInput
from twinbridge.aas.values import BlobValue, ElementValue, FileValue, RangeValue

Assignment = Callable[[], None]

_NO_VALUE = (model.Operation, model.Capability)
_FLOAT_MAX = 3.4028234663852886e38
_ENTITY_TYPES = {kind.name.title().replace("_", ""): kind for kind in model.EntityType}


def has_value(element: model.SubmodelElement) -> bool:
    """Operations and Capabilities have no ValueOnly form."""
    return not isinstance(element, _NO_VALUE)


# ------------------------------------------------------------------ reading
def to_value(element: model.SubmodelElement, *, with_blob: bool = False, depth: int | None = None) -> Any:
    """The ValueOnly JSON of one element.

    ``depth`` limits how many container levels are expanded (``level=core`` is 1: the
    element's own children, whose containers are shown empty); None expands everything.
    """
    if isinstance(element, model.Property):
        return property_value(element.value)
    if isinstance(element, model.SubmodelElementCollection):
        if depth == 0:
            return {}
        return _named_values(element.value, with_blob, _deeper(depth))
    if isinstance(element, model.SubmodelElementList):
        if depth == 0:
            return []
        return [to_value(item, with_blob=with_blob, depth=_deeper(depth)) for item in element.value]
    if isinstance(element, model.MultiLanguageProperty):
        return [{language: text} for language, text in (element.value or {}).items()]
    if isinstance(element, model.Range):
        out: dict[str, Any] = {}
        if element.min is not None:
            out["min"] = property_value(element.min)
        if element.max is not None:
            out["max"] = property_value(element.max)
        return out
    if isinstance(element, model.File):
        return _drop_none({"contentType": element.content_type, "value": element.value})
    if isinstance(element, model.Blob):
        blob = {"contentType": element.content_type}
        if with_blob and element.value is not None:
            blob["value"] = base64.b64encode(element.value).decode("ascii")
        return blob
    if isinstance(element, model.ReferenceElement):
        return to_jsonable(element.value) if element.value is not None else None
    if isinstance(element, model.AnnotatedRelationshipElement):
        relation = _relationship(element)
        relation["annotations"] = [
            {annotation.id_short: to_value(annotation, with_blob=with_blob, depth=_deeper(depth))}
            for annotation in element.annotation
        ]
        return relation
    if isinstance(element, model.RelationshipElement):
        return _relationship(element)
    if isinstance(element, model.Entity):
        return _entity(element, with_blob, depth)
    if isinstance(element, model.BasicEventElement):
        return {"observed": to_jsonable(element.observed)}
    raise InvalidInput(f"a {type(element).__name__} has no value")


def submodel_value(submodel: model.Submodel, *, with_blob: bool = False, depth: int | None = None) -> dict[str, Any]:
    """The ValueOnly JSON of a whole submodel: its elements by idShort (valueless ones omitted)."""
    return _named_values(submodel.submodel_element, with_blob, depth)


def property_value(value: Any) -> Any:
    """A Python xs value as JSON: numbers and booleans native, everything else its lexical form."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else model.datatypes.xsd_repr(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    return model.datatypes.xsd_repr(value)


def _deeper(depth: int | None) -> int | None:
    return None if depth is None else depth - 1


def _named_values(elements: Iterable[model.SubmodelElement], with_blob: bool, depth: int | None) -> dict[str, Any]:
    return {
        element.id_short: to_value(element, with_blob=with_blob, depth=depth)
        for element in elements
        if has_value(element) and element.id_short is not None
    }


def _relationship(element: model.RelationshipElement) -> dict[str, Any]:
    return {"first": to_jsonable(element.first), "second": to_jsonable(element.second)}


def _entity(element: model.Entity, with_blob: bool, depth: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "statements": {} if depth == 0 else _named_values(element.statement, with_blob, _deeper(depth)),
    }
    if element.entity_type is not None:
        out["entityType"] = _entity_type_name(element.entity_type)
    if element.global_asset_id is not None:
        out["globalAssetId"] = element.global_asset_id
    if element.specific_asset_id:
        out["specificAssetIds"] = [{item.name: item.value} for item in element.specific_asset_id]
    return out


def _entity_type_name(kind: model.EntityType) -> str:
    for name, value in _ENTITY_TYPES.items():
        if value is kind:
            return name
    raise InvalidInput(f"unknown entity type {kind!r}")


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


# ------------------------------------------------------------------ writing
def apply_value(element: model.SubmodelElement, data: Any, where: str | None = None) -> None:
    """Set an element's value from ValueOnly JSON; checks everything before changing anything.

    Raises InvalidInput naming the idShortPath of the offending part (``where`` is the
    element's own path, used as the prefix of those names).
    """
    assignments: list[Assignment] = []
    _plan(element, data, where or element.id_short or "the element", assignments)
    for assign in assignments:
        assign()


def parse_value(element: model.SubmodelElement, data: Any, where: str) -> ElementValue:
    """The ValueOnly JSON of a single-valued element (Property, Range, MultiLanguageProperty,
    ReferenceElement, File, Blob) as the Python value ``Twin.write_value`` takes.

    Same rules as ``apply_value``: a Range bound that is absent stays, null clears it; a Blob
    without ``value`` keeps its bytes. Raises InvalidInput naming ``where``.
    """
    if isinstance(element, model.Property):
        return parse_property_value(data, element.value_type, where)  # type: ignore[no-any-return]
    if isinstance(element, model.Range):
        fields = _object(data, where, allowed=("min", "max"))
        bounds = {name: parse_property_value(fields[name], element.value_type, f"{where}.{name}")
                  for name in ("min", "max") if name in fields}
        return RangeValue(bounds.get("min", element.min), bounds.get("max", element.max))
    if isinstance(element, model.MultiLanguageProperty):
        return _parse_lang_strings(data, where)
    if isinstance(element, model.ReferenceElement):
        return None if data is None else _parse_reference(data, where)
    if isinstance(element, model.File):
        return _parse_file(data, where)
    if isinstance(element, model.Blob):
        return _parse_blob(element, data, where)
    raise InvalidInput(f"{where}: a {type(element).__name__} has no single value")


def apply_submodel_value(submodel: model.Submodel, data: Any) -> None:
    """PATCH a submodel's ``$value``: an object of element values by idShort."""
    assignments: list[Assignment] = []
    _plan_named(submodel.submodel_element, data, "", "the submodel", assignments)
    for assign in assignments:
        assign()


def _plan(element: model.SubmodelElement, data: Any, where: str, out: list[Assignment]) -> None:
    if isinstance(element, model.Property):
        typed = parse_property_value(data, element.value_type, where)
        out.append(lambda: setattr(element, "value", typed))
    elif isinstance(element, model.SubmodelElementCollection):
        _plan_named(element.value, data, where + ".", where, out)
    elif isinstance(element, model.SubmodelElementList):
        _plan_list(element, data, where, out)
    elif isinstance(element, model.MultiLanguageProperty):
        texts = _parse_lang_strings(data, where)
        out.append(lambda: setattr(element, "value", texts))
    elif isinstance(element, model.Range):
        _plan_range(element, data, where, out)
    elif isinstance(element, model.File):
        _plan_file(element, data, where, out)
    elif isinstance(element, model.Blob):
        _plan_blob(element, data, where, out)
    elif isinstance(element, model.ReferenceElement):
        reference = None if data is None else _parse_reference(data, where)
        out.append(lambda: setattr(element, "value", reference))
    elif isinstance(element, model.RelationshipElement):
        _plan_relationship(element, data, where, out)
    elif isinstance(element, model.Entity):
        _plan_entity(element, data, where, out)
    elif isinstance(element, model.BasicEventElement):
        fields = _object(data, where, required=("observed",), allowed=("observed",))
        observed = _parse_reference(fields["observed"], where + ".observed")
        if not isinstance(observed, model.ModelReference):
            raise InvalidInput(f"{where}.observed: a BasicEventElement observes a ModelReference")
        out.append(lambda: setattr(element, "observed", observed))
    else:
        raise InvalidInput(f"{where}: a {type(element).__name__} has no value to set")


def _plan_named(elements: Any, data: Any, prefix: str, where: str, out: list[Assignment]) -> None:
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: expected a JSON object of values by idShort, got {_json_type(data)}")
    for id_short, value in data.items():
        child = elements.get("id_short", id_short)
        if child is None:
            raise InvalidInput(f"{where}: no element {id_short!r}")
        _plan(child, value, prefix + id_short, out)


def _plan_list(element: model.SubmodelElementList, data: Any, where: str, out: list[Assignment]) -> None:
    items = list(element.value)
    if not isinstance(data, list):
        raise InvalidInput(f"{where}: expected a JSON array, got {_json_type(data)}")
    if len(data) != len(items):
        raise InvalidInput(
            f"{where}: the list has {len(items)} items but {len(data)} values were given "
            "(ValueOnly cannot add or remove items; use POST/DELETE on the elements)"
        )
    for index, (item, value) in enumerate(zip(items, data, strict=True)):
        _plan(item, value, f"{where}[{index}]", out)


def _plan_range(element: model.Range, data: Any, where: str, out: list[Assignment]) -> None:
    fields = _object(data, where, allowed=("min", "max"))
    # An absent bound stays as it is; null clears it.
    low = parse_property_value(fields["min"], element.value_type, where + ".min") if "min" in fields else element.min
    high = parse_property_value(fields["max"], element.value_type, where + ".max") if "max" in fields else element.max
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"{where}: min {low!r} is greater than max {high!r}")

    def assign() -> None:
        element.min, element.max = low, high

    out.append(assign)


def _plan_file(element: model.File, data: Any, where: str, out: list[Assignment]) -> None:
    file = _parse_file(data, where)

    def assign() -> None:
        element.content_type, element.value = file.content_type, file.value

    out.append(assign)


def _parse_file(data: Any, where: str) -> FileValue:
    """A File's ValueOnly JSON: ``value`` absent or null clears the reference."""
    fields = _object(data, where, required=("contentType",), allowed=("contentType", "value"))
    content_type, value = fields["contentType"], fields.get("value")
    if not isinstance(content_type, str) or (value is not None and not isinstance(value, str)):
        raise InvalidInput(f"{where}: contentType and value of a File are strings")
    if value is not None:
        files.check_reference(value, where)
    _check(lambda: model.File(None, content_type=content_type, value=value), where)
    return FileValue(content_type, value)


def _plan_blob(element: model.Blob, data: Any, where: str, out: list[Assignment]) -> None:
    blob = _parse_blob(element, data, where)

    def assign() -> None:
        element.content_type, element.value = blob.content_type, blob.value

    out.append(assign)


def _parse_blob(element: model.Blob, data: Any, where: str) -> BlobValue:
    """A Blob's ValueOnly JSON; without ``value`` the stored bytes stay."""
    fields = _object(data, where, required=("contentType",), allowed=("contentType", "value"))
    content_type = fields["contentType"]
    if not isinstance(content_type, str):
        raise InvalidInput(f"{where}.contentType: expected a string, got {_json_type(content_type)}")
    payload = element.value
    if "value" in fields:
        raw = fields["value"]
        if raw is not None and not isinstance(raw, str):
            raise InvalidInput(f"{where}.value: a Blob value is a base64 string, got {_json_type(raw)}")
        try:
            payload = None if raw is None else base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{where}.value: not valid base64") from None
    _check(lambda: model.Blob(None, content_type=content_type), where)
    return BlobValue(content_type, payload)


def _plan_relationship(element: model.RelationshipElement, data: Any, where: str, out: list[Assignment]) -> None:
    annotated = isinstance(element, model.AnnotatedRelationshipElement)
    allowed = ("first", "second", "annotations") if annotated else ("first", "second")
    fields = _object(data, where, required=("first", "second"), allowed=allowed)
    first = _parse_reference(fields["first"], where + ".first")
    second = _parse_reference(fields["second"], where + ".second")
    if isinstance(element, model.AnnotatedRelationshipElement) and "annotations" in fields:
        annotations = fields["annotations"]
        if not isinstance(annotations, list):
            raise InvalidInput(f"{where}.annotations: expected an array of {{idShort: value}} objects")
        for annotation in annotations:
            _plan_named(element.annotation, annotation, where + ".", where + ".annotations", out)

    def assign() -> None:
        element.first, element.second = first, second

    out.append(assign)


def _plan_entity(element: model.Entity, data: Any, where: str, out: list[Assignment]) -> None:
    fields = _object(data, where, allowed=("statements", "entityType", "globalAssetId", "specificAssetIds"))
    if "statements" in fields:
        _plan_named(element.statement, fields["statements"], where + ".", where + ".statements", out)
    kind = element.entity_type
    if "entityType" in fields:
        kind = _ENTITY_TYPES.get(fields["entityType"])  # type: ignore[arg-type]
        if kind is None:
            raise InvalidInput(f"{where}.entityType: must be one of {sorted(_ENTITY_TYPES)}")
    global_asset_id = fields.get("globalAssetId", element.global_asset_id)
    if global_asset_id is not None and not isinstance(global_asset_id, str):
        raise InvalidInput(f"{where}.globalAssetId: expected a string, got {_json_type(global_asset_id)}")
    specific = list(element.specific_asset_id)
    if "specificAssetIds" in fields:
        parsed = _parse_specific_asset_ids(fields["specificAssetIds"], where + ".specificAssetIds")
        # ValueOnly carries only name and value: an unchanged pair keeps its externalSubjectId and semantics.
        kept = {(item.name, item.value): item for item in element.specific_asset_id}
        specific = [kept.get((item.name, item.value), item) for item in parsed]
    _check(lambda: model.Entity(None, kind, global_asset_id=global_asset_id, specific_asset_id=specific), where)

    def assign() -> None:
        element.entity_type = None  # lift AASd-014 while the three related fields change together
        element.global_asset_id = global_asset_id
        element.specific_asset_id = specific
        element.entity_type = kind

    out.append(assign)


# ------------------------------------------------------------- leaf parsers
def parse_property_value(data: Any, value_type: Any, where: str) -> Any:
    """A JSON value (native or the xs lexical string) as the Python type of ``value_type``.

    Range checks come from basyx' xs types (an xs:short of 70000 is refused); a JSON boolean
    is never accepted as a number nor a number as a boolean.
    """
    if data is None:
        return None
    type_name = model.datatypes.XSD_TYPE_NAMES.get(value_type, str(value_type))
    try:
        if isinstance(data, str):
            if value_type is str:
                return data
            return model.datatypes.from_xsd(data, value_type)
        if isinstance(data, bool):
            if value_type is not bool:
                raise TypeError("a boolean")
            return data
        if isinstance(data, (int, float)):
            if value_type is bool or (isinstance(data, float) and issubclass(value_type, int)):
                raise TypeError(f"the number {data!r}")
            if not issubclass(value_type, (int, float, decimal.Decimal)):
                raise TypeError(f"the number {data!r}")
            if value_type is decimal.Decimal:
                return decimal.Decimal(str(data))
            if issubclass(value_type, float):
                if value_type is model.datatypes.Float and abs(data) > _FLOAT_MAX:
                    raise ValueError(f"{data!r} is beyond the xs:float range")
                return value_type(data)
            return model.datatypes.trivial_cast(data, value_type)
        raise TypeError(_json_type(data))
    except (TypeError, ValueError, decimal.InvalidOperation) as error:
        raise InvalidInput(f"{where}: not a valid {type_name} value ({error})") from None


def _parse_lang_strings(data: Any, where: str) -> model.MultiLanguageTextType | None:
    if data is None:
        return None
    if not isinstance(data, list):
        raise InvalidInput(f"{where}: expected an array of {{language: text}} objects, got {_json_type(data)}")
    texts: dict[str, str] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise InvalidInput(f"{where}[{index}]: expected one {{language: text}} pair")
        ((language, text),) = entry.items()
        if not isinstance(text, str):
            raise InvalidInput(f"{where}[{index}]: the text for {language!r} must be a string")
        if language in texts:
            raise InvalidInput(f"{where}[{index}]: language {language!r} given twice")
        texts[language] = text
    if not texts:
        return None
    try:
        return model.MultiLanguageTextType(texts)
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidInput(f"{where}: {error}") from None


def _parse_reference(data: Any, where: str) -> model.Reference:
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: expected a Reference object, got {_json_type(data)}")
    try:
        return compat_basyx.construct_reference(data)
    except (KeyError, ValueError, TypeError, model.AASConstraintViolation) as error:
        raise InvalidInput(f"{where}: not a valid Reference ({error})") from None


def _parse_specific_asset_ids(data: Any, where: str) -> list[model.SpecificAssetId]:
    if not isinstance(data, list):
        raise InvalidInput(f"{where}: expected an array of {{name: value}} objects, got {_json_type(data)}")
    out: list[model.SpecificAssetId] = []
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise InvalidInput(f"{where}[{index}]: expected one {{name: value}} pair")
        ((name, value),) = entry.items()
        if not isinstance(value, str):
            raise InvalidInput(f"{where}[{index}]: the value of {name!r} must be a string")
        out.append(_specific_asset_id(name, value, f"{where}[{index}]"))
    return out


def _specific_asset_id(name: str, value: str, where: str) -> model.SpecificAssetId:
    specific: model.SpecificAssetId = _check(lambda: model.SpecificAssetId(name, value), where)
    return specific


def _object(data: Any, where: str, *, required: tuple[str, ...] = (), allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: expected a JSON object, got {_json_type(data)}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(f"{where}: unexpected field(s) {unknown}; allowed are {list(allowed)}")
    missing = [name for name in required if name not in data]
    if missing:
        raise InvalidInput(f"{where}: missing field(s) {missing}")
    return data


def _check(build: Callable[[], Any], where: str) -> Any:
    """Let basyx' own constructors judge the metamodel constraints of a candidate value."""
    try:
        return build()
    except (model.AASConstraintViolation, ValueError, TypeError, KeyError) as error:
        raise InvalidInput(f"{where}: {error}") from None


def _json_type(data: Any) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, (int, float)):
        return "a number"
    if isinstance(data, str):
        return "a string"
    if isinstance(data, list):
        return "an array"
    return "an object"
