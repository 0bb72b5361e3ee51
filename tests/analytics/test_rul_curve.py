"""A health curve in the plant file: ``HealthCurve.from_points`` on known answers, the ``rul``
section's checks (each error names its field and line), and the twin's RUL monitor reading a
drift that is no power law through the curve (close to the truth; a straight line is far off)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tests.analytics.test_server_analytics import LIVE, PLANT
from tests.ports import free_port
from twinbridge.analytics.rul import CurveRul, HealthCurve
from twinbridge.server.application import Application, Options
from twinbridge.server.config import ConfigError, parse_plant_file

ANOMALY = "anomaly: {detector: ewma, raise_at: 0.99, clear_at: 0.3, min_interval_s: 0}"
RUL_LINE = 22  # the line of PLANT's first signal's anomaly entry, which these tests replace


def _wear(share: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The indicator over a life (share 0 .. 1): wear that speeds up towards the end, no power law
    from the installation fits it."""
    return 20.0 + 80.0 * (1.0 - np.sqrt(1.0 - np.asarray(share, dtype=float)))


CURVE = [[share, round(float(_wear(share)), 4)] for share in np.linspace(0.0, 1.0, 11).tolist()]


def test_from_points_is_linear_between_them_and_extrapolates_the_end_slopes() -> None:
    rising = HealthCurve.from_points([[0.0, 20.0], [0.5, 60.0], [1.0, 100.0]])
    assert (rising.healthy_level, rising.failure_level) == (20.0, 100.0)
    assert rising.share(40.0) == pytest.approx(0.25) and rising.share(80.0) == pytest.approx(0.75)
    assert rising.share(12.0) == pytest.approx(-0.1)  # 80 per life before the first point
    assert rising.share(104.0) == pytest.approx(1.05)
    falling = HealthCurve.from_points([[0.0, 10.0], [0.2, 8.0], [1.0, 0.0]])
    assert falling.share(9.0) == pytest.approx(0.1) and falling.share(4.0) == pytest.approx(0.6)
    assert falling.share(11.0) == pytest.approx(-0.1) and falling.share(-1.0) == pytest.approx(1.1)


