"""The hand-laid HistoryData bytes, read back by asyncua's own binary decoder (an independent reader)."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary

from twinbridge.history.opcua_encoding import VARIANT_OF_VALUE_TYPE, history_data
from twinbridge.history.store import RawPoints

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in µs


def points(values: list[float], qualities: list[int], texts: list[str | None] | None = None) -> RawPoints:
    return RawPoints(t_us=np.arange(len(values), dtype=np.int64) * 1_500_001 + T0,
                     value=np.array(values, dtype=np.float64), quality=np.array(qualities, dtype=np.uint8),
                     text=texts if texts is not None else [None] * len(values))


def decoded(body: bytes) -> list[ua.DataValue]:
    return struct_from_binary(ua.HistoryData, Buffer(body)).DataValues  # type: ignore[no-any-return]


def stamp(index: int) -> datetime.datetime:
    return datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(microseconds=index * 1_500_001)


@pytest.mark.parametrize(("value_type", "values", "expected", "variant"), [
    ("number", [1.5, math.nan, -2.25, 1e300], [1.5, None, -2.25, 1e300], ua.VariantType.Double),
    ("integer", [7, -3, math.nan, 2**53], [7, -3, None, 2**53], ua.VariantType.Int64),
    ("boolean", [1, 0, math.nan, 1], [True, False, None, True], ua.VariantType.Boolean),
])
def test_numbers_come_back_with_type_status_and_source_time(value_type: str, values: list[float],
                                                            expected: list[object], variant: ua.VariantType) -> None:
    qualities = [0, 1, 2, 0]
    got = decoded(history_data(points(values, qualities), 4, VARIANT_OF_VALUE_TYPE[value_type]))
    assert [dv.Value.Value for dv in got] == expected
    assert [dv.Value.VariantType for dv in got if dv.Value.Value is not None] == [variant] * 3
    assert [dv.StatusCode.value for dv in got] == [ua.StatusCodes.Good, ua.StatusCodes.Uncertain,
                                                   ua.StatusCodes.Bad, ua.StatusCodes.Good]
    assert [dv.SourceTimestamp for dv in got] == [stamp(i) for i in range(4)]
    assert all(dv.ServerTimestamp is None for dv in got)  # the history keeps source timestamps only


def test_count_cuts_and_reverse_turns_the_order() -> None:
    got = decoded(history_data(points([1.0, 2.0, 3.0], [0, 0, 0]), 2, VARIANT_OF_VALUE_TYPE["number"],
                               reverse=True))
    assert [dv.Value.Value for dv in got] == [2.0, 1.0]
    assert [dv.SourceTimestamp for dv in got] == [stamp(1), stamp(0)]


def test_text_series_are_strings() -> None:
    got = decoded(history_data(points([math.nan, 4.0, math.nan], [0, 2, 0], ["auto", None, None]), 3,
                               VARIANT_OF_VALUE_TYPE["text"]))
    assert [dv.Value.Value for dv in got] == ["auto", "4.0", None]
    assert [dv.StatusCode.value for dv in got] == [ua.StatusCodes.Good, ua.StatusCodes.Bad, ua.StatusCodes.Good]
    assert [dv.SourceTimestamp for dv in got] == [stamp(i) for i in range(3)]


def test_nothing_is_an_empty_list() -> None:
    assert decoded(history_data(points([], []), 0, VARIANT_OF_VALUE_TYPE["number"])) == []
