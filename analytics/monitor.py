"""Live anomaly scores in the twin: every sample of a monitored signal goes through its detector and
the score lands in the asset's Predictive Maintenance submodel (IDTA 02048).

Why an EVERY-mode subscription: a detector's statistics need every sample in order; the LATEST
mode would coalesce bursts and hide exactly the spikes it should see. Samples lost to a full inbox
are counted (``dropped``) and logged, never silent.

Where the scores go: IDTA 02048 1.0 defines ``RemainingUsefulLifePrediction`` and nothing for
anomaly scores, so they live beside it in a collection ``AnomalyDetection`` with twinbridge
semanticIds (one collection per signal: ``AnomalyScore``, ``Detector``, ``Signal``). The template's
own elements are left as the template defines them.

Why ``Twin.update`` and not ``write_value``: a score is a derived live value at the signal's own
rate, like a device value; the element is bound to the monitor (clients get NotWritable) and the
twin's periodic flush persists the latest value instead of one log row per sample.
"""

from __future__ import annotations

import decimal
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from basyx.aas import model

from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Follower
from twinbridge.aas.errors import InvalidInput, NotFound
from twinbridge.aas.events import Origin
from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.analytics.alarms import AlarmBook, AlarmRule, Severity
from twinbridge.analytics.detectors import DEFAULT_DETECTOR, Detector, create

log = logging.getLogger(__name__)
NUMBER = (int, float, decimal.Decimal)  # the Python types of numeric xs values (start() checked the element)

ANOMALY_COLLECTION = "AnomalyDetection"
SEMANTIC_BASE = "https://twinbridge.example/analytics/"
ORIGIN = Origin("anomaly-monitor", "analytics")
# Raise at a score of 0.9 (u = 9: about nine decimal orders of surprise), clear below 0.5; NAB's
# optimised thresholds for both detectors lie between 0.7 and 0.75, so 0.9 favours few false alarms.
ANOMALY_RULE = AlarmRule("anomaly", raise_at=0.9, clear_at=0.5, severity=Severity.MEDIUM,
                         message="anomalous signal", min_interval=300.0)


def _semantic(name: str) -> model.ExternalReference:
    return model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, f"{SEMANTIC_BASE}{name}/1/0"),))


@dataclass(frozen=True)
class MonitoredSignal:
    """A numeric element to watch, and the idShort its scores get in the PM submodel."""

    submodel_id: str
    path: str
    name: str


@dataclass
class _Watch:
    detector: Detector
    score: LiveElement
    name: str


class AnomalyMonitor:
    """Feeds detectors from the bus and publishes their scores; one detector per signal."""

    def __init__(self, twin: Twin, maintenance_submodel_id: str, signals: Sequence[MonitoredSignal], *,
                 detector: str = DEFAULT_DETECTOR, capacity: int = 100_000, alarms: AlarmBook | None = None,
                 rule: AlarmRule = ANOMALY_RULE) -> None:
        """With ``alarms``, every signal's score is also watched by ``rule`` (source: the signal's name)."""
        create(detector)  # an unknown name fails here, at start-up, not on the first sample
        self._twin = twin
        self._submodel = maintenance_submodel_id
        self._signals = tuple(signals)
        self._detector = detector
        self._alarms = alarms
        self._rule = rule
        self._watches: dict[int, _Watch] = {}
        self.dropped = 0
        self._follower = Follower(twin.bus, self._handle, "anomaly-monitor", mode=DeliveryMode.EVERY,
                                  submodels={s.submodel_id for s in self._signals}, capacity=capacity)

    def start(self) -> None:
        """Create the score elements (once), resolve every handle, subscribe. Errors name the signal."""
        self._twin.submodel(self._submodel)  # NotFound names the PM submodel
        for signal in self._signals:
            source = self._twin.live(signal.submodel_id, signal.path)
            element = source.element
            if not isinstance(element, model.Property) or element.value_type not in NUMERIC_TYPES:
                raise InvalidInput(f"anomaly monitor: {signal.submodel_id} {signal.path} is not a numeric Property")
            score = self._score_element(signal)
            self._watches[source.key] = _Watch(create(self._detector), score, signal.name)
            if self._alarms is not None:
                self._alarms.watch(signal.name, self._rule)
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    def score_path(self, signal: MonitoredSignal) -> str:
        return f"{ANOMALY_COLLECTION}.{signal.name}.AnomalyScore"

    def _score_element(self, signal: MonitoredSignal) -> LiveElement:
        twin = self._twin
        try:
            twin.element(self._submodel, ANOMALY_COLLECTION)
        except NotFound:
            twin.add_element(self._submodel, None, model.SubmodelElementCollection(
                ANOMALY_COLLECTION, semantic_id=_semantic(ANOMALY_COLLECTION)), origin=ORIGIN)
        path = f"{ANOMALY_COLLECTION}.{signal.name}"
        try:
            twin.element(self._submodel, path)
        except NotFound:
            twin.add_element(self._submodel, ANOMALY_COLLECTION, model.SubmodelElementCollection(
                signal.name, semantic_id=_semantic("MonitoredSignal"), value=[
                    model.Property("AnomalyScore", model.datatypes.Double, 0.0, semantic_id=_semantic("AnomalyScore")),
                    model.Property("Detector", model.datatypes.String, self._detector,
                                   semantic_id=_semantic("Detector")),
                    model.Property("Signal", model.datatypes.String, f"{signal.submodel_id}#{signal.path}",
                                   semantic_id=_semantic("Signal")),
                ]), origin=ORIGIN)
        handle = twin.live(self._submodel, self.score_path(signal))
        twin.bind(handle)
        return handle

    async def _handle(self, batch: ChangeBatch) -> None:
        if batch.dropped:
            self.dropped += batch.dropped
            log.warning("anomaly monitor lost %d samples (inbox full); scores skip them", batch.dropped)
        update = self._twin.update
        watches = self._watches
        for event in batch.values:
            watch = watches.get(event.element.key)
            value = event.value
            if watch is None or event.quality is Quality.BAD or isinstance(value, bool) \
                    or not isinstance(value, NUMBER):
                continue  # a Bad value says nothing about the machine
            score = watch.detector.update(event.timestamp, float(value))
            update(watch.score, score, event.timestamp, event.quality, ORIGIN)
            if self._alarms is not None:
                self._alarms.observe(watch.name, self._rule.name, score, event.timestamp)


NUMERIC_TYPES = {model.datatypes.Double, model.datatypes.Float, model.datatypes.Decimal, model.datatypes.Integer,
                 model.datatypes.Int, model.datatypes.Long, model.datatypes.Short, model.datatypes.Byte,
                 model.datatypes.UnsignedInt, model.datatypes.UnsignedLong, model.datatypes.UnsignedShort,
                 model.datatypes.UnsignedByte, model.datatypes.NonNegativeInteger, model.datatypes.PositiveInteger,
                 model.datatypes.NegativeInteger, model.datatypes.NonPositiveInteger}
