"""The value of each element kind that has one: read it, check a client's candidate, assign it,
and write it to (and read it back from) the store's element log.

A value write is O(1) in the size of its submodel because each kind here touches only its own
element. Kinds are registered by basyx class (``register_value_kind``), so a new kind is one
class and one registration, not another branch in the twin.

Python forms (what ``Twin.write_value`` accepts after coercion, and what ``ValueChanged.value``
carries): Property → its xs value (``float``, ``int``, ``str``, ``datetime``...); Range →
``RangeValue(min, max)``; MultiLanguageProperty → ``MultiLanguageTextType`` (a ``{lang: text}``
mapping is accepted); ReferenceElement → ``Reference``; File → ``FileValue(content_type,
value)``; Blob → ``BlobValue(content_type, value)``. ``None`` clears where the metamodel allows.

Log form: small JSON that round-trips exactly (xs values as their lexical form, so a Decimal or
a date survives; a Blob as base64).
"""

from __future__ import annotations

import base64
import binascii
import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import orjson
from basyx.aas import model

from twinbridge.aas import compat_basyx, files, limits
from twinbridge.aas.documents import encode, to_jsonable
from twinbridge.aas.errors import NotWritable, WriteRejected

PropertyValue = model.ValueDataType
"""A Property's value in basyx' Python xs types."""


@dataclass(frozen=True, slots=True)
class RangeValue:
    min: PropertyValue | None
    max: PropertyValue | None


@dataclass(frozen=True, slots=True)
class FileValue:
    content_type: str | None  # None only when read from an element that has none; writes need one
    value: str | None


@dataclass(frozen=True, slots=True)
class BlobValue:
    content_type: str | None  # None only when read from an element that has none; writes need one
    value: bytes | None


ElementValue = (
    PropertyValue | RangeValue | model.MultiLanguageTextType | model.Reference | FileValue | BlobValue | None
)
"""The value of any element kind with a single value (see the module docstring)."""


class ValueKind(Protocol):
    """How one element kind holds its value. ``coerce`` must not mutate; ``assign`` must not fail."""

    def read(self, element: model.SubmodelElement) -> ElementValue: ...

    def coerce(self, element: model.SubmodelElement, value: object, where: str) -> ElementValue:
        """The candidate in the kind's Python form; raises WriteRejected naming ``where``."""
        ...

    def assign(self, element: model.SubmodelElement, value: ElementValue) -> None: ...

    def dump(self, element: model.SubmodelElement) -> bytes:
        """The element's current value in log form."""
        ...

    def load(self, element: model.SubmodelElement, body: bytes) -> None:
        """Assign a value from its log form (replay at start-up)."""
        ...


def coerce_xs(value: object, value_type: type, where: str) -> PropertyValue:
    """A client's value as ``value_type``: typed JSON/OPC UA values where the conversion is
    lossless (1500 → 1500.0, 3.0 → 3), lexical strings parsed as xs values."""
    if isinstance(value, str):  # what the exports could not write back out is refused here
        limits.check_text(value, where)
        if not issubclass(value_type, str):
            limits.check_number_text(value, where, limits.current())
    try:
        if isinstance(value, str) and not issubclass(value_type, str):
            return model.datatypes.from_xsd(value, value_type)  # type: ignore[arg-type]
        if isinstance(value, bool) != (value_type is bool):
            raise TypeError(f"{value!r} is not a valid {model.datatypes.XSD_TYPE_NAMES[value_type]}")
        if isinstance(value, int) and issubclass(value_type, float):
            return value_type(value)  # type: ignore[no-any-return]
        if isinstance(value, float) and issubclass(value_type, int) and value.is_integer():
            return value_type(int(value))  # type: ignore[no-any-return]
        return model.datatypes.trivial_cast(value, value_type)  # type: ignore[arg-type]
    except (TypeError, ValueError, decimal.InvalidOperation, OverflowError) as error:
        raise WriteRejected(f"{where}: {error}") from None


