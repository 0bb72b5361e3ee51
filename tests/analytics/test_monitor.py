"""The anomaly monitor on a real twin: every sample scored, the score in the PM submodel."""

from __future__ import annotations

import numpy as np
import pytest
from basyx.aas import model

from twinbridge.aas.errors import InvalidInput, NotWritable
from twinbridge.aas.twin import Twin
from twinbridge.analytics.alarms import AlarmBook, AlarmRule
from twinbridge.analytics.detectors import create
from twinbridge.analytics.monitor import AnomalyMonitor, MonitoredSignal
from twinbridge.submodels.templates import predictive_maintenance

OPERATIONAL = "urn:test:operational"
MAINTENANCE = "urn:test:pm"


@pytest.fixture
def twin() -> Twin:
    twin = Twin()
    twin.create(model.Submodel(OPERATIONAL, id_short="Operational", submodel_element=[
        model.Property("Vibration", model.datatypes.Double, 0.0),
        model.Property("Label", model.datatypes.String, "x"),
    ]))
    rul = predictive_maintenance.WatchedSignal("Machine", "Vibration", "Machine", failure_level=2.0, healthy_level=1.0)
    twin.create(predictive_maintenance.build(MAINTENANCE, [predictive_maintenance.condition(rul, "mm/s")]))
    return twin


async def test_every_sample_is_scored_and_the_spike_shows_in_the_pm_submodel(twin: Twin) -> None:
    signal = MonitoredSignal(OPERATIONAL, "Vibration", "Vibration")
    book = AlarmBook()
    monitor = AnomalyMonitor(twin, MAINTENANCE, [signal], detector="ewma", alarms=book,
                             rule=AlarmRule("anomaly", raise_at=0.99, clear_at=0.3))
    monitor.start()
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 0.2, 400)
    values[350] = 9.0
    source = twin.live(OPERATIONAL, "Vibration")
    score = twin.live(MAINTENANCE, monitor.score_path(signal))
    seen = []
    for i, value in enumerate(values.tolist()):
        twin.update(source, value, timestamp=1_000.0 + i)
        if i in (349, 350):
            await twin.bus.drained()
            seen.append(twin.value(score))
    await twin.bus.drained()
    expected = create("ewma").score_series(1_000.0 + np.arange(400.0), values)
    assert seen == pytest.approx([expected[349], expected[350]])
    assert seen[1] > 0.5 > seen[0]
    assert twin.value(score) == pytest.approx(expected[-1])
    assert monitor.dropped == 0
    (alarm,) = book.alarms.values()
    assert (alarm.source, alarm.raised_at, alarm.cleared_at) == ("Vibration", 1_350.0, 1_351.0)
    assert twin.element(MAINTENANCE, "AnomalyDetection.Vibration.Detector").value == "ewma"  # type: ignore[attr-defined]
    with pytest.raises(NotWritable):
        await twin.write_value(score, 0.0)
    await monitor.stop()


async def test_a_non_numeric_signal_is_refused_at_start(twin: Twin) -> None:
    monitor = AnomalyMonitor(twin, MAINTENANCE, [MonitoredSignal(OPERATIONAL, "Label", "Label")])
    with pytest.raises(InvalidInput, match="Label is not a numeric Property"):
        monitor.start()


async def test_rul_monitor_writes_the_idta_02048_prediction(twin: Twin) -> None:
    from twinbridge.analytics.maintenance import RulMonitor
    from twinbridge.analytics.rul import TrendRul

    monitor = RulMonitor(twin, MAINTENANCE, OPERATIONAL, "Vibration", TrendRul(failure_level=2.0, healthy_level=1.0),
                         every=20)
    monitor.start()
    source = twin.live(OPERATIONAL, "Vibration")
    start = 1_700_000_000.0
    for i in range(100):  # vibration grows 0.005 per minute from 1.0: reaches 2.0 at minute 200
        twin.update(source, 1.0 + 0.005 * i, timestamp=start + 60.0 * i)
    await twin.bus.drained()
    assert monitor.last is not None and monitor.last.rul is not None
    duration = twin.element(MAINTENANCE, "RemainingUsefulLifePrediction.RemainingUsefulLifetime.DurationValue")
    assert duration.value == pytest.approx(101 * 60.0, rel=0.02)  # type: ignore[attr-defined]
    interval = twin.element(MAINTENANCE, "RemainingUsefulLifePrediction.ConfidenceInterval")
    assert interval.min <= duration.value <= interval.max  # type: ignore[attr-defined]
    health = twin.element(MAINTENANCE, "HealthAssessment.HealthIndicator").value  # type: ignore[attr-defined]
    assert health == pytest.approx(1 - 99 * 0.005, abs=0.01)
    end = twin.element(MAINTENANCE, "RemainingUsefulLifePrediction.RemainingUsfulLifeDateTime")
    assert str(end.value) == "2023-11-15 01:33:20+00:00"  # type: ignore[attr-defined]  # start + 200 minutes
    await monitor.stop()
