"""The southbound part of the plant description: sources (devices, brokers) and bindings.

A binding ties one device point to one AAS element. The server's configuration schema
embeds these models under ``sources:`` and ``bindings:``; ``twinbridge validate`` reports
their errors with the field path.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a plant file must not silently do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Backoff(Strict):
    initial_s: float = Field(0.5, gt=0, description="first reconnect delay")
    max_s: float = Field(30.0, gt=0, description="upper bound of the exponential backoff")


# ----------------------------------------------------------------------------- targets
class ElementTarget(Strict):
    """Which AAS element a point feeds: shell (idShort or id), submodel (idShort or semanticId), path."""

    shell: str = Field(min_length=1)
    submodel: str = Field(min_length=1)
    path: str = Field(min_length=1, description="idShortPath inside the submodel, e.g. Spindle.Speed")


# ------------------------------------------------------------------------------ modbus
ModbusArea = Literal["coil", "discrete_input", "input_register", "holding_register"]
ModbusType = Literal[
    "bool", "bit", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"
]
ByteOrder = Literal["ABCD", "BADC", "CDAB", "DCBA"]


class ModbusPollGroup(Strict):
    interval_ms: int = Field(1000, ge=10, le=3_600_000)


class ModbusSource(Strict):
    kind: Literal["modbus"] = "modbus"
    name: str = Field(min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=255, description="default unit id of the points")
    timeout_s: float = Field(1.0, gt=0)
    one_based: bool = Field(
        False,
        description="point addresses count from 1 as in many device manuals (address 1 is protocol "
        "address 0); 40001-style area prefixes are not used: the area is its own field",
    )
    coalesce_gap: int = Field(
        0, ge=0, le=100,
        description="unused registers/bits one read may span to join two points (0: only adjacent points)",
    )
    poll_groups: dict[str, ModbusPollGroup] = Field(default_factory=lambda: {"default": ModbusPollGroup()})
    backoff: Backoff = Backoff()


class ModbusPoint(Strict):
    area: ModbusArea = "holding_register"
    address: int = Field(ge=0, le=65535)
    unit: int | None = Field(None, ge=0, le=255)
    type: ModbusType = "uint16"
    order: ByteOrder = Field(
        "ABCD", description="byte/word order of multi-register values; ABCD is big-endian, CDAB swaps words"
    )
    length: int | None = Field(None, ge=1, le=125, description="registers of a string")
    bit: int | None = Field(None, ge=0, le=15, description="bit index for type 'bit'")
    scale: float = 1.0
    offset: float = 0.0
    deadband: float = Field(0.0, ge=0)
    poll_group: str = "default"

    @model_validator(mode="after")
    def _fits(self) -> ModbusPoint:
        bit_area = self.area in ("coil", "discrete_input")
        if bit_area and self.type != "bool":
            raise ValueError(f"a {self.area} holds one bit: type must be 'bool', not {self.type!r}")
        if self.type == "string" and self.length is None:
            raise ValueError("type 'string' needs 'length' (registers, two characters each)")
        if self.type != "string" and self.length is not None:
            raise ValueError(f"'length' only applies to type 'string', not {self.type!r}")
        if (self.type == "bit") != (self.bit is not None):
            raise ValueError("type 'bit' needs 'bit' (0-15), and 'bit' needs type 'bit'")
        span = self.length if self.type == "string" else MODBUS_TYPE_REGISTERS[self.type]
        if self.address + (span or 1) - 1 > 65535:
            raise ValueError(
                f"a {self.type} at address {self.address} spans {span} registers, past the last address 65535"
            )
        if self.scale == 0:
            raise ValueError("scale 0 would make every value 0 (and write-back impossible)")
        return self


MODBUS_TYPE_REGISTERS: dict[str, int] = {
    "bool": 1, "bit": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2,
    "int64": 4, "uint64": 4, "float32": 2, "float64": 4,
}
"""Registers a value of each fixed-size type occupies (a string's span is its ``length``)."""


# -------------------------------------------------------------------------------- mqtt
class MqttTls(Strict):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


class MqttSource(Strict):
    kind: Literal["mqtt"] = "mqtt"
    name: str = Field(min_length=1)
    url: str = Field("mqtt://127.0.0.1:1883", pattern=r"^mqtts?://")
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    clean_session: bool = True
    keepalive_s: int = Field(30, ge=1)
    tls: MqttTls | None = None
    backoff: Backoff = Backoff()

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
        # Imported here: adapters.mqtt imports this module (its adapter reads these models).
        from twinbridge.adapters.mqtt.selectors import Selector
        from twinbridge.adapters.mqtt.topics import check_filter, check_topic
        from twinbridge.adapters.sparkplug.topics import binding_topic

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


# ---------------------------------------------------------------------------- bindings
Source = ModbusSource | MqttSource


class Binding(Strict):
    source: str = Field(min_length=1, description="name of a source")
    target: ElementTarget
    writable: bool = False
    modbus: ModbusPoint | None = None
    mqtt: MqttPoint | None = None

    @model_validator(mode="after")
    def _one_point(self) -> Binding:
        if (self.modbus is None) == (self.mqtt is None):
            raise ValueError("a binding needs exactly one of 'modbus' or 'mqtt'")
        return self


class Southbound(Strict):
    """``sources`` and ``bindings`` of a plant description, cross-checked."""

    sources: list[Annotated[ModbusSource | MqttSource, Field(discriminator="kind")]] = Field(default_factory=list)
    bindings: list[Binding] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_check(self) -> Southbound:
        by_name: dict[str, ModbusSource | MqttSource] = {}
        for source in self.sources:
            if source.name in by_name:
                raise ValueError(f"duplicate source name {source.name!r}")
            by_name[source.name] = source
        for index, binding in enumerate(self.bindings):
            where = f"bindings[{index}]"
            if binding.source not in by_name:
                raise ValueError(f"{where}: unknown source {binding.source!r}")
            source = by_name[binding.source]
            if isinstance(source, ModbusSource):
                if binding.modbus is None:
                    raise ValueError(f"{where}: source {source.name!r} is Modbus, the binding needs 'modbus'")
                if binding.modbus.poll_group not in source.poll_groups:
                    raise ValueError(f"{where}: poll group {binding.modbus.poll_group!r} is not declared")
                if source.one_based and binding.modbus.address == 0:
                    raise ValueError(f"{where}: address 0 does not exist, source {source.name!r} counts from 1")
                if binding.writable and binding.modbus.area not in ("holding_register", "coil"):
                    raise ValueError(f"{where}: writable, but Modbus cannot write a {binding.modbus.area}")
            elif binding.mqtt is None:
                raise ValueError(f"{where}: source {source.name!r} is MQTT, the binding needs 'mqtt'")
        return self
