"""Live anomaly scores in the twin: every sample of a monitored signal goes through its detector and
the score lands in the asset's Predictive Maintenance submodel (IDTA 02048).

Why every sample (the feed's EVERY-mode subscription): a detector's statistics need every sample in order; the LATEST
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

import numpy as np
from basyx.aas import model

from twinbridge.aas.errors import InvalidInput, NotFound
from twinbridge.aas.events import Origin, ValueChanged
from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.analytics.alarms import AlarmBook, AlarmRule, Severity
from twinbridge.analytics.detectors import DEFAULT_DETECTOR, create, create_bank
from twinbridge.analytics.feed import AnalyticsFeed, Upstream, rounds_of
from twinbridge.analytics.filter_bank import QUALITIES, FloatArray, IntArray, SeverityArray, severity_of

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
    """A numeric element to watch, and the idShort its scores get in the PM submodel
    (``maintenance_submodel_id``; None: the monitor's own)."""

    submodel_id: str
    path: str
    name: str
    maintenance_submodel_id: str | None = None


class AnomalyMonitor:
    """Feeds detectors from the bus and publishes their scores; one detector per signal, all of
    them one :class:`DetectorBank` (their samples of a loop turn are scored in one call).

    Why the score element is written once per signal and bank call (the round's score; a batch is
    one round unless it holds a signal twice) while every score goes to the alarm book: the detector
    and the alarms must see every sample; the element shows the present, and a loop turn is the
    freshest a reader can see anyway.
    """

    def __init__(self, twin: Twin, maintenance_submodel_id: str | None, signals: Sequence[MonitoredSignal], *,
                 detector: str = DEFAULT_DETECTOR, capacity: int = 100_000, alarms: AlarmBook | None = None,
                 rule: AlarmRule = ANOMALY_RULE, feed: AnalyticsFeed | None = None,
                 upstream: Upstream | None = None) -> None:
        """With ``alarms``, every signal's score is also watched by ``rule`` (source: the signal's
        name). Without ``feed``, the monitor has a feed of its own. With ``upstream`` (a started
        conditioner), the signals it writes come from it as arrays instead of through the feed."""
        create(detector)  # an unknown name fails here, at start-up, not on the first sample
        self._twin = twin
        self._submodel = maintenance_submodel_id
        self._signals = tuple(signals)
        self._detector = detector
        self._alarms = alarms
        self._rule = rule
        self._slots: dict[int, int] = {}  # source element key -> slot in the bank
        self._scores: list[LiveElement] = []
        self._names: list[str] = []
        self._active: set[int] = set()  # slots with an alarm raised
        self._bank = create_bank(detector, len(self._signals))
        self._own_feed = feed is None
        self._feed = AnalyticsFeed(twin, capacity=capacity) if feed is None else feed
        self._upstream = upstream

    @property
    def dropped(self) -> int:
        return self._feed.dropped

    def _maintenance(self, signal: MonitoredSignal) -> str:
        pm = signal.maintenance_submodel_id or self._submodel
        if pm is None:
            raise InvalidInput(f"anomaly monitor: no Predictive Maintenance submodel for {signal.name}")
        return pm

    def start(self) -> None:
        """Create the score elements (once), resolve every handle, subscribe. Errors name the signal."""
        sources = []
        for signal in self._signals:
            self._twin.submodel(self._maintenance(signal))  # NotFound names the PM submodel
            source = self._twin.live(signal.submodel_id, signal.path)
            element = source.element
            if not isinstance(element, model.Property) or element.value_type not in NUMERIC_TYPES:
                raise InvalidInput(f"anomaly monitor: {signal.submodel_id} {signal.path} is not a numeric Property")
            slot = len(self._scores)
            self._scores.append(self._score_element(signal))
            self._names.append(signal.name)
            if self._upstream is None or not self._upstream.forward(source, self, slot):
                self._slots[source.key] = slot
                sources.append(source)
            if self._alarms is not None:
                self._alarms.watch(signal.name, self._rule)
        if sources:
            self._feed.route(self, sources)
        if self._own_feed:
            self._feed.start()

    async def stop(self) -> None:
        if self._own_feed:
            await self._feed.stop()

    def score_path(self, signal: MonitoredSignal) -> str:
        return f"{ANOMALY_COLLECTION}.{signal.name}.AnomalyScore"

    def _score_element(self, signal: MonitoredSignal) -> LiveElement:
        twin = self._twin
        pm = self._maintenance(signal)
        try:
            twin.element(pm, ANOMALY_COLLECTION)
        except NotFound:
            twin.add_element(pm, None, model.SubmodelElementCollection(
                ANOMALY_COLLECTION, semantic_id=_semantic(ANOMALY_COLLECTION)), origin=ORIGIN)
        path = f"{ANOMALY_COLLECTION}.{signal.name}"
        try:
            twin.element(pm, path)
        except NotFound:
            twin.add_element(pm, ANOMALY_COLLECTION, model.SubmodelElementCollection(
                signal.name, semantic_id=_semantic("MonitoredSignal"), value=[
                    model.Property("AnomalyScore", model.datatypes.Double, 0.0, semantic_id=_semantic("AnomalyScore")),
                    model.Property("Detector", model.datatypes.String, self._detector,
                                   semantic_id=_semantic("Detector")),
                    model.Property("Signal", model.datatypes.String, f"{signal.submodel_id}#{signal.path}",
                                   semantic_id=_semantic("Signal")),
                ]), origin=ORIGIN)
        handle = twin.live(pm, self.score_path(signal))
        twin.bind(handle)
        return handle

    async def accept(self, events: list[ValueChanged]) -> None:
        """The samples of the signals routed through the feed (the others come to ``take``)."""
        slot_of = self._slots
        slots: list[int] = []
        times: list[float] = []
        values: list[float] = []
        severities: list[int] = []
        for event in events:
            value = event.value
            if event.quality is Quality.BAD or isinstance(value, bool) or not isinstance(value, NUMBER):
                continue  # a Bad value says nothing about the machine
            slots.append(slot_of[event.element.key])
            times.append(event.timestamp)
            values.append(float(value))
            severities.append(severity_of(event.quality))
        # one bank call per round, a round holding at most one sample per signal (the k-th samples
        # of each signal in the batch form round k, so each signal's samples go in order)
        for members in rounds_of(slots):
            every = len(members) == len(slots)
            self.take(np.array(slots if every else [slots[at] for at in members], dtype=np.intp),
                      np.array(times if every else [times[at] for at in members]),
                      np.array(values if every else [values[at] for at in members]),
                      np.array(severities if every else [severities[at] for at in members], dtype=np.int8))

    def take(self, slots: IntArray, times: FloatArray, values: FloatArray, severities: SeverityArray) -> None:
        """Score one sample of each of ``slots`` (distinct), alarm on the scores, write them."""
        # Profile (cProfile, bench_analytics_mqtt, 100 signals, 2026-11-30): one detector.update
        # per sample was 27% of the process, the 30 followers feeding the monitors 50%; now one
        # bank call per batch (detectors/bank.py), one feed for every monitor, filtered values
        # handed over as arrays (feed.py), one score write per signal and bank call.
        scores = self._bank.score(slots, times, values)
        if self._alarms is not None:
            self._observe(self._alarms, slots, scores, times)
        update, handles = self._twin.update, self._scores
        for slot, score, timestamp, level in zip(slots.tolist(), scores.tolist(), times.tolist(), severities.tolist(),
                                                 strict=True):
            update(handles[slot], score, timestamp, QUALITIES[level], ORIGIN)

    def _observe(self, book: AlarmBook, slots: IntArray, scores: FloatArray, times: FloatArray) -> None:
        """Every score to the alarm book, except those that cannot change it: short of ``raise_at``
        while the signal has no alarm (observe() of a quiet score was ~0.4 µs of ~10 per sample)."""
        rule, names, active = self._rule, self._names, self._active
        hot = scores >= rule.raise_at if rule.above else scores <= rule.raise_at
        if active:
            hot |= np.isin(slots, list(active))
        for at in np.flatnonzero(hot).tolist():
            slot = int(slots[at])
            book.observe(names[slot], rule.name, float(scores[at]), float(times[at]))
            if book.is_active(names[slot], rule.name):
                active.add(slot)
            else:
                active.discard(slot)


NUMERIC_TYPES = {model.datatypes.Double, model.datatypes.Float, model.datatypes.Decimal, model.datatypes.Integer,
                 model.datatypes.Int, model.datatypes.Long, model.datatypes.Short, model.datatypes.Byte,
                 model.datatypes.UnsignedInt, model.datatypes.UnsignedLong, model.datatypes.UnsignedShort,
                 model.datatypes.UnsignedByte, model.datatypes.NonNegativeInteger, model.datatypes.PositiveInteger,
                 model.datatypes.NegativeInteger, model.datatypes.NonPositiveInteger}
