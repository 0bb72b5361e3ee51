"""xs: value types ↔ OPC UA built-in types, in both directions.

A codec turns a basyx value into what goes into a ``ua.Variant`` (raising ``Unrepresentable``
when the OPC UA type cannot hold it, e.g. an xs:integer beyond Int64) and turns a client's
Variant value back into the element's Python type for the twin's write path. Types without
an OPC UA counterpart (xs:date, xs:duration, the Gregorian pieces...) travel as their
lexical xs: form in a String, so nothing is lost.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Callable
from typing import Any, cast

from asyncua import ua
from basyx.aas.model import datatypes as xs

from twinbridge.aas.quality import Quality

VT = ua.VariantType


_NODE_ID: Any = ua.NodeId  # asyncua annotates NewTypes (Int32, String...); the runtime takes plain values
_STATUS_CODE: Any = ua.StatusCode


def node_id(identifier: int | str, namespace_index: int = 0) -> ua.NodeId:
    return _NODE_ID(identifier, namespace_index)  # type: ignore[no-any-return]


def status(code: int) -> ua.StatusCode:
    return _STATUS_CODE(code)  # type: ignore[no-any-return]


class Unrepresentable(ValueError):
    """The value exists in the AAS but the OPC UA type of its node cannot carry it."""


class Codec:
    """How one xs: type maps onto one OPC UA built-in type."""

    __slots__ = ("from_ua", "python_type", "to_ua", "variant_type", "xsd")

    def __init__(self, python_type: type, variant_type: ua.VariantType,
                 to_ua: Callable[[Any], Any], from_ua: Callable[[Any], Any]) -> None:
        self.python_type = python_type
        self.xsd: str = xs.XSD_TYPE_NAMES[python_type]
        self.variant_type = variant_type
        self.to_ua = to_ua
        self.from_ua = from_ua

    @property
    def data_type(self) -> ua.NodeId:
        """The DataType NodeId of the built-in type (their ids equal the VariantType numbers)."""
        return node_id(self.variant_type.value)


_INT_RANGES: dict[ua.VariantType, tuple[int, int]] = {
    VT.SByte: (-(2**7), 2**7 - 1),
    VT.Byte: (0, 2**8 - 1),
    VT.Int16: (-(2**15), 2**15 - 1),
    VT.UInt16: (0, 2**16 - 1),
    VT.Int32: (-(2**31), 2**31 - 1),
    VT.UInt32: (0, 2**32 - 1),
    VT.Int64: (-(2**63), 2**63 - 1),
    VT.UInt64: (0, 2**64 - 1),
}
_FLOAT_MAX = 3.4028234663852886e38
_UA_MIN_DATETIME = datetime.datetime(1601, 1, 1, tzinfo=datetime.UTC)


def _integer(python_type: type, variant_type: ua.VariantType) -> Codec:
    low, high = _INT_RANGES[variant_type]

    def to_ua(value: Any) -> int:
        number = int(value)
        if not low <= number <= high:
            raise Unrepresentable(f"{number} does not fit in {variant_type.name}")
        return number

    def from_ua(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {type(value).__name__}")
        return python_type(value)

    return Codec(python_type, variant_type, to_ua, from_ua)


def _double_to_ua(value: Any) -> float:
    number = float(value)
    if math.isinf(number) and isinstance(value, decimal.Decimal) and value.is_finite():
        raise Unrepresentable(f"{value} is beyond the range of Double")
    return number


def _float_to_ua(value: Any) -> float:
    number = float(value)
    if math.isfinite(number) and abs(number) > _FLOAT_MAX:
        raise Unrepresentable(f"{number} is beyond the range of Float")
    return number


def _real(python_type: type) -> Callable[[Any], Any]:
    def from_ua(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        if python_type is decimal.Decimal:
            return decimal.Decimal(repr(float(value)))
        return python_type(value)

    return from_ua


def _boolean_from_ua(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a Boolean, got {type(value).__name__}")
    return value


def _string(python_type: type) -> Codec:
    def from_ua(value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"expected a String, got {type(value).__name__}")
        return python_type(value)

    return Codec(python_type, VT.String, str, from_ua)


def _lexical(python_type: type) -> Codec:
    """Types OPC UA has no built-in for travel in their xs: lexical form."""

    def from_ua(value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError(f"expected a String in {xs.XSD_TYPE_NAMES[python_type]} form")
        return xs.from_xsd(value, python_type)

    return Codec(python_type, VT.String, xs.xsd_repr, from_ua)


def _datetime_to_ua(value: Any) -> datetime.datetime:
    moment: datetime.datetime = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    moment = moment.astimezone(datetime.UTC)
    if moment < _UA_MIN_DATETIME:
        raise Unrepresentable(f"{value.isoformat()} is before the OPC UA epoch (1601)")
    return moment


def _datetime_from_ua(value: Any) -> datetime.datetime:
    if not isinstance(value, datetime.datetime):
        raise TypeError(f"expected a DateTime, got {type(value).__name__}")
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def _binary(python_type: type) -> Codec:
    def from_ua(value: Any) -> Any:
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"expected a ByteString, got {type(value).__name__}")
        return python_type(value)

    return Codec(python_type, VT.ByteString, bytes, from_ua)


CODECS: dict[type, Codec] = {
    float: Codec(float, VT.Double, _double_to_ua, _real(float)),
    xs.Float: Codec(xs.Float, VT.Float, _float_to_ua, _real(xs.Float)),
    decimal.Decimal: Codec(decimal.Decimal, VT.Double, _double_to_ua, _real(decimal.Decimal)),
    int: _integer(int, VT.Int64),
    xs.Long: _integer(xs.Long, VT.Int64),
    xs.Int: _integer(xs.Int, VT.Int32),
    xs.Short: _integer(xs.Short, VT.Int16),
    xs.Byte: _integer(xs.Byte, VT.SByte),
    xs.UnsignedLong: _integer(xs.UnsignedLong, VT.UInt64),
    xs.UnsignedInt: _integer(xs.UnsignedInt, VT.UInt32),
    xs.UnsignedShort: _integer(xs.UnsignedShort, VT.UInt16),
    xs.UnsignedByte: _integer(xs.UnsignedByte, VT.Byte),
    xs.PositiveInteger: _integer(xs.PositiveInteger, VT.UInt64),
    xs.NonNegativeInteger: _integer(xs.NonNegativeInteger, VT.UInt64),
    xs.NegativeInteger: _integer(xs.NegativeInteger, VT.Int64),
    xs.NonPositiveInteger: _integer(xs.NonPositiveInteger, VT.Int64),
    bool: Codec(bool, VT.Boolean, bool, _boolean_from_ua),
    str: _string(str),
    xs.NormalizedString: _string(xs.NormalizedString),
    xs.AnyURI: _string(xs.AnyURI),
    datetime.datetime: Codec(datetime.datetime, VT.DateTime, _datetime_to_ua, _datetime_from_ua),
    xs.Base64Binary: _binary(xs.Base64Binary),
    xs.HexBinary: _binary(xs.HexBinary),
}
for _lexical_type in (xs.Date, xs.Time, xs.Duration, xs.GYear, xs.GYearMonth, xs.GMonth, xs.GMonthDay,
                      xs.GDay):
    CODECS[_lexical_type] = _lexical(_lexical_type)


def codec_for(python_type: type) -> Codec:
    """The codec of a basyx value type; unknown types fall back to their lexical form."""
    codec = CODECS.get(python_type)
    if codec is None:
        for base, candidate in CODECS.items():
            if issubclass(python_type, base):
                return candidate
        return _lexical(python_type)
    return codec


def to_variant_value(codec: Codec, value: Any) -> Any:
    """The Variant payload of ``value``; None stays None (an empty Property)."""
    if value is None:
        return None
    try:
        return codec.to_ua(value)
    except Unrepresentable:
        raise
    except (TypeError, ValueError, OverflowError, AttributeError) as error:
        raise Unrepresentable(f"{value!r} cannot be shown as {codec.variant_type.name}: {error}") from None



class ImmutableDataValue(ua.DataValue):
    """A DataValue nobody mutates after creation, so copying it is a no-op.

    asyncua deep-copies every DataValue for every monitored item it notifies; that copy is
    most of the cost of a value change (it caps the mirror near 1,500 changes/s on a loaded
    2-core machine). The mirror's values are built fresh per change and never changed after.
    """

    __slots__ = ()

    def __copy__(self) -> ImmutableDataValue:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ImmutableDataValue:
        return self


_STATUS = {
    Quality.GOOD: status(ua.StatusCodes.Good),
    Quality.UNCERTAIN: status(ua.StatusCodes.Uncertain),
    Quality.BAD: status(ua.StatusCodes.Bad),
}
_OUT_OF_RANGE = status(ua.StatusCodes.BadOutOfRange)
_NULL = ua.Variant(None, VT.Null)


def data_value(codec: Codec, value: Any, quality: Quality, source_time: datetime.datetime | None,
               server_time: datetime.datetime) -> ua.DataValue:
    """The DataValue of a live value: StatusCode from its quality, Bad when OPC UA cannot hold it."""
    try:
        payload = to_variant_value(codec, value)
    except Unrepresentable:
        return ImmutableDataValue(_NULL, _OUT_OF_RANGE, cast(Any, source_time), cast(Any, server_time))
    variant = ua.Variant(payload, codec.variant_type, None, False) if payload is not None else _NULL
    return ImmutableDataValue(variant, _STATUS[quality], cast(Any, source_time), cast(Any, server_time))


def utc(timestamp: float | None) -> datetime.datetime | None:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC) if timestamp is not None else None
