"""The demo's worn bearing: healthy, then a trend the detector flags and the RUL sees coming."""

from __future__ import annotations

from twinbridge.adapters.simulators.modbus_device import BearingWear, Machine
from twinbridge.analytics.detectors import create
from twinbridge.analytics.filters import Sample, build_chain
from twinbridge.analytics.rul import TrendRul


def test_worn_bearing_is_flagged_after_its_onset_and_its_rul_falls() -> None:
    wear = BearingWear()
    machine, healthy = Machine(1, 1, wear), Machine(2, 1)
    chain = build_chain([{"filter": "range", "low": 0, "high": 50}, {"filter": "median", "window": 5}])
    detector, rul = create("seasonal"), TrendRul(4.5, healthy_level=0.8)
    flagged, estimates, t = [], [], 0.0
    while t < 400.0:
        machine.step(0.5)
        healthy.step(0.5)
        t += 0.5
        value = chain.apply(Sample(float(machine.values["vibration"]), t)).value
        if detector.update(1.7e9 + t, value) >= 0.9:
            flagged.append(t)
        rul.update(1.7e9 + t, value)
        if t % 60 == 0 and t >= 120:
            estimates.append(rul.estimate().rul)
    assert flagged and wear.onset_s < flagged[0] < wear.fault_s  # no alarm while healthy, one soon after
    assert float(machine.values["vibration"]) > 4.5 > 1.5 > float(healthy.values["vibration"])
    assert all(e is not None for e in estimates)
    assert estimates == sorted(estimates, reverse=True) and estimates[-1] < 120.0  # type: ignore[type-var]
