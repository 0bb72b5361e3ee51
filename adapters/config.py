"""The southbound part of the plant description, common to every protocol: sources (devices,
brokers), bindings (one device point → one AAS element) and the reconnect backoff.

Each protocol package adds its own models (``adapters/modbus/config.py``,
``adapters/mqtt/config.py``): a source model with a literal ``kind`` and a point model that a
binding carries under the key of that kind (``modbus: {...}``, ``mqtt: {...}``). The registry
(``adapters/registry.py``) assembles them into the plant file's schema: ``sources`` is a
discriminated union on ``kind`` and each binding gets one optional field per kind, so
``twinbridge validate`` reports an error inside a point with its full path
(``bindings[3].modbus.address``) and line.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

P = TypeVar("P", bound=BaseModel)


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a plant file must not silently do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Backoff(Strict):
    """Reconnect delays: ``initial_s · 2ⁿ`` capped at ``max_s``, each drawn from ``[(1 − jitter)·d, d]``."""

    initial_s: float = Field(0.5, gt=0, description="first reconnect delay")
    max_s: float = Field(30.0, gt=0, description="upper bound of the exponential backoff")
    jitter: float = Field(
        0.2, ge=0, le=1,
        description="fraction of each delay drawn at random, so sources that lost one peer do not retry in step",
    )


class ElementTarget(Strict):
    """Which AAS element a point feeds: shell (idShort or id), submodel (idShort or semanticId), path."""

    shell: str = Field(min_length=1)
    submodel: str = Field(min_length=1)
    path: str = Field(min_length=1, description="idShortPath inside the submodel, e.g. Spindle.Speed")


class SourceConfig(Strict):
    """What every source has; a protocol's source model adds ``kind: Literal[...]`` and its fields."""

    kind: str
    name: str = Field(min_length=1)
    backoff: Backoff = Backoff()


_BINDING_FIELDS = frozenset(("source", "target", "writable"))


class Binding(BaseModel):
    """One device point feeding one element; the point sits under its source's kind key.

    Built by hand (tests, benchmarks) the point is an extra keyword:
    ``Binding(source="press", target=..., modbus=ModbusPoint(address=3))``. In a plant file the
    registry's binding model declares one field per kind, so a point is validated with its path.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    source: str = Field(min_length=1, description="name of a source")
    target: ElementTarget
    writable: bool = False

    def points(self) -> dict[str, object]:
        """The point configurations by kind key (a valid binding has exactly one)."""
        found = {key: value for key, value in (self.model_extra or {}).items() if value is not None}
        for key in type(self).model_fields:
            if key not in _BINDING_FIELDS and (value := getattr(self, key)) is not None:
                found[key] = value
        return found

    def point(self, kind: str, model: type[P]) -> P | None:
        """The point under ``kind`` as a ``model`` (a hand-written dict is validated here), or None."""
        value = self.points().get(kind)
        if value is None or isinstance(value, model):
            return value
        return model.model_validate(value)

    @model_validator(mode="after")
    def _one_point(self) -> Binding:
        points = self.points()
        if len(points) != 1:
            kinds = [key for key in type(self).model_fields if key not in _BINDING_FIELDS]
            choices = " or ".join(repr(kind) for kind in kinds) if kinds else "a point under its source's kind"
            found = ", ".join(repr(key) for key in points) or "none"
            raise ValueError(f"a binding needs exactly one of {choices} (found {found})")
        return self


class Southbound(Strict):
    """``sources`` and ``bindings`` of a plant description, validated and cross-checked by the
    registry's model (``twinbridge.adapters.registry.validate_southbound``)."""

    sources: list[SourceConfig] = Field(default_factory=list)
    bindings: list[Binding] = Field(default_factory=list)
