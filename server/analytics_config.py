"""The plant file's ``analytics:`` section: what the twin conditions, watches and predicts.

```yaml
analytics:
  signals:
    - asset: Filler1              # a shell idShort; signal: the signal's idShort in its OperationalData
      signal: Temperature
      filters: [{filter: ewma, alpha: 0.2}]          # applied to the value before the detector sees it
      anomaly: {detector: seasonal, raise_at: 0.9, clear_at: 0.5}
      rul: {failure_level: 95.0, healthy_level: 60.0, limit_s: 3600}
  virtual:
    - {asset: Filler1, id_short: SpecificEnergy, expression: "Power / max(SpindleSpeed, 1)"}
```

Why two checking passes: names that need no plant (detector and filter names, expression syntax,
hysteresis) are checked by the schema, so their errors come with field path and line like every
other schema error; names that need the built plant (the signal exists and is numeric, expression
inputs, cycles) are checked by :func:`analytics_problems` at ``twinbridge validate`` and at start.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from twinbridge.analytics.detectors import DEFAULT_DETECTOR, names
from twinbridge.analytics.expressions import ExpressionError, compile_expression
from twinbridge.analytics.filters import FilterError, build_chain
from twinbridge.submodels.templates.predictive_maintenance import WatchedSignal


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnomalySpec(_Strict):
    detector: str = Field(DEFAULT_DETECTOR, description="a registered detector (twinbridge detect --help lists them)")
    raise_at: float = Field(0.9, gt=0, le=1, description="anomaly score that raises the alarm")
    clear_at: float = Field(0.5, ge=0, lt=1, description="score below which the alarm clears (hysteresis)")
    min_interval_s: float = Field(300.0, ge=0, description="no new alarm this soon after a clear")

    @field_validator("detector")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in names():
            raise ValueError(f"unknown detector {name!r}; known: {', '.join(names())}")
        return name

    @model_validator(mode="after")
    def _hysteresis(self) -> AnomalySpec:
        if self.clear_at >= self.raise_at:
            raise ValueError(f"clear_at ({self.clear_at}) must be below raise_at ({self.raise_at})")
        return self


class RulSpec(_Strict):
    failure_level: float = Field(description="the signal's value at failure")
    healthy_level: float | None = Field(None, description="its value when new (default: mean of the first samples)")
    every: int = Field(10, ge=1, description="samples between two estimates")
    limit_s: float | None = Field(None, gt=0, description="an RUL below this raises an alarm")
    alarm_health: float = Field(
        0.5, gt=0, le=1, description="the RUL alarm waits until the health indicator (1 new .. 0 failed) is this "
                                     "low: a trend fitted to a start-up ramp would predict the end of a new machine")


class SignalSpec(_Strict):
    asset: str = Field(min_length=1, description="shell idShort (or id)")
    signal: str = Field(min_length=1, description="signal idShort in the asset's OperationalData")
    maintenance_asset: str | None = Field(
        None, description="whose Predictive Maintenance submodel gets the results (default: asset; a component "
                          "names its machine)")
    filters: list[dict[str, Any]] = Field(default_factory=list)
    anomaly: AnomalySpec | None = None
    rul: RulSpec | None = None

    @field_validator("filters")
    @classmethod
    def _filters(cls, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            build_chain(specs)
        except FilterError as error:
            raise ValueError(str(error)) from None
        return specs

    @property
    def name(self) -> str:
        """The signal's name in the PM submodel and in alarms: Filler1_Temperature."""
        return f"{self.asset}_{self.signal}".replace(".", "_")


class VirtualSpec(_Strict):
    asset: str = Field(min_length=1)
    id_short: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="the computed signal's idShort")
    expression: str = Field(min_length=1, description="over the asset's signal idShorts or sid(\"semanticId\")")

    @field_validator("expression")
    @classmethod
    def _syntax(cls, text: str) -> str:
        try:
            compile_expression(text)
        except ExpressionError as error:
            raise ValueError(str(error)) from None
        return text


class AnalyticsSettings(_Strict):
    signals: list[SignalSpec] = Field(default_factory=list)
    virtual: list[VirtualSpec] = Field(default_factory=list)
    alarm_history: int = Field(1000, ge=1, description="cleared alarms kept for GET /alarms")


def watched_signals(settings: AnalyticsSettings | None) -> list[WatchedSignal]:
    """The signals with anomaly detection or RUL, as the plant builder needs them: their results'
    asset gets a Predictive Maintenance submodel, an RUL's configuration its RULCondition."""
    out = []
    for spec in settings.signals if settings is not None else []:
        if spec.anomaly is None and spec.rul is None:
            continue
        rul = spec.rul
        out.append(WatchedSignal(spec.asset, spec.signal, spec.maintenance_asset or spec.asset,
                                 rul.failure_level if rul else None, rul.healthy_level if rul else None,
                                 len(spec.filters)))
    return out
