"""Filters against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinbridge.aas.quality import Quality
from twinbridge.analytics.filters import (
    Ewma,
    FilterError,
    Kalman,
    Median,
    MovingAverage,
    RangeCheck,
    RateCheck,
    Sample,
    Spike,
    build_chain,
    build_filter,
)


def _run(stage: object, values: list[float], step: float = 1.0) -> list[Sample]:
    apply = stage.apply  # type: ignore[attr-defined]
    return [apply(Sample(v, i * step)) for i, v in enumerate(values)]


def test_moving_average_is_exact_over_a_long_run() -> None:
    rng = np.random.default_rng(0)
    values = (rng.normal(1e6, 1.0, 20_000)).tolist()  # large offset: drift would show
    out = np.array([s.value for s in _run(MovingAverage(7), values)])
    expected = np.convolve(values, np.ones(7) / 7, mode="valid")
    np.testing.assert_allclose(out[6:], expected, rtol=0, atol=1e-8)
    assert out[0] == values[0] and out[1] == pytest.approx((values[0] + values[1]) / 2)


def test_ewma_known_answer() -> None:
    out = [s.value for s in _run(Ewma(0.5), [0.0, 8.0, 8.0, 0.0])]
    assert out == [0.0, 4.0, 6.0, 3.0]


def test_median_and_spike_filter() -> None:
    assert [s.value for s in _run(Median(3), [1.0, 9.0, 2.0, 3.0])] == [1.0, 5.0, 2.0, 3.0]
    values = [10.0, 10.2, 9.9, 10.1, 9.8, 10.0, 10.1, 55.0, 10.0]
    out = _run(Spike(window=7, sigmas=3.0), values)
    assert out[7].value == pytest.approx(10.0)
    assert out[7].quality is Quality.UNCERTAIN and "spike: 55" in (out[7].reason or "")
    assert all(s.quality is Quality.GOOD for s in out[:7] + out[8:])


def test_kalman_on_a_constant_reaches_the_theoretical_variance() -> None:
    """With q = 0 the filter is the running mean: P_n = r / n, and the estimates' spread agrees."""
    r, n, runs = 4.0, 200, 400
    rng = np.random.default_rng(1)
    finals = []
    for _ in range(runs):
        kalman = Kalman(measurement_variance=r)
        for i, z in enumerate(rng.normal(5.0, math.sqrt(r), n)):
            estimate = kalman.apply(Sample(float(z), float(i))).value
        finals.append(estimate)
        assert kalman.variance == pytest.approx(r / n, rel=1e-9)
    assert np.mean(finals) == pytest.approx(5.0, abs=0.03)
    assert np.var(finals) == pytest.approx(r / n, rel=0.2)  # 400 runs: the sample variance is within ~15%


def test_range_and_rate_checks_set_quality_with_a_reason() -> None:
    check = RangeCheck(low=0.0, high=100.0, warn_high=90.0)
    assert check.apply(Sample(50.0, 0.0)).quality is Quality.GOOD
    warn = check.apply(Sample(95.0, 0.0))
    assert warn.quality is Quality.UNCERTAIN and warn.reason == "value 95 above the warning limit 90"
    bad = check.apply(Sample(-1.0, 0.0))
    assert bad.quality is Quality.BAD and bad.reason == "value -1 below the low limit 0"
    rate = RateCheck(max_rate=2.0)
    out = _run(rate, [0.0, 1.0, 10.0, 11.0])
    assert [s.quality for s in out] == [Quality.GOOD, Quality.GOOD, Quality.UNCERTAIN, Quality.GOOD]
    assert out[2].reason == "rate of change 9/s above the limit 2/s"


def test_a_bad_value_stays_bad_through_the_chain() -> None:
    chain = build_chain([{"filter": "range", "high": 10}, {"filter": "rate", "max_rate": 1},
                         {"filter": "ewma", "alpha": 1}])
    out = chain.apply(Sample(50.0, 0.0))
    assert out.quality is Quality.BAD and out.value == 50.0


@pytest.mark.parametrize(("spec", "message"), [
    ({"filter": "kalmann"}, "filters[0].filter: unknown filter 'kalmann'; known: ewma, kalman,"),
    ({"filter": "ewma", "alpha": 2}, "filters[0].alpha: must be in (0, 1], got 2"),
    ({"filter": "ewma", "alpha": "fast"}, "filters[0].alpha: must be a number, got 'fast'"),
    ({"filter": "moving_average", "windw": 3}, "filters[0]: moving_average: "),
])
def test_bad_filter_specs_name_the_field(spec: dict[str, object], message: str) -> None:
    with pytest.raises(FilterError) as caught:
        build_chain([spec])
    assert str(caught.value).startswith(message)
    with pytest.raises(FilterError):
        build_filter(spec)
