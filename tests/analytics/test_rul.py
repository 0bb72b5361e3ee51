"""Remaining useful life: a known-answer degradation and a short progpy pump run to failure."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from twinbridge.analytics.rul import TrendRul, fit_shape


def test_linear_wear_after_an_onset_known_answer() -> None:
    """Flat at 1.0 until t = 100, then -0.01 per unit: failure level 0.2 is reached at t = 180."""
    rng = np.random.default_rng(0)
    estimator = TrendRul(failure_level=0.2, seed=1)
    for t in range(0, 141):
        level = 1.0 if t < 100 else 1.0 - 0.01 * (t - 100)
        estimator.update(float(t), level + rng.normal(0.0, 0.005))
    estimate = estimator.estimate()
    assert estimate.onset == pytest.approx(100, abs=6)
    assert estimate.rul == pytest.approx(40.0, abs=3.0)
    assert estimate.lower is not None and estimate.upper is not None
    assert estimate.lower <= 40.0 <= estimate.upper
    assert estimate.health == pytest.approx(0.5, abs=0.05)
    assert estimate.maintenance == (140 + 0.5 * estimate.lower, 140 + estimate.lower)


def test_no_trend_means_no_rul() -> None:
    rng = np.random.default_rng(2)
    estimator = TrendRul(failure_level=0.2)
    for t in range(50):
        estimator.update(float(t), 1.0 + rng.normal(0.0, 0.01))
    estimate = estimator.estimate()
    assert estimate.rul is None and estimate.health == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="timestamps must increase"):
        estimator.update(10.0, 1.0)


def _pump_flow(wear: float) -> tuple[np.ndarray, np.ndarray, float]:
    """progpy CentrifugalPump to impeller failure; Qout every 60 s (dt 2 s: larger steps diverge)."""
    warnings.filterwarnings("ignore")
    models = pytest.importorskip("progpy.models")
    pump = models.CentrifugalPump(process_noise=0, measurement_noise=0)
    pump.parameters["x0"]["wA"] = wear
    load = pump.InputContainer({"Tamb": 290, "V": 471.2389, "pdisch": 7.5e5, "psuc": 2.5e5, "wsync": 376.99})
    result = pump.simulate_to_threshold(lambda t, x=None: load, dt=2, save_freq=60.0)
    times = np.asarray(result.times, dtype=float)
    flow = np.asarray([float(output["Qout"]) for output in result.outputs])  # (a SimResult slice is empty)
    return times[1:], flow[1:], float(times[-1])  # row 0 is the pump at rest


def test_progpy_pump_rul_from_sensor_readings_only() -> None:
    """Learn levels and shape from one unit, predict another that wears 25% faster."""
    train_t, train_flow, _ = _pump_flow(0.04)
    test_t, test_flow, test_eol = _pump_flow(0.05)
    failure = float(train_flow[-1])
    healthy = float(train_flow[0])
    shape = fit_shape([(train_t, train_flow)], healthy)
    rng = np.random.default_rng(3)
    readings = test_flow + rng.normal(0.0, 0.0005, len(test_flow))
    estimator = TrendRul(failure, healthy_level=healthy, shape=shape)
    half = int(np.searchsorted(test_t, test_eol / 2))
    for t, q in zip(test_t[:half], readings[:half], strict=True):
        estimator.update(float(t), float(q))
    estimate = estimator.estimate()
    truth = test_eol - float(test_t[half - 1])
    naive = test_eol * 0.04 / 0.05  # the training unit's life, used as the mean life
    assert estimate.rul is not None
    assert abs(estimate.rul - truth) < 0.1 * truth
    assert abs(estimate.rul - truth) < 0.5 * abs(naive - float(test_t[half - 1]) - truth)


def test_a_weak_trend_gives_an_unbounded_upper_bound_not_nan() -> None:
    """Bootstrap draws whose trend never reaches the failure level have an infinite RUL; the upper
    quantile among them was NaN (inf - inf) and went into the ConfidenceInterval."""
    uppers = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(10):
            rng = np.random.default_rng(seed)
            estimator = TrendRul(10.0, healthy_level=1.0, seed=seed)
            for step in range(60):
                estimator.update(float(step), 1.0 + 0.00002 * step + rng.normal(0, 0.05))
            estimate = estimator.estimate()
            if estimate.rul is None:
                continue
            assert estimate.lower is not None and estimate.upper is not None
            assert not np.isnan(estimate.lower) and not np.isnan(estimate.upper)
            assert 0.0 <= estimate.lower <= estimate.upper
            uppers.append(estimate.upper)
    assert np.inf in uppers  # this series is that weak (5 of the 10 seeds)
