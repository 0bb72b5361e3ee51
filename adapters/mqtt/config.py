"""The MQTT part of a plant file: a ``kind: mqtt`` source (one broker) and the ``mqtt:`` point of a binding."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, model_validator

from twinbridge.adapters.config import SourceConfig, Strict
from twinbridge.adapters.mqtt.selectors import Selector
from twinbridge.adapters.mqtt.topics import check_filter, check_topic
from twinbridge.adapters.sparkplug.topics import binding_topic


def shown_url(url: str) -> str:
    """``url`` fit for a log or an error message: a password in it is replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class MqttTls(Strict):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


class MqttSource(SourceConfig):
    kind: Literal["mqtt"] = "mqtt"
    url: str = Field("mqtt://127.0.0.1:1883", pattern=r"^mqtts?://")
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    clean_session: bool = True
    keepalive_s: int = Field(30, ge=1)
    tls: MqttTls | None = None

    @model_validator(mode="after")
    def _check_session(self) -> MqttSource:
        if not self.clean_session and not self.client_id:
            raise ValueError("a persistent session (clean_session: false) needs a client_id")
        return self


class MqttPoint(Strict):
    topic: str = Field(min_length=1, description="topic or filter with + and # wildcards")
    qos: Literal[0, 1, 2] = 0
    payload: Literal["text", "json", "sparkplug"] = "json"
    value: str | None = Field(None, description="JSON selector ($.a.b[0]) or Sparkplug metric name")
    timestamp: str | None = Field(None, description="JSON selector of the source timestamp")
    command_topic: str | None = Field(
        None, description="where writes are published (JSON/text), or a Sparkplug DCMD topic"
    )

    @model_validator(mode="after")
    def _check_mqtt(self) -> MqttPoint:
        """Topic filters, selectors and Sparkplug topics are checked here so ``validate`` reports them."""
        check_filter(self.topic)
        if self.command_topic is not None:
            check_topic(self.command_topic)
        if self.payload == "sparkplug":
            binding_topic(self.topic)
            if not self.value:
                raise ValueError("a sparkplug point needs 'value': the metric name")
            if self.timestamp is not None:
                raise ValueError("a sparkplug point takes its timestamp from the metric; drop 'timestamp'")
        elif self.payload == "text":
            if self.value is not None or self.timestamp is not None:
                raise ValueError("a text payload has no fields; drop 'value' and 'timestamp'")
        else:
            for selector in (self.value, self.timestamp):
                if selector is not None:
                    Selector(selector)
        return self

