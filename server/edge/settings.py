"""``server.edge`` in the plant file: this instance forwards its changes (edge) or applies an
edge's (central), over an MQTT broker.

```yaml
server:
  edge:
    role: edge                    # or central
    url: mqtt://broker:1883       # mqtts:// and tls/credentials as for MQTT sources
    edge_id: line-7               # role edge: who this edge is (topic level, sequence owner)
    topic_prefix: twinbridge/edge
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from twinbridge.adapters.config import Strict
from twinbridge.adapters.mqtt.config import MqttSource, MqttTls


class EdgeSettings(Strict):
    role: Literal["edge", "central"]
    url: str = Field(pattern=r"^mqtts?://", description="the broker between edge and central")
    edge_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$",
                                description="role edge: this edge's name (its topics and sequence numbers)")
    topic_prefix: str = Field("twinbridge/edge", pattern=r"^[^#+]+$")
    username: str | None = None
    password: str | None = None
    tls: MqttTls | None = None
    keepalive_s: int = Field(30, ge=1)
    resend_after_s: float = Field(3.0, gt=0, description="edge: unacknowledged changes are sent again after this")
    capacity: int = Field(1_000_000, ge=1, description="edge: changes the bus may hold while the outbox writes")

    @model_validator(mode="after")
    def _edge_needs_a_name(self) -> EdgeSettings:
        if self.role == "edge" and self.edge_id is None:
            raise ValueError("role edge needs edge_id (the name its changes are sent under)")
        return self

    def mqtt_source(self, client_id: str) -> MqttSource:
        return MqttSource(name=f"edge-{self.role}", url=self.url, username=self.username, password=self.password,
                          client_id=client_id, keepalive_s=self.keepalive_s, tls=self.tls)
