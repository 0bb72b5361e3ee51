"""``server.events`` in the plant file: the northbound event channels.

```yaml
server:
  events:
    sse: {heartbeat_s: 15, capacity: 10000, send_timeout_s: 10}
    mqtt:
      url: mqtt://broker:1883          # mqtts:// and tls/credentials as for MQTT sources
      topic_layout: async-aas          # or basyx
      qos: 1
      retain: false
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
    capacity: int = Field(100_000, ge=1, description="events queued while the broker is slow or absent")
    base_url: str | None = Field(None, description="CloudEvents `source` base; default: the REST API's URL")


class EventsSettings(Strict):
    sse: SseConfig = SseConfig()
    mqtt: MqttEvents | None = None
