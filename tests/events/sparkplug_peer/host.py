"""An independent Sparkplug B host application for the tests: PyPI ``pysparkplug`` (its own
protobuf and its own MQTT client, never twinbridge's code), run in its own venv (it needs
paho-mqtt < 2, twinbridge 2.x).

``python host.py PORT GROUP`` prints one JSON line per message it decodes under
``spBv1.0/GROUP/#`` and ``spBv1.0/STATE/#`` (names resolved from the births, as a host does
with aliases); a line ``rebirth NODE`` on stdin sends that node the NCMD
``Node Control/Rebirth``. It prints ``{"ready": true}`` once its subscriptions are in place.

pysparkplug's ``Metric`` leaves out the metric's PropertySet; the ``Quality`` property is read
from the same message with pysparkplug's own protobuf classes (still none of twinbridge's).
"""

from __future__ import annotations

import datetime
import json
import sys
import threading

import pysparkplug as spb
from pysparkplug._protobuf import Payload


def jsonable(value: object) -> object:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


PROBE = "spBv1.0/STATE/pysparkplug-probe"


def quality(metric: object) -> object:
    """The metric's ``Quality`` property (Sparkplug 3.0: type Int32, int_value), None without one."""
    properties = getattr(metric, "properties", None)
    if properties is None or "Quality" not in properties.keys:
        return None
    value = properties.values[list(properties.keys).index("Quality")]
    return {"type": value.type, "value": value.int_value}


def main() -> None:
    port, group = int(sys.argv[1]), sys.argv[2]
    lock = threading.Lock()
    ready = threading.Event()

    def emit(line: dict[str, object]) -> None:
        with lock:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()

    raw: list[bytes] = [b""]  # the undecoded payload of the message being handled

    def received(_client: spb.Client, message: spb.Message) -> None:
        topic, payload = message.topic, message.payload
        line: dict[str, object] = {"topic": str(topic), "retain": bool(message.retain)}
        if str(topic) == PROBE:
            ready.set()  # our own subscriptions are in place: the broker routed this back to us
            return
        if isinstance(payload, spb.State):
            line.update(type="STATE", online=payload.online, timestamp=payload.timestamp)
        else:
            line.update(type=str(topic.message_type), node=topic.edge_node_id, device=topic.device_id)
            if isinstance(payload, spb.NDeath):
                line["bdSeq"] = payload.bd_seq_metric.value
            else:
                line["seq"] = getattr(payload, "seq", None)  # commands carry none
                qualities = [quality(pb) for pb in Payload.FromString(raw[0]).metrics]
                line["metrics"] = [
                    {"name": metric.name, "alias": metric.alias, "datatype": metric.datatype.name,
                     "value": jsonable(metric.value), "null": metric.is_null, "timestamp": metric.timestamp,
                     "quality": found}
                    for metric, found in zip(getattr(payload, "metrics", ()), qualities, strict=True)]
        emit(line)

    client = spb.Client(client_id="pysparkplug-host")
    decode = client._handle_message

    def keep_raw(mqtt_message: object) -> spb.Message:
        raw[0] = bytes(getattr(mqtt_message, "payload", b""))
        return decode(mqtt_message)

    client._handle_message = keep_raw  # type: ignore[method-assign]

    def connected(client: spb.Client) -> None:
        client.subscribe(spb.Topic.from_str(f"spBv1.0/{group}/#"), spb.QoS.AT_LEAST_ONCE, received)
        client.subscribe(spb.Topic.from_str("spBv1.0/STATE/+"), spb.QoS.AT_LEAST_ONCE, received)
        client.publish(spb.Message(topic=spb.Topic.from_str(PROBE),
                                   payload=spb.State(timestamp=spb.get_current_timestamp(), online=True),
                                   qos=spb.QoS.AT_LEAST_ONCE, retain=False))

    client.connect("127.0.0.1", port=port, callback=connected)
    ready.wait(10)
    emit({"ready": True})
    for command in sys.stdin:
        verb, _, node = command.strip().partition(" ")
        if verb == "rebirth":
            rebirth = spb.Metric(timestamp=spb.get_current_timestamp(), name="Node Control/Rebirth",
                                 datatype=spb.DataType.BOOLEAN, value=True)
            client.publish(spb.Message(
                topic=spb.Topic(group_id=group, message_type=spb.MessageType.NCMD, edge_node_id=node),
                payload=spb.NCmd(timestamp=spb.get_current_timestamp(), metrics=(rebirth,)),
                qos=spb.QoS.AT_MOST_ONCE, retain=False), include_dtypes=True)
    client.disconnect()


if __name__ == "__main__":
    main()
