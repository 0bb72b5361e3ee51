"""What a plant engineer writes: a machine's ``simulation:`` block and a what-if scenario.

Machines carry their block in the plant description (validated with the rest of the plant
file); a scenario names the changes to try. Times follow shop-floor habit: cycle times in
seconds, failure, repair and maintenance times in (operating) hours.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twinbridge.simulation.distributions import Distribution

MAX_HORIZON_H = 24 * 366.0
"""One year: longer horizons answer 400 (a week of a 20-machine line takes ~0.5 s per replication)."""
MAX_REPLICATIONS = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Failures(_Strict):
    """Operation-dependent failures: a machine ages only while it works, as in most line models."""

    time_between_h: Distribution = Field(description="operating hours between failures (MTBF is its mean)")
    time_to_repair_h: Distribution = Field(description="hours from a failure to the machine running again")
    predictable: float = Field(
        0.8, ge=0, le=1,
        description="share of failures that condition monitoring sees coming (used by predictive maintenance)",
    )


class PowerProfile(_Strict):
    running: float = Field(0.0, ge=0, description="kW while processing")
    idle: float = Field(0.0, ge=0, description="kW while starved, blocked or waiting for a shift")
    down: float = Field(0.0, ge=0, description="kW while failed or in maintenance")


class MachineSimulation(_Strict):
    """The ``simulation:`` block of a machine asset."""

    cycle_time_s: float = Field(gt=0, description="mean seconds one station needs for one part")
    cycle_time: Distribution | None = Field(
        None, description="distribution of the cycle time in seconds (default: always cycle_time_s)"
    )
    stations: int = Field(1, ge=1, le=64, description="identical stations working in parallel")
    buffer_after: int = Field(10, ge=1, le=1_000_000, description="places between this machine and the next")
    failures: Failures | None = None
    scrap_rate: float = Field(0.0, ge=0, lt=1, description="share of parts scrapped at this machine")
    power_kw: PowerProfile = PowerProfile()
    running_signal: str = Field(
        "Running", min_length=1,
        description="boolean signal whose recorded stops estimate failures when a scenario asks for history",
    )

    @model_validator(mode="after")
    def _cycle_mean(self) -> MachineSimulation:
        if self.cycle_time is not None and abs(self.cycle_time.mean - self.cycle_time_s) > 1e-6 * self.cycle_time_s:
            raise ValueError(
                f"cycle_time has mean {self.cycle_time.mean:g} s but cycle_time_s is {self.cycle_time_s:g} s"
            )
        return self


class Reactive(_Strict):
    """Repair when it breaks."""

    kind: Literal["reactive"] = "reactive"

    def service_due_s(self, next_failure_s: float, predicted: bool) -> float:
        """Operating seconds after a renewal at which the next service is due (never)."""
        return math.inf

    @property
    def service_s(self) -> float:
        return 0.0


class Preventive(_Strict):
    """Service every ``interval_h`` operating hours; a service renews the machine like a repair."""

    kind: Literal["preventive"] = "preventive"
    interval_h: float = Field(gt=0)
    duration_h: float = Field(gt=0)

    def service_due_s(self, next_failure_s: float, predicted: bool) -> float:
        return self.interval_h * 3600.0

    @property
    def service_s(self) -> float:
        return self.duration_h * 3600.0


class Predictive(_Strict):
    """Service when the remaining useful life falls below ``rul_threshold_h``.

    Only the ``predictable`` share of failures is seen coming (condition monitoring misses the
    rest, which then stop the machine as under reactive maintenance).
    """

    kind: Literal["predictive"] = "predictive"
    rul_threshold_h: float = Field(gt=0)
    duration_h: float = Field(gt=0)

    def service_due_s(self, next_failure_s: float, predicted: bool) -> float:
        return max(0.0, next_failure_s - self.rul_threshold_h * 3600.0) if predicted else math.inf

    @property
    def service_s(self) -> float:
        return self.duration_h * 3600.0


Policy = Annotated[Reactive | Preventive | Predictive, Field(discriminator="kind")]


class ShiftCalendar(_Strict):
    """Working time: ``shifts_per_day`` shifts of ``hours_per_shift`` from midnight, ``days_per_week`` days."""

    shifts_per_day: int = Field(3, ge=1, le=3)
    hours_per_shift: float = Field(8.0, gt=0, le=8)
    days_per_week: int = Field(7, ge=1, le=7)


class MachineChange(_Strict):
    machine: str = Field(min_length=1, description="idShort of a simulated machine")
    cycle_time_s: float | None = Field(None, gt=0)
    speed_factor: float | None = Field(None, gt=0, le=100, description="1.2 = 20 % faster (cycle time / 1.2)")
    buffer_after: int | None = Field(None, ge=1, le=1_000_000)
    stations: int | None = Field(None, ge=1, le=64)
    scrap_rate: float | None = Field(None, ge=0, lt=1)


class NewMachine(_Strict):
    after: str = Field(min_length=1, description="idShort of the machine the new one follows")
    id_short: str = Field(min_length=1)
    simulation: MachineSimulation


class Scenario(_Strict):
    name: str = Field("scenario", min_length=1, max_length=200)
    line: str | None = Field(None, description="idShort of the line to simulate (default: every simulated line)")
    horizon_h: float = Field(168.0, gt=0, le=MAX_HORIZON_H)
    warmup_h: float = Field(8.0, ge=0)
    replications: int = Field(10, ge=2, le=MAX_REPLICATIONS)
    seed: int = Field(1, ge=0, le=2**63 - 1)
    changes: list[MachineChange] = Field(default_factory=list, max_length=1000)
    add: list[NewMachine] = Field(default_factory=list, max_length=100)
    remove: list[str] = Field(default_factory=list, max_length=100)
    maintenance: Policy = Reactive()
    shifts: ShiftCalendar | None = Field(None, description="default: the plant runs around the clock")
    compare: bool = Field(True, description="also run the unchanged baseline with the same random numbers")
    estimate_from_history: bool = Field(
        False, description="take failure and repair times from each machine's recorded running signal where "
        "the history holds enough stops (the job's parameters say which machines)",
    )
    history_window_h: float = Field(24 * 28.0, gt=0, le=MAX_HORIZON_H, description="how far back to look")

    @model_validator(mode="after")
    def _warmup(self) -> Scenario:
        if self.warmup_h >= self.horizon_h:
            raise ValueError(f"warmup_h ({self.warmup_h:g}) must be shorter than horizon_h ({self.horizon_h:g})")
        return self

    def baseline(self) -> Scenario:
        """The plant as it runs today (reactive maintenance, around the clock, no changes), over the
        same lines, horizon and random numbers, so differences come from the changes alone."""
        return self.model_copy(
            update={"changes": [], "add": [], "remove": [], "maintenance": Reactive(), "shifts": None,
                    "name": "baseline"}
        )


class SimulationSettings(_Strict):
    """The plant file's ``simulation:`` section: each simulated machine's block, by idShort, and
    how many worker processes and concurrent jobs the server allows."""

    machines: dict[str, MachineSimulation] = Field(default_factory=dict)
    workers: int | None = Field(None, ge=1, le=64, description="worker processes (default: one per core)")
    max_active: int = Field(4, ge=1, le=100, description="scenario jobs running at once; more answer 429")
