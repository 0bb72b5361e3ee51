"""``server.events`` in the plant file: the northbound event channels.

```yaml
server:
  events:
    sse: {heartbeat_s: 15, capacity: 10000, send_timeout_s: 10, replay: 10000}
    mqtt:
      url: mqtt://broker:1883          # mqtts:// and tls/credentials as for MQTT sources
      topic_layout: async-aas          # or basyx
      qos: 1
      retain: false
    sparkplug:
      url: mqtt://broker:1883
      host_id: twinbridge              # STATE spBv1.0/STATE/twinbridge (retained, with will)
      edge_node: {group_id: Plant1, node_id: twinbridge}   # NBIRTH/DBIRTH/DDATA, one device per asset
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from twinbridge.adapters.config import Strict
from twinbridge.adapters.mqtt.config import MqttTls


class SseConfig(Strict):
    heartbeat_s: float = Field(15.0, gt=0, description="a comment line on an idle stream every so often")
    capacity: int = Field(10_000, ge=1, description="events a client may fall behind before it is dropped")
    send_timeout_s: float = Field(10.0, gt=0, description="a write blocked this long drops the client")
    replay: int = Field(10_000, ge=1, description="events kept for clients resuming with Last-Event-ID")


class MqttEvents(Strict):
    url: str = Field(pattern=r"^mqtts?://", description="the broker events are published to")
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    keepalive_s: int = Field(30, ge=1)
    tls: MqttTls | None = None
    topic_layout: Literal["async-aas", "basyx"] = Field(
        "async-aas", description="async-aas: every CloudEvent on `topic` (as FA³ST); basyx: BaSyx's topic tree")
    topic: str = Field("noauth", min_length=1, description="async-aas layout: the topic (FA³ST's default)")
    repo_id: str = Field("sm-repo", min_length=1, description="basyx layout: the submodel repository's id")
    aas_repo_id: str = Field("aas-repo", min_length=1, description="basyx layout: the shell repository's id")
    qos: Literal[0, 1, 2] = 0
    retain: bool = Field(False, description="the broker keeps the last message per topic for new subscribers")
    capacity: int = Field(100_000, ge=1, description="events kept while the broker is slow or absent (the "
                          "event log holds at least this many)")
    base_url: str | None = Field(None, description="CloudEvents `source` base; default: the REST API's URL")


class SparkplugEdgeNode(Strict):
    group_id: str = Field(pattern=r"^[^/+#\s]+$", description="the Sparkplug group of the edge node")
    node_id: str = Field("twinbridge", pattern=r"^[^/+#\s]+$", description="the edge node's id")


class SparkplugEvents(Strict):
    url: str = Field(pattern=r"^mqtts?://", description="the broker the Sparkplug messages go to")
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    keepalive_s: int = Field(30, ge=1)
    tls: MqttTls | None = None
    host_id: str | None = Field(None, pattern=r"^[^/+#\s]+$",
                                description="publish the Sparkplug 3.0 host application STATE under this id")
    edge_node: SparkplugEdgeNode | None = Field(
        None, description="twinbridge as a Sparkplug B edge node: one device per asset, DDATA on change")


class EventsSettings(Strict):
    sse: SseConfig = SseConfig()
    mqtt: MqttEvents | None = None
    sparkplug: SparkplugEvents | None = None
