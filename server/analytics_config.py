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

import datetime as dt
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from twinbridge.analytics.detectors import DEFAULT_DETECTOR, names
from twinbridge.analytics.expressions import ExpressionError, compile_expression
from twinbridge.analytics.filters import FilterError, build_chain
from twinbridge.analytics.rul import HealthCurve
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
    """How a signal is trended to a remaining useful life (analytics/rul.py).

    Why ``curve`` is declared first: pydantic validates fields in declaration order, so the fields
    after it (levels, ``shape``, ``installed``) are checked against it and each error names the
    field that is wrong. ``shape`` and ``installed`` are checked only when given."""

    curve: list[tuple[float, float]] | None = Field(
        None, description="[life_share, value] pairs of the signal's course over a life, learnt from past "
                          "run-to-failure units (analytics.rul.HealthCurve(runs).points()): at least 3, shares "
                          "strictly increasing from 0 (new) to 1 (failed), values strictly rising or falling. "
                          "Readings are read as life share through it, for a drift that is no power law")
    failure_level: float | None = Field(
        None, validate_default=True, description="the signal's value at failure (with curve: its last value)")
    healthy_level: float | None = Field(
        None, validate_default=True,
        description="its value when new (default: mean of the first samples; with curve: its first value)")
    shape: float = Field(1.0, gt=0, description="the drift exponent p (level + b·t^p) learnt from past units with "
                                                "analytics.rul.fit_shape, as bench/bench_rul.py does; not with curve")
    installed: AwareDatetime | None = Field(
        None, description="with curve: when the part was installed (life share 0), ISO 8601 with offset "
                          "(default: the time of the first sample the monitor sees)")
    every: int = Field(10, ge=1, description="samples between two estimates")
    limit_s: float | None = Field(None, gt=0, description="an RUL below this raises an alarm")
    alarm_health: float = Field(
        0.5, gt=0, le=1, description="the RUL alarm waits until the health indicator (1 new .. 0 failed) is this "
                                     "low: a trend fitted to a start-up ramp would predict the end of a new machine")

    @field_validator("curve")
    @classmethod
    def _curve(cls, points: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        if points is not None:
            HealthCurve.from_points(points)  # its ValueError names what is wrong
        return points

    @field_validator("failure_level", "healthy_level")
    @classmethod
    def _curve_end(cls, level: float | None, info: ValidationInfo) -> float | None:
        curve = info.data.get("curve")
        if curve is None:
            if level is None and info.field_name == "failure_level" and "curve" in info.data:
                raise ValueError("required (unless a curve gives it)")
            return level
        end = curve[-1][1] if info.field_name == "failure_level" else curve[0][1]
        if level is not None and level != end:
            raise ValueError(f"is {level:g} but the curve {'ends' if info.field_name == 'failure_level' else 'starts'}"
                             f" at {end:g}: with a curve, leave it out")
        return end

    @field_validator("shape")
    @classmethod
    def _no_shape_with_curve(cls, shape: float, info: ValidationInfo) -> float:
        if info.data.get("curve") is not None:
            raise ValueError("not with a curve: read through the curve, the drift is a straight line (shape 1)")
        return shape

    @field_validator("installed")
    @classmethod
    def _installed_needs_curve(cls, installed: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        if "curve" in info.data and info.data["curve"] is None:
            raise ValueError("only with a curve: it is the curve's life share 0")
        return installed


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