@pytest.mark.parametrize(("points", "message"), [
    ([[0.0, 1.0], [1.0, 2.0]], "at least 3 points"),
    ([[0.1, 1.0], [0.5, 2.0], [1.0, 3.0]], "from 0 (new) to 1 (failed)"),
    ([[0.0, 1.0], [0.5, 2.0], [0.5, 2.5], [1.0, 3.0]], "strictly increasing"),
    ([[0.0, 1.0], [0.5, 3.0], [1.0, 2.0]], "strictly monotone"),
    ([[0.0, 1.0], [0.5, 1.0], [1.0, 2.0]], "strictly monotone"),
])
def test_from_points_refuses_what_is_no_life_curve(points: list[list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        HealthCurve.from_points(points)


def test_a_learnt_curve_gives_points_that_rebuild_it() -> None:
    t = np.linspace(0.0, 100.0, 201)
    curve = HealthCurve([(t, _wear(t / 100.0), 100.0), (t * 1.5, _wear(t / 100.0), 150.0)])
    points = curve.points(21)
    assert points[0] == [0.0, curve.healthy_level] and points[-1] == [1.0, curve.failure_level]
    pasted = HealthCurve.from_points(points)
    for value in (30.0, 50.0, 70.0):
        assert pasted.share(value) == pytest.approx(curve.share(value), abs=0.01)


def test_installed_is_the_life_share_zero_of_a_part_already_worn_at_the_first_reading() -> None:
    life, begin = 1000.0, 400.0  # the monitor starts at 40% of the life
    with_installation, without = CurveRul(HealthCurve.from_points(CURVE), installed=0.0), CurveRul(
        HealthCurve.from_points(CURVE))
    for t in np.arange(begin, 800.0, 5.0).tolist():
        for estimator in (with_installation, without):
            estimator.update(t, float(_wear(t / life)))
    assert with_installation.estimate().rul == pytest.approx(205.0, abs=5.0)  # the last reading is at t = 795
    # from the first reading, 40% of the life seems worn at once: a far too fast drift
    estimate = without.estimate().rul
    assert estimate is not None and estimate < 0.5 * 205.0


def _plant(rul: str) -> str:
    return PLANT.replace(ANOMALY, rul)


def _rul_problem(rul: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_plant_file(_plant(rul))
    (problem,) = raised.value.problems
    return problem


@pytest.mark.parametrize(("rul", "field", "message"), [
    ("rul: {curve: [[0, 20], [0.5, 90], [1, 80]]}", "curve", "strictly monotone"),
    ("rul: {curve: [[0, 20], [1, 80]]}", "curve", "at least 3 points"),
    ("rul: {curve: [[0, 20], [0.5, 30], [0.9, 80]]}", "curve", "from 0 (new) to 1 (failed)"),
    ("rul: {curve: [[0, 20], [0.5, 30], [0.4, 40], [1, 80]]}", "curve", "strictly increasing"),
    ("rul: {curve: [[0, 20], [0.5, 30], [1, 80]], failure_level: 95}", "failure_level",
     "is 95 but the curve ends at 80"),
    ("rul: {curve: [[0, 20], [0.5, 30], [1, 80]], healthy_level: 10}", "healthy_level",
     "is 10 but the curve starts at 20"),
    ("rul: {curve: [[0, 20], [0.5, 30], [1, 80]], shape: 0.9}", "shape", "not with a curve"),
    ("rul: {failure_level: 80, installed: 2026-01-05T08:00:00Z}", "installed", "only with a curve"),
    ("rul: {curve: [[0, 20], [0.5, 30], [1, 80]], installed: 2026-01-05T08:00:00}", "installed", "timezone"),
    ("rul: {healthy_level: 20}", "failure_level", "required (unless a curve gives it)"),
    ("rul: {failure_level: 80, shape: 0}", "shape", "greater than 0"),
])
def test_rul_section_errors_name_the_field_and_line(rul: str, field: str, message: str) -> None:
    problem = _rul_problem(rul)
    assert problem.startswith(f"analytics.signals[0].rul.{field} (line {RUL_LINE}): "), problem
    assert message in problem


def test_a_curve_gives_the_levels_and_a_shape_the_exponent() -> None:
    text = _plant("rul: {curve: [[0, 20], [0.5, 30], [1, 80]], installed: 2026-01-05T08:00:00+01:00}")
    rul = parse_plant_file(text).analytics.signals[0].rul  # type: ignore[union-attr]
    assert rul is not None and (rul.failure_level, rul.healthy_level, rul.shape) == (80.0, 20.0, 1.0)
    assert rul.installed == dt.datetime(2026, 1, 5, 7, 0, tzinfo=dt.UTC)
    rul = parse_plant_file(_plant("rul: {failure_level: 80, shape: 0.9}")).analytics.signals[0].rul  # type: ignore[union-attr]
    assert rul is not None and (rul.shape, rul.curve, rul.healthy_level) == (0.9, None, None)


LIFE_S, STEP_S, START = 200 * 60.0, 60.0, 1_700_000_000.0


async def _rul_late_in_life(tmp_path: Path, rul: str) -> tuple[float, float, float]:
    """(estimated RUL, true RUL, health) in the twin after 80% of a noisy life of Press1's vibration."""
    application = Application(parse_plant_file(_plant(rul)), Options(host="127.0.0.1", port=free_port(),
                                                                      data=tmp_path, opcua=False))
    await application.start()
    try:
        twin = application.twin
        operational = next(sm.id for sm in twin.submodels.values() if sm.id_short == "OperationalData")
        pm = next(sm.id for sm in twin.submodels.values() if sm.id_short == "PredictiveMaintenance")
        vibration = twin.live(operational, f"{LIVE}.Vibration")
        noise = np.random.default_rng(7).normal(0.0, 0.5, 161)
        for i in range(161):
            twin.update(vibration, float(_wear(i * STEP_S / LIFE_S) + noise[i]), timestamp=START + STEP_S * i)
        await twin.bus.drained()
        lifetime = "RemainingUsefulLifePrediction.RemainingUsefulLifetime"
        rul_s = twin.element(pm, f"{lifetime}.DurationValue").value  # type: ignore[attr-defined]
        at = dt.datetime.fromisoformat(str(twin.element(pm, f"{lifetime}.StartDateTime").value)).timestamp()  # type: ignore[attr-defined]
        health = twin.element(pm, "HealthAssessment.HealthIndicator").value  # type: ignore[attr-defined]
        return float(rul_s), START + LIFE_S - at, float(health)
    finally:
        await application.stop()


async def test_the_twin_reads_a_drift_that_is_no_power_law_through_its_curve(tmp_path: Path) -> None:
    curve = f"rul: {{curve: {CURVE}, every: 10}}"
    estimated, truth, health = await _rul_late_in_life(tmp_path / "curve", curve)
    assert truth >= 0.2 * LIFE_S - STEP_S  # late in life: the last estimate covers 150+ of the 160 minutes
    assert estimated == pytest.approx(truth, rel=0.1)  # within 10% of the remaining life
    assert health == pytest.approx(1.0 - (LIFE_S - truth) / LIFE_S, abs=0.03)  # 1 - life share
    line, line_truth, _ = await _rul_late_in_life(tmp_path / "line", "rul: {failure_level: 100, healthy_level: 20}")
    # the straight line from the same levels puts the failure more than twice as far away
    assert abs(line - line_truth) > 5 * abs(estimated - truth) and line > 2 * line_truth
