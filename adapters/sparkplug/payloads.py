"""Sparkplug B payloads ↔ Python values, using the protobuf classes compiled from
``sparkplug_b.proto`` (the wire format of the Sparkplug 3.0 specification).

Why compiled protobuf and not a Sparkplug client library: the adapter already owns the MQTT
session (aiomqtt), and only needs the payload codec; the generated classes are the reference
encoding, have the protobuf C implementation underneath and add no dependency.
"""

from __future__ import annotations

import datetime
import time
from enum import IntEnum
from typing import Any

from google.protobuf.message import DecodeError

from twinbridge.adapters import float32
from twinbridge.adapters.coerce import source_time
from twinbridge.adapters.sparkplug import sparkplug_b_pb2 as pb

# The generated module builds its classes at import time, so type checkers cannot see them.
Payload: Any = pb.Payload  # type: ignore[attr-defined]

REBIRTH = "Node Control/Rebirth"
BD_SEQ = "bdSeq"


class DataType(IntEnum):
    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14
    UUID = 15
    DATASET = 16
    BYTES = 17
    FILE = 18
    TEMPLATE = 19


_SIGNED_BITS = {DataType.INT8: 8, DataType.INT16: 16, DataType.INT32: 32, DataType.INT64: 64}
_INT_FIELD = {
    DataType.INT8: "int_value", DataType.INT16: "int_value", DataType.INT32: "int_value",
    DataType.UINT8: "int_value", DataType.UINT16: "int_value", DataType.UINT32: "int_value",
    DataType.INT64: "long_value", DataType.UINT64: "long_value", DataType.DATETIME: "long_value",
}


_COMPOSITE = frozenset({"dataset_value", "template_value", "extension_value"})


class SparkplugDecodeError(ValueError):
    """The bytes are not a Sparkplug B payload."""


def decode(data: bytes) -> Any:
    """A ``Payload`` message; SparkplugDecodeError when ``data`` does not parse."""
    try:
        return Payload.FromString(data)
    except (DecodeError, RuntimeWarning) as error:
        raise SparkplugDecodeError(f"not a Sparkplug B payload ({error}), {len(data)} bytes") from None


def metric_value(metric: Any, datatype: int) -> Any:
    """The Python value of ``metric``: int/float/bool/str/bytes, None when null or absent,
    ValueError for DataSet/Template metrics (no single Property value).

    Signed integers travel as two's complement in the unsigned fields; a DateTime (epoch ms)
    becomes ISO 8601 text so a dateTime or string Property can take it.
    """
    if metric.is_null:
        return None
    field = metric.WhichOneof("value")
    if field is None:
        return None
    if field in _COMPOSITE:
        raise ValueError(f"a {field.removesuffix('_value')} metric cannot feed a Property")
    value = getattr(metric, field)
    if field == "float_value":  # a float32 on the wire: its shortest decimal, as the edge node meant it
        return float32.shortest(value)
    if field in ("int_value", "long_value"):
        bits = _SIGNED_BITS.get(datatype)  # type: ignore[call-overload]
        if bits is not None:
            value = _signed(value, bits, 32 if field == "int_value" else 64)
        elif datatype == DataType.DATETIME:
            value = datetime.datetime.fromtimestamp(source_time(value / 1000), tz=datetime.UTC).isoformat()
    return value


def _signed(value: int, bits: int, width: int) -> int:
    if value >= 1 << (width - 1):  # sign-extended to the field width
        return value - (1 << width)
    if value >= 1 << (bits - 1):  # two's complement in its own width
        return value - (1 << bits)
    return int(value)


def datatype_of(value: Any) -> DataType:
    """The Sparkplug type a Python value is sent as when the birth did not announce one."""
    if isinstance(value, bool):
        return DataType.BOOLEAN
    if isinstance(value, int):
        return DataType.INT64
    if isinstance(value, float):
        return DataType.DOUBLE
    if isinstance(value, datetime.datetime):
        return DataType.DATETIME
    if isinstance(value, bytes):
        return DataType.BYTES
    return DataType.STRING


def set_value(metric: Any, datatype: int, value: Any) -> None:
    """Store ``value`` in ``metric`` as ``datatype`` (ValueError if it does not fit the type)."""
    metric.datatype = datatype
    if value is None:
        metric.is_null = True
        return
    kind = DataType(datatype)
    if kind == DataType.BOOLEAN:
        metric.boolean_value = bool(value)
    elif kind == DataType.FLOAT:
        metric.float_value = float(value)
    elif kind == DataType.DOUBLE:
        metric.double_value = float(value)
    elif kind in (DataType.STRING, DataType.TEXT, DataType.UUID):
        metric.string_value = value.isoformat() if isinstance(value, datetime.datetime) else str(value)
    elif kind in (DataType.BYTES, DataType.FILE):
        metric.bytes_value = bytes(value)
    elif kind in _INT_FIELD:
        if kind == DataType.DATETIME:
            number = int(value.timestamp() * 1000) if isinstance(value, datetime.datetime) else int(value)
        else:
            number = _int_in_range(kind, value)
        bits = _SIGNED_BITS.get(kind)
        if bits is not None and number < 0:
            number += 1 << bits
        setattr(metric, _INT_FIELD[kind], number)
    else:
        raise ValueError(f"sending a {kind.name} metric is not supported")


def _int_in_range(kind: DataType, value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not an integer, the metric is {kind.name}")
    number = int(value)
    bits = _SIGNED_BITS.get(kind)
    if bits is not None:
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        width = {DataType.UINT8: 8, DataType.UINT16: 16, DataType.UINT32: 32}.get(kind, 64)
        low, high = 0, (1 << width) - 1
    if not low <= number <= high:
        raise ValueError(f"{number} is out of range for a {kind.name} metric ({low}..{high})")
    return number


def command(metrics: list[tuple[str, int, Any]], timestamp_ms: int | None = None) -> bytes:
    """An NCMD/DCMD payload writing ``(name, datatype, value)`` metrics."""
    payload = Payload(timestamp=timestamp_ms if timestamp_ms is not None else now_ms())
    for name, datatype, value in metrics:
        metric = payload.metrics.add(name=name, timestamp=payload.timestamp)
        set_value(metric, datatype, value)
    return bytes(payload.SerializeToString())


def rebirth_request() -> bytes:
    """The NCMD a host application sends to make an edge node publish its births again."""
    return command([(REBIRTH, DataType.BOOLEAN, True)])


def now_ms() -> int:
    return int(time.time() * 1000)
