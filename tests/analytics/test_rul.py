"""Remaining useful life: known-answer degradations and short progpy pump and valve runs to failure."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from twinbridge.analytics.rul import HealthCurve, RulEstimate, TrendRul, fit_shape


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


def test_health_curve_reads_a_course_that_is_no_power_law_as_life_share() -> None:
    """Units of lives 50, 80 and 120 run through y = 2 - sin(pi/2 · t/life) (the drift slows to zero
    at failure: no single exponent fits it). Read through the learnt curve, a fourth unit's readings
    are its life share t/life, and readings beyond the ends extrapolate monotonically."""
    rng = np.random.default_rng(5)

    def unit(life: float) -> tuple[np.ndarray, np.ndarray, float]:
        t = np.arange(1.0, life)
        return t, 2.0 - np.sin(np.pi / 2 * t / life) + rng.normal(0.0, 0.002, len(t)), life

    curve = HealthCurve([unit(50.0), unit(80.0), unit(120.0)])
    assert curve.healthy_level == pytest.approx(2.0, abs=0.02)
    assert curve.failure_level == pytest.approx(1.0, abs=0.02)
    t = np.arange(1.0, 70.0)
    shares = np.asarray([curve.share(float(y)) for y in 2.0 - np.sin(np.pi / 2 * t / 70.0)])
    assert np.abs(shares - t / 70.0)[t < 63].max() < 0.03  # the last 10%: the curve is flat there
    assert curve.share(2.05) < 0.0 < 1.0 < curve.share(0.95)
    assert np.all(np.diff(shares) > 0)
    with pytest.raises(ValueError, match="does not change"):
        HealthCurve([(t, np.ones_like(t), 70.0)])


def test_a_known_onset_replaces_the_search() -> None:
    """A life share growing from the installation (t = 0) to 1 at t = 200, known onset 0: at t = 60
    the RUL is 140, and the onset reported is the one given."""
    rng = np.random.default_rng(6)
    estimator = TrendRul(1.0, healthy_level=0.0, onset=0.0, seed=2)
    for t in range(5, 61):
        estimator.update(float(t), t / 200.0 + rng.normal(0.0, 0.01))
    estimate = estimator.estimate()
    assert estimate.onset == 0.0
    assert estimate.rul == pytest.approx(140.0, abs=10.0)
    assert estimate.lower is not None and estimate.upper is not None
    assert estimate.lower <= 140.0 <= estimate.upper


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


def _valve_strokes(wear: float) -> tuple[np.ndarray, np.ndarray, float]:
    """progpy PneumaticValve (sim_valve's 20 s open/close cycle, dt 0.01 s) to spring failure: per
    cycle, the opening stroke time read from the sensor output iT (the open end-position switch),
    at the end of the cycle's opening half. The first cycle starts from progpy's initial gas masses
    and is dropped. Stepped directly: simulate_to_threshold costs ~3x more per step."""
    warnings.filterwarnings("ignore")
    valve_module = pytest.importorskip("progpy.models.pneumatic_valve")
    valve = valve_module.PneumaticValveBase(process_noise=0, measurement_noise=0)
    valve.parameters["wk"] = wear
    opening = valve.InputContainer({"pL": 3.5e5, "pR": 2.0e5, "uTop": False, "uBot": True})
    closing = valve.InputContainer({"pL": 3.5e5, "pR": 2.0e5, "uTop": True, "uBot": False})
    state = valve.initialize(opening)
    times: list[float] = []
    strokes: list[float] = []
    for cycle in range(100):
        history = np.empty((len(valve.states), 2000))
        for step in range(2000):
            state = valve.next_state(state, opening if step < 1000 else closing, 0.01)
            history[:, step] = state.matrix[:, 0]
        states = valve.StateContainer(history)
        failed = np.asarray(valve.threshold_met(states)["Spring Failure"]).ravel()
        if failed.any():
            return np.asarray(times[1:]), np.asarray(strokes[1:]), cycle * 20.0 + (np.argmax(failed) + 1) * 0.01
        open_switch = np.asarray(valve.output(states)["iT"]).ravel()[:1000] > 0.5
        times.append(cycle * 20.0 + 10.0)
        strokes.append((np.argmax(open_switch) + 1) * 0.01)
    raise AssertionError("no spring failure within 100 cycles")


def _timestamped(strokes: np.ndarray, seed: int) -> np.ndarray:
    """The stroke times as the twin reads them: the switch edge timestamped with a Gaussian error
    (sigma 20 ms: PLC scan and clock), on the 10 ms sample grid."""
    return np.round(strokes + np.random.default_rng(seed).normal(0.0, 0.02, len(strokes)), 2)


@pytest.fixture(scope="module")
def valves() -> tuple[tuple[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray, float]]:
    """A valve whose spring wears at wk 1.0 (8 cycles) and one at 1.3 (30% faster), ~8 s together."""
    return _valve_strokes(1.0), _valve_strokes(1.3)


def _late_estimate(estimator: TrendRul, times: np.ndarray, readings: list[float], eol: float,
                   share: float) -> tuple[RulEstimate, float]:
    """The estimate after the readings up to ``share`` of the life, and the true RUL then."""
    late = int(np.searchsorted(times, share * eol))
    for t, value in zip(times[:late], readings[:late], strict=True):
        estimator.update(float(t), value)
    return estimator.estimate(), eol - float(times[late - 1])


def test_progpy_valve_rul_from_the_stroke_time_power_law(valves: tuple) -> None:
    """Levels and drift exponent learnt from the first valve's read stroke times; the second valve,
    from its read stroke times only: at 70% of its life the RUL is within two cycles (40 s; it is 17 s
    off: the power law puts the failure early, see HealthCurve) and under half the naive error."""
    (train_t, train_clean, train_eol), (test_t, test_clean, test_eol) = valves
    assert train_clean[0] - train_clean[-1] > 0.3  # the softer spring opens the valve much faster
    train_stroke = _timestamped(train_clean, 1)
    healthy = float(np.polyval(np.polyfit(train_t[:4], train_stroke[:4], 1), train_t[0]))
    failure = float(np.polyval(np.polyfit(train_t[-4:], train_stroke[-4:], 1), train_eol))
    shape = fit_shape([(train_t, train_stroke)], healthy)
    assert shape < 1.0  # the drift slows down as the spring softens
    estimator = TrendRul(failure, healthy_level=healthy, shape=shape)
    estimate, truth = _late_estimate(estimator, test_t, _timestamped(test_clean, 2).tolist(), test_eol, 0.7)
    naive = train_eol - test_eol + truth
    assert estimate.rul is not None
    assert abs(estimate.rul - truth) < 40.0
    assert abs(estimate.rul - truth) < 0.5 * abs(naive - truth)


def test_progpy_valve_rul_through_a_health_curve(valves: tuple) -> None:
    """The stroke time's course over a life learnt from the first valve's switch (a reference run),
    the second valve read through it as life share with the onset at its installation: at 70% and
    90% of its life the RUL is within one cycle (20 s) of the truth (it is 6 and 8 s off)."""
    (train_t, train_clean, train_eol), (test_t, test_clean, test_eol) = valves
    curve = HealthCurve([(train_t, train_clean, train_eol)])
    shares = [curve.share(float(stroke)) for stroke in _timestamped(test_clean, 2)]
    for life_share in (0.7, 0.9):
        estimator = TrendRul(1.0, healthy_level=0.0, onset=0.0)
        estimate, truth = _late_estimate(estimator, test_t, shares, test_eol, life_share)
        assert estimate.rul is not None and estimate.lower is not None and estimate.upper is not None
        assert abs(estimate.rul - truth) < 20.0
        assert estimate.lower <= estimate.rul <= estimate.upper
