"""The simulated MQTT machines feed a twin through the adapter using only their topic map."""

from __future__ import annotations

from basyx.aas import model

from tests.adapters.mqtt_fixtures import Mosquitto, eventually, mosquitto_fixture, value_of  # noqa: F401
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.adapters.config import Backoff, Binding, ElementTarget
from twinbridge.adapters.mqtt.adapter import MqttAdapter
from twinbridge.adapters.mqtt.config import MqttSource
from twinbridge.adapters.simulators.mqtt_machine import SimulatedMqttMachines


def plant_twin(simulator: SimulatedMqttMachines) -> tuple[Twin, list[tuple[str, Binding]]]:
    """A shell per machine with a submodel ``Signals`` holding one Property per simulated signal."""
    twin = Twin()
    bindings: list[tuple[str, Binding]] = []
    signals = simulator.topic_map()
    for machine in simulator.machines:
        submodel = model.Submodel(f"urn:test:sm:{machine}", id_short="Signals", submodel_element=[
            model.Property(s.signal, model.datatypes.XSD_TYPE_CLASSES[s.value_type])
            for s in signals if s.machine == machine
        ])
        twin.create(submodel)
        twin.create(model.AssetAdministrationShell(
            model.AssetInformation(global_asset_id=f"urn:test:asset:{machine}"), f"urn:test:aas:{machine}",
            id_short=machine, submodel={model.ModelReference.from_referable(submodel)},
        ))
    for index, signal in enumerate(signals):
        target = ElementTarget(shell=signal.machine, submodel="Signals", path=signal.signal)
        bindings.append((f"bindings[{index}]", Binding(source="sim", target=target, writable=signal.writable,
                                                       mqtt=signal.point)))
    return twin, bindings


async def test_json_and_sparkplug_machines_feed_every_signal_and_take_set_points(mosquitto: Mosquitto) -> None:
    simulator = SimulatedMqttMachines(mosquitto.url, interval_s=0.05)
    twin, bindings = plant_twin(simulator)
    adapter = MqttAdapter(MqttSource(name="sim", url=mosquitto.url, backoff=Backoff(initial_s=0.05)), bindings, twin)
    await adapter.start()
    await adapter.wait_connected(10)
    await simulator.start()
    try:
        handles = {
            (signal.machine, signal.signal): twin.live(f"urn:test:sm:{signal.machine}", signal.signal)
            for signal in simulator.topic_map()
        }
        await eventually(lambda: all(h.quality is Quality.GOOD for h in handles.values()), what="every signal")
        for (_, signal), handle in handles.items():
            value = value_of(handle)
            if signal == "temperature":
                assert isinstance(value, float) and 15 < value < 60
            elif signal == "speed_setpoint":
                assert value == 1500.0

        for machine in simulator.machines:
            await twin.write_value(handles[(machine, "speed_setpoint")], 900.0)
        await eventually(lambda: all(simulator.state(m).setpoint == 900.0 for m in simulator.machines),
                         what="set-points reach the machines")
        await eventually(lambda: all(value_of(handles[(m, "speed_setpoint")]) == 900.0 for m in simulator.machines))
        assert adapter.stats.bad_payloads == 0 and adapter.sparkplug.stats.births >= 2
    finally:
        await simulator.stop()
        await adapter.stop()
    # The edge node said goodbye with an NDEATH before disconnecting; the adapter's stop made the rest Bad.
    assert all(h.quality is Quality.BAD for h in handles.values())


async def test_after_a_broker_restart_both_kinds_of_machine_flow_again(mosquitto: Mosquitto) -> None:
    simulator = SimulatedMqttMachines(mosquitto.url, interval_s=0.05)
    twin, bindings = plant_twin(simulator)
    adapter = MqttAdapter(MqttSource(name="sim", url=mosquitto.url, backoff=Backoff(initial_s=0.05, max_s=0.2)),
                          bindings, twin)
    await adapter.start()
    await adapter.wait_connected(10)
    await simulator.start()
    try:
        temperatures = [twin.live(f"urn:test:sm:{machine}", "temperature") for machine in simulator.machines]
        await eventually(lambda: all(h.quality is Quality.GOOD for h in temperatures), what="first values")
        mosquitto.restart()
        await eventually(lambda: adapter.stats.broker_losses == 1, what="the loss")
        before = [h.timestamp or 0.0 for h in temperatures]
        await eventually(lambda: all(h.quality is Quality.GOOD and (h.timestamp or 0) > t
                                     for h, t in zip(temperatures, before, strict=True)),
                         timeout=15, what="fresh Good values from both machines")
        # the edge node is born again on its new session (NBIRTH, then DBIRTH right after it)
        await eventually(lambda: adapter.sparkplug.stats.births >= 4, what="the rebirth")
    finally:
        await simulator.stop()
        await adapter.stop()
