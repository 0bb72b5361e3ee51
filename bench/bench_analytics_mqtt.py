"""MQTT ingest with analytics on every signal, against the raw paho subscriber in the same run.

``mqtt_flood``'s flood (N JSON messages on 100 topics, QoS 0, our own Mosquitto on a free port):
the paho baseline only decodes each payload; twinbridge runs the MqttAdapter into 100
signals of 10 machines (each with an OperationalData and a PredictiveMaintenance submodel, as the
plant builds them) and the plant file's analytics, started by the production ``AnalyticsService``,
on every signal: a filter chain (range check, median of 5) into ``<Signal>Filtered``, the default
(strongest) anomaly detector on the filtered value with its alarm rule, and one RUL monitor per
machine (on its first signal, an estimate every 10 samples). The clock stops when the last message
is in the twin and every monitor has handled every sample (``bus.drained()``). Target: ≥ 0.7× the
paho baseline (issue 14).

    .venv/bin/python bench/bench_analytics_mqtt.py [--messages 100000] [--runs 3] [--detector seasonal]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from basyx.aas import model
from mqtt_flood import TOPICS, Rate, against_paho, end_binding, flood_rate

from twinbridge.aas.twin import Twin
from twinbridge.adapters.config import Binding, ElementTarget
from twinbridge.adapters.mqtt.config import MqttPoint
from twinbridge.analytics.detectors import DEFAULT_DETECTOR
from twinbridge.server.analytics_config import AnalyticsSettings, AnomalySpec, RulSpec, SignalSpec
from twinbridge.server.analytics_service import AnalyticsService
from twinbridge.submodels.templates import predictive_maintenance, time_series

MACHINES = 10
SIGNALS = TOPICS // MACHINES  # per machine
END_SUBMODEL = "urn:bench:sm:end"


def plant(detector: str = DEFAULT_DETECTOR) -> tuple[Twin, list[tuple[str, Binding]], AnalyticsSettings]:
    """10 machines x 10 signals fed by topics bench/m<i>/telemetry, analytics on every signal."""
    twin = Twin()
    bindings: list[tuple[str, Binding]] = []
    specs: list[SignalSpec] = []
    for machine in range(MACHINES):
        name = f"Machine{machine}"
        signals = [model.Property(f"S{j}", model.datatypes.Double, 0.0) for j in range(SIGNALS)]
        operational = time_series.build(f"urn:bench:sm:{name}:operational", name, signals)
        rul = predictive_maintenance.WatchedSignal(name, "S0", name, failure_level=100.0, healthy_level=20.0, filters=2)
        maintenance = predictive_maintenance.build(f"urn:bench:sm:{name}:pm",
                                                   [predictive_maintenance.condition(rul, None)])
        twin.create(operational)
        twin.create(maintenance)
        twin.create(model.AssetAdministrationShell(
            model.AssetInformation(global_asset_id=f"urn:bench:asset:{name}"), f"urn:bench:aas:{name}", id_short=name,
            submodel={model.ModelReference.from_referable(operational),
                      model.ModelReference.from_referable(maintenance)},
        ))
        for j in range(SIGNALS):
            topic = machine * SIGNALS + j
            bindings.append((f"bindings[{topic}]", Binding(
                source="broker",
                target=ElementTarget(shell=name, submodel="OperationalData", path=time_series.signal_path(f"S{j}")),
                mqtt=MqttPoint(topic=f"bench/m{topic}/telemetry", value="$.value", timestamp="$.ts"),
            )))
            specs.append(SignalSpec(
                asset=name, signal=f"S{j}",
                filters=[{"filter": "range", "low": 0, "high": 1000}, {"filter": "median", "window": 5}],
                anomaly=AnomalySpec(detector=detector),
                rul=RulSpec(failure_level=100.0, healthy_level=20.0, every=10) if j == 0 else None,
            ))
    end = model.Submodel(END_SUBMODEL, id_short="End", submodel_element=[model.Property("End", model.datatypes.String)])
    twin.create(end)
    twin.create(model.AssetAdministrationShell(
        model.AssetInformation(global_asset_id="urn:bench:asset:end"), "urn:bench:aas:end", id_short="Bench",
        submodel={model.ModelReference.from_referable(end)},
    ))
    bindings.append(end_binding(ElementTarget(shell="Bench", submodel="End", path="End")))
    return twin, bindings, AnalyticsSettings(signals=specs)


async def analysed_ingest(port: int, messages: int, detector: str = DEFAULT_DETECTOR) -> tuple[Rate, int]:
    twin, bindings, settings = plant(detector)
    analytics = AnalyticsService(twin, settings)
    await analytics.start()
    # the clock stops when every monitor has handled every sample
    rate = await flood_rate(port, messages, twin, bindings, twin.live(END_SUBMODEL, "End"), twin.bus.drained)
    await analytics.stop()
    return rate, len(analytics.alarms.alarms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="the anomaly detector on every signal")
    args = parser.parse_args()

    def ingest(port: int, _scratch: Path) -> tuple[Rate, str]:
        rate, alarms = asyncio.run(analysed_ingest(port, args.messages, args.detector))
        return rate, f", {alarms} alarms"

    against_paho(args.messages, args.runs, f"twinbridge with analytics on every signal ({args.detector})", ingest)


if __name__ == "__main__":
    main()
