"""Remaining useful life in the twin: a health indicator's samples feed a :class:`TrendRul` (or a
:class:`CurveRul`, which first reads them as life share through a health curve), and every
``every`` samples the estimate is written to the asset's Predictive Maintenance submodel.

IDTA 02048 1.0 elements written (under ``RemainingUsefulLifePrediction``):
``RemainingUsefulLifetime`` (Entity: IndicationType "time", DurationValue in s, EngineeringUnit
"s", StartValue 0, StartDateTime = the estimate's time), ``RemainingUsfulLifeDateTime`` (the
template's spelling: the predicted end of life) and ``ConfidenceInterval`` (Range, s). What the
template has no element for goes to a ``HealthAssessment`` collection beside it (twinbridge
semanticIds): ``HealthIndicator`` (1 healthy .. 0 failed), the recommended maintenance window
``MaintenanceWindowStart``/``MaintenanceWindowEnd`` (ISO date-times) and ``DegradationOnset``.

Why at most one estimate per ``min_spacing_s`` of the signal's own time (1 s by default), besides
``every``: an estimate refits the whole window (~10-30 ms), so under a burst (a broker replaying its
queue, a fast device) an estimate every 10 samples cost more CPU than the ingest itself (100
signals flooding over MQTT: ~95% of the CPU, bench/bench_analytics_mqtt.py); a remaining life in
hours or days does not change within a second. Samples still all reach the estimator.

Why ``write_value``: estimates are rare (one per ``every`` samples) and each should be durable,
so they take the client write path, which logs them; the per-sample anomaly scores do not.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from basyx.aas import model

from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import Origin, ValueChanged
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.aas.values import RangeValue
from twinbridge.analytics.feed import AnalyticsFeed
from twinbridge.analytics.monitor import NUMBER
from twinbridge.analytics.rul import RulEstimate, RulEstimator

log = logging.getLogger(__name__)

PREDICTION = "RemainingUsefulLifePrediction"
LIFETIME = f"{PREDICTION}.RemainingUsefulLifetime"
END_OF_LIFE = f"{PREDICTION}.RemainingUsfulLifeDateTime"  # sic: the template's idShort
INTERVAL = f"{PREDICTION}.ConfidenceInterval"
HEALTH = "HealthAssessment"
_IDTA = "https://admin-shell.io/idta/PredictiveMaintenance/"
_OURS = "https://twinbridge.example/analytics/"
ORIGIN = Origin("rul-monitor", "analytics")


def _semantic(iri: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, iri),))


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class RulMonitor:
    """Watches one health-indicator element; writes RUL, interval, health and maintenance window."""

    def __init__(self, twin: Twin, maintenance_submodel_id: str, submodel_id: str, path: str,
                 estimator: RulEstimator, *, every: int = 10, min_spacing_s: float = 1.0,
                 feed: AnalyticsFeed | None = None) -> None:
        """Without ``feed``, the monitor has a feed of its own."""
        if every < 1:
            raise ValueError(f"every: must be >= 1, got {every}")
        self._min_spacing = min_spacing_s
        self._estimated_at = -math.inf  # source time of the last sample an estimate covered
        self._twin = twin
        self._submodel = maintenance_submodel_id
        self._source = (submodel_id, path)
        self._estimator = estimator
        self._every = every
        self._pending = 0
        self.last: RulEstimate | None = None
        self._own_feed = feed is None
        self._feed = AnalyticsFeed(twin) if feed is None else feed

    def start(self) -> None:
        source = self._twin.live(*self._source)
        self._ensure_elements()
        self._feed.route(self, [source])
        if self._own_feed:
            self._feed.start()

    async def stop(self) -> None:
        if self._own_feed:
            await self._feed.stop()

    def _ensure_elements(self) -> None:
        twin, sm = self._twin, self._submodel
        twin.element(sm, LIFETIME)  # the PM skeleton must be there (NotFound names it)
        self._add(PREDICTION, model.Property("RemainingUsfulLifeDateTime", model.datatypes.DateTime, None,
                                             semantic_id=_semantic(f"{_IDTA}RemainingUsfulLifeDateTime/1/0")))
        self._add(PREDICTION, model.Range("ConfidenceInterval", model.datatypes.Double,
                                          semantic_id=_semantic(f"{_IDTA}ConfidenceInterval/1/0")))
        self._add(None, model.SubmodelElementCollection(HEALTH, semantic_id=_semantic(f"{_OURS}{HEALTH}/1/0")))
        for name, kind in (("HealthIndicator", model.datatypes.Double), ("DegradationOnset", model.datatypes.String),
                           ("MaintenanceWindowStart", model.datatypes.String),
                           ("MaintenanceWindowEnd", model.datatypes.String)):
            self._add(HEALTH, model.Property(name, kind, None, semantic_id=_semantic(f"{_OURS}{name}/1/0")))

    def _add(self, parent: str | None, element: model.SubmodelElement) -> None:
        path = f"{parent}.{element.id_short}" if parent else str(element.id_short)
        try:
            self._twin.element(self._submodel, path)
        except NotFound:
            self._twin.add_element(self._submodel, parent, element, origin=ORIGIN)

    async def accept(self, events: list[ValueChanged]) -> None:
        latest = self._estimated_at
        for event in events:
            value = event.value
            if event.quality is Quality.BAD or not isinstance(value, NUMBER) or isinstance(value, bool):
                continue
            try:
                self._estimator.update(event.timestamp, float(value))
            except ValueError as error:  # an out-of-order timestamp: skip the sample, say why
                log.warning("rul monitor: %s", error)
                continue
            self._pending += 1
            latest = event.timestamp
        if self._pending >= self._every and latest - self._estimated_at >= self._min_spacing:
            self._pending = 0
            self._estimated_at = latest
            await self.publish(self._estimator.estimate())

    async def publish(self, estimate: RulEstimate) -> None:
        self.last = estimate
        twin, sm = self._twin, self._submodel
        write = twin.write_value
        await write(twin.live(sm, f"{HEALTH}.HealthIndicator"), estimate.health, origin=ORIGIN)
        await write(twin.live(sm, f"{LIFETIME}.IndicationType"), "time", origin=ORIGIN)
        await write(twin.live(sm, f"{LIFETIME}.EngineeringUnit"), "s", origin=ORIGIN)
        await write(twin.live(sm, f"{LIFETIME}.StartValue"), 0.0, origin=ORIGIN)
        await write(twin.live(sm, f"{LIFETIME}.StartDateTime"), _iso(estimate.time), origin=ORIGIN)
        if estimate.rul is None:
            return  # no trend toward failure: the previous prediction stays, the health says why
        await write(twin.live(sm, f"{LIFETIME}.DurationValue"), estimate.rul, origin=ORIGIN)
        await write(twin.live(sm, END_OF_LIFE), _iso(estimate.time + estimate.rul), origin=ORIGIN)
        if estimate.lower is not None and estimate.upper is not None:
            await write(twin.live(sm, INTERVAL), RangeValue(estimate.lower, estimate.upper), origin=ORIGIN)
        if estimate.onset is not None:
            await write(twin.live(sm, f"{HEALTH}.DegradationOnset"), _iso(estimate.onset), origin=ORIGIN)
        if estimate.maintenance is not None:
            start, end = estimate.maintenance
            await write(twin.live(sm, f"{HEALTH}.MaintenanceWindowStart"), _iso(start), origin=ORIGIN)
            await write(twin.live(sm, f"{HEALTH}.MaintenanceWindowEnd"), _iso(end), origin=ORIGIN)
