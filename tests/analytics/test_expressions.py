"""The virtual-property expression language: results, safety, unknown names, cycles, quality."""

from __future__ import annotations

import math
import re

import pytest

from twinbridge.aas.quality import Quality
from twinbridge.analytics.expressions import ExpressionError, VirtualProperties, compile_expression


@pytest.mark.parametrize(("text", "expected"), [
    ("1 + 2 * 3", 7.0),
    ("(1 + 2) * 3 ** 2", 27.0),
    ("-Motor.Power / 4", -2.5),
    ("max(Motor.Power, Sensors[0].Value, 3)", 10.0),
    ("abs(-2) + sqrt(16) + clamp(Motor.Power, 0, 5)", 11.0),
    ("1 if Motor.Power > 5 and not false else 0", 1.0),
    ("0 < Sensors[0].Value <= 7", 1.0),
    ('sid("urn:power") % 3', 1.0),
])
def test_values(text: str, expected: float) -> None:
    values = {"Motor.Power": 10.0, "Sensors[0].Value": 7.0, "sid:urn:power": 4.0}
    assert compile_expression(text).evaluate(values) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("__import__('os')", "unknown function '__import__'"),
    ("__import__('os').system('true')", "only plain calls"),
    ("'text'", "constant 'text' is not a number"),
    ("[1, 2]", "List is not allowed"),
    ("lambda: 1", "Lambda is not allowed"),
    ("a @ b", "operator MatMult is not allowed"),
    ("Sensors[i]", "an index must be a whole number"),
    ("max(1)", "max() takes 2 to 16 arguments, got 1"),
    ("1 +", "syntax error at column"),
])
def test_rejected(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        compile_expression(text, "virtual property 'X'")


def test_unknown_names_and_cycles_are_errors_naming_the_property() -> None:
    with pytest.raises(ExpressionError, match="virtual property 'Energy': unknown name\\(s\\) Powr"):
        VirtualProperties({"Energy": "Powr / Throughput"}, known={"Power", "Throughput"})
    with pytest.raises(ExpressionError, match="cycle A -> B -> A"):
        VirtualProperties({"A": "B + 1", "B": "A * 2", "C": "Power"}, known={"Power"})


def test_dependency_order_worst_quality_and_division_by_zero() -> None:
    virtual = VirtualProperties({"PerUnit": "Power / Throughput", "Doubled": "PerUnit * 2"},
                                known={"Power", "Throughput"})
    assert virtual.affected("Throughput") == ["PerUnit", "Doubled"]
    assert virtual.affected("Doubled") == []
    values = {"Power": 10.0, "Throughput": 4.0}
    qualities = {"Power": Quality.GOOD, "Throughput": Quality.UNCERTAIN}
    result = virtual.evaluate("PerUnit", values, qualities)
    assert (result.value, result.quality) == (2.5, Quality.UNCERTAIN)
    values["PerUnit"] = result.value
    assert virtual.evaluate("Doubled", values, {"PerUnit": Quality.GOOD}).value == 5.0
    failed = virtual.evaluate("PerUnit", {"Power": 1.0, "Throughput": 0.0}, {})
    assert math.isnan(failed.value) and failed.quality is Quality.BAD and "division by zero" in (failed.reason or "")