def _lexical(value: PropertyValue | None) -> object:
    """An xs value in log form: JSON-native where that is exact (the common float/int/bool/str
    values, ~10x cheaper than ``xsd_repr``), else its xs lexical string."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**64:  # orjson's integer range
        return value
    if isinstance(value, float) and math.isfinite(value):
        return float(value)
    return model.datatypes.xsd_repr(value)


def _from_lexical(data: object, value_type: type) -> PropertyValue | None:
    if data is None:
        return None
    if isinstance(data, str):
        return model.datatypes.from_xsd(data, value_type)  # type: ignore[arg-type]
    if isinstance(data, (bool, int, float)):
        return value_type(data)  # type: ignore[no-any-return]
    raise ValueError(f"expected an xs value, got {data!r}")


def lexical_of_logged(body: bytes, value_type: str) -> str | None:
    """A Property's value in log form as the xs lexical string its AAS JSON carries (what a
    decode, replay and encode would give), for a ``valueType`` such as ``xs:int``. ValueError
    when the body does not hold a value of that type; KeyError for an unknown type."""
    value = _from_lexical(orjson.loads(body), model.datatypes.XSD_TYPE_CLASSES[value_type])
    return None if value is None else model.datatypes.xsd_repr(value)


class _PropertyKind:
    def read(self, element: model.SubmodelElement) -> ElementValue:
        assert isinstance(element, model.Property)
        return element.value

    def coerce(self, element: model.SubmodelElement, value: object, where: str) -> ElementValue:
        assert isinstance(element, model.Property)
        return None if value is None else coerce_xs(value, element.value_type, where)

    def assign(self, element: model.SubmodelElement, value: ElementValue) -> None:
        assert isinstance(element, model.Property)
        element.value = value  # type: ignore[assignment]

    def dump(self, element: model.SubmodelElement) -> bytes:
        assert isinstance(element, model.Property)
        return orjson.dumps(_lexical(element.value))

    def load(self, element: model.SubmodelElement, body: bytes) -> None:
        assert isinstance(element, model.Property)
        element.value = _from_lexical(orjson.loads(body), element.value_type)


class _RangeKind:
    def read(self, element: model.SubmodelElement) -> ElementValue:
        assert isinstance(element, model.Range)
        return RangeValue(element.min, element.max)

    def coerce(self, element: model.SubmodelElement, value: object, where: str) -> ElementValue:
        assert isinstance(element, model.Range)
        if isinstance(value, RangeValue):
            low, high = value.min, value.max
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            low, high = value
        else:
            raise WriteRejected(f"{where}: a Range value is RangeValue(min, max) or a (min, max) pair")
        low = None if low is None else coerce_xs(low, element.value_type, where + ".min")
        high = None if high is None else coerce_xs(high, element.value_type, where + ".max")
        if low is not None and high is not None and low > high:  # type: ignore[operator]
            raise WriteRejected(f"{where}: min {low!r} is greater than max {high!r}")
        return RangeValue(low, high)

    def assign(self, element: model.SubmodelElement, value: ElementValue) -> None:
        assert isinstance(element, model.Range) and isinstance(value, RangeValue)
        element.min, element.max = value.min, value.max

    def dump(self, element: model.SubmodelElement) -> bytes:
        assert isinstance(element, model.Range)
        return orjson.dumps([_lexical(element.min), _lexical(element.max)])

    def load(self, element: model.SubmodelElement, body: bytes) -> None:
        assert isinstance(element, model.Range)
        low, high = orjson.loads(body)
        element.min = _from_lexical(low, element.value_type)
        element.max = _from_lexical(high, element.value_type)


class _MultiLanguageKind:
    def read(self, element: model.SubmodelElement) -> ElementValue:
        assert isinstance(element, model.MultiLanguageProperty)
        return element.value

    def coerce(self, element: model.SubmodelElement, value: object, where: str) -> ElementValue:
        if value is None or isinstance(value, model.MultiLanguageTextType):
            return value
        if not isinstance(value, Mapping) or not value:
            raise WriteRejected(f"{where}: a MultiLanguageProperty value is a non-empty {{language: text}} mapping")
        try:
            return model.MultiLanguageTextType(dict(value))
        except (ValueError, KeyError, TypeError, model.AASConstraintViolation) as error:
            raise WriteRejected(f"{where}: {error}") from None

    def assign(self, element: model.SubmodelElement, value: ElementValue) -> None:
        assert isinstance(element, model.MultiLanguageProperty)
        element.value = value  # type: ignore[assignment]

    def dump(self, element: model.SubmodelElement) -> bytes:
        assert isinstance(element, model.MultiLanguageProperty)
        return orjson.dumps(None if element.value is None else dict(element.value))

    def load(self, element: model.SubmodelElement, body: bytes) -> None:
        assert isinstance(element, model.MultiLanguageProperty)
        texts = orjson.loads(body)
        element.value = None if texts is None else model.MultiLanguageTextType(texts)


class _ReferenceKind:
    def read(self, element: model.SubmodelElement) -> ElementValue:
        assert isinstance(element, model.ReferenceElement)
        return element.value

    def coerce(self, element: model.SubmodelElement, value: object, where: str) -> ElementValue:
        if value is None or isinstance(value, model.Reference):
            return value
        raise WriteRejected(f"{where}: a ReferenceElement value is a Reference, not {type(value).__name__}")

    def assign(self, element: model.SubmodelElement, value: ElementValue) -> None:
        assert isinstance(element, model.ReferenceElement)
        element.value = value  # type: ignore[assignment]

    def dump(self, element: model.SubmodelElement) -> bytes:
        assert isinstance(element, model.ReferenceElement)
        return orjson.dumps(None if element.value is None else to_jsonable(element.value))

    def load(self, element: model.SubmodelElement, body: bytes) -> None:
        assert isinstance(element, model.ReferenceElement)
        data = orjson.loads(body)
        element.value = None if data is None else compat_basyx.construct_reference(data)


def _content_type(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise WriteRejected(f"{where}: the contentType must be a non-empty string")
    limits.check_media_type(value, where)
    return value


class _FileKind:
    def read(self, element: model.SubmodelElement) -> ElementValue:
        assert isinstance(element, model.File)
        return FileValue(element.content_type, element.value)

    def coerce(self, element: model.SubmodelElement, value: object, where: str) -> ElementValue:
        if not isinstance(value, FileValue):
            raise WriteRejected(f"{where}: a File value is FileValue(content_type, value)")
        _content_type(value.content_type, where)
        if value.value is not None:
            files.check_reference(value.value, where)
        try:
            model.File(None, content_type=value.content_type, value=value.value)
        except (ValueError, TypeError, model.AASConstraintViolation) as error:
            raise WriteRejected(f"{where}: {error}") from None
        return value

    def assign(self, element: model.SubmodelElement, value: ElementValue) -> None:
        assert isinstance(element, model.File) and isinstance(value, FileValue)
        element.content_type, element.value = value.content_type, value.value

    def dump(self, element: model.SubmodelElement) -> bytes:
        assert isinstance(element, model.File)
        return orjson.dumps([element.content_type, element.value])

    def load(self, element: model.SubmodelElement, body: bytes) -> None:
        assert isinstance(element, model.File)
        element.content_type, element.value = orjson.loads(body)


class _BlobKind:
    def read(self, element: model.SubmodelElement) -> ElementValue:
        assert isinstance(element, model.Blob)
        return BlobValue(element.content_type, element.value)

    def coerce(self, element: model.SubmodelElement, value: object, where: str) -> ElementValue:
        if not isinstance(value, BlobValue):
            raise WriteRejected(f"{where}: a Blob value is BlobValue(content_type, value)")
        _content_type(value.content_type, where)
        if value.value is not None and not isinstance(value.value, bytes):
            raise WriteRejected(f"{where}: a Blob's value is bytes")
        try:
            model.Blob(None, content_type=value.content_type)
        except (ValueError, TypeError, model.AASConstraintViolation) as error:
            raise WriteRejected(f"{where}: {error}") from None
        return value

    def assign(self, element: model.SubmodelElement, value: ElementValue) -> None:
        assert isinstance(element, model.Blob) and isinstance(value, BlobValue)
        element.content_type, element.value = value.content_type, value.value

    def dump(self, element: model.SubmodelElement) -> bytes:
        assert isinstance(element, model.Blob)
        data = None if element.value is None else base64.b64encode(element.value).decode("ascii")
        return orjson.dumps([element.content_type, data])

    def load(self, element: model.SubmodelElement, body: bytes) -> None:
        assert isinstance(element, model.Blob)
        content_type, data = orjson.loads(body)
        try:
            payload = None if data is None else base64.b64decode(data, validate=True)
        except binascii.Error as error:
            raise ValueError(f"the logged Blob value is not base64: {error}") from None
        element.content_type, element.value = content_type, payload


_REGISTRY: dict[type[model.SubmodelElement], ValueKind] = {
    model.Property: _PropertyKind(),
    model.Range: _RangeKind(),
    model.MultiLanguageProperty: _MultiLanguageKind(),
    model.ReferenceElement: _ReferenceKind(),
    model.File: _FileKind(),
    model.Blob: _BlobKind(),
}


def register_value_kind(cls: type[model.SubmodelElement], kind: ValueKind) -> None:
    """Teach the twin the value of another element class (looked up by exact class)."""
    _REGISTRY[cls] = kind


def find_value_kind(element: model.SubmodelElement) -> ValueKind | None:
    return _REGISTRY.get(type(element))


def value_kind(element: model.SubmodelElement, where: str) -> ValueKind:
    """The element's value kind; containers and relationships have none (NotWritable)."""
    kind = _REGISTRY.get(type(element))
    if kind is None:
        raise NotWritable(
            f"{where} is a {type(element).__name__}, which has no single value; "
            "write its elements, or PUT/PATCH the element itself"
        )
    return kind


def differs_only_in_value(old: model.SubmodelElement, new: model.SubmodelElement, kind: ValueKind) -> bool:
    """Compare the AAS JSON of both with the new value put into the old one for the comparison
    (O(size of the element); the old element is restored before anyone else can see it)."""
    kept = kind.read(old)
    try:
        kind.assign(old, kind.read(new))  # a different valueType may refuse the value: not a value write
        return encode(old) == encode(new)
    except (TypeError, ValueError, AttributeError, model.AASConstraintViolation):
        return False
    finally:
        kind.assign(old, kept)
