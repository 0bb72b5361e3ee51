"""A health curve as points: ``HealthCurve.from_points`` on known answers, a learnt curve's points
rebuild it, and CurveRul's onset at the installation."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from twinbridge.analytics.rul import CurveRul, HealthCurve


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

