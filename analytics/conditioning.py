"""Signal conditioning in the twin: a raw signal's filter chain publishes the cleaned value beside it.

Why beside and not in place: the raw value is what the device said (an auditor and a second
opinion both want it); the cleaned one is what detectors, RUL and dashboards should read. A bus
subscriber cannot rewrite the element it listens to without hearing its own write, so the cleaned
value gets its own element (``<Signal>Filtered``), bound to the conditioner so clients cannot write
it. Every sample passes (EVERY mode): a moving average or a rate check over coalesced samples would
be a different filter. Cost per sample: one dict lookup, the chain's O(1) and one ``Twin.update``.

Why one conditioner for all the conditioned signals: with one subscription per
signal, every sample of a submodel went to every signal's inbox and loop (10 signals per machine:
10 inbox appends and 10 loop turns per sample, twice, since the cleaned value lands in the same
submodel); measured with bench/bench_analytics_mqtt.py, see BENCHMARKS.md, issue 14. Its samples
come from an :class:`AnalyticsFeed`, shared with the other monitors; one conditioner for every
submodel, so a loop turn's samples of all machines make one array step (``filter_bank.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twinbridge.aas.events import Origin, ValueChanged
from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.analytics.feed import AnalyticsFeed, CleanedSink, rounds_of
from twinbridge.analytics.filter_bank import BAD, QUALITIES, ChainBank, IntArray, severity_of, shape_of
from twinbridge.analytics.filters import FilterChain, Sample
from twinbridge.analytics.monitor import NUMBER

log = logging.getLogger(__name__)
ORIGIN = Origin("signal-conditioning", "analytics")


@dataclass(frozen=True)
class ConditionedSignal:
    """The raw element ``source`` cleaned by ``chain`` into ``target`` (idShortPaths in ``submodel_id``)."""

    submodel_id: str
    source: str
    target: str
    chain: FilterChain


@dataclass(frozen=True, slots=True)
class _Route:
    signal: ConditionedSignal
    target: LiveElement
    bank: ChainBank | None  # None: the chain has no array form, it runs sample by sample
    slot: int


class SignalConditioner:
    """Feeds the samples of each of ``signals`` through its chain into its target.

    Chains of one shape form one :class:`ChainBank`: a batch's samples of all of them are one array
    step (see ``filter_bank.py``). A banked signal's cleaned values can also go straight to a
    monitor as arrays (:meth:`forward`, see ``feed.py``)."""

    def __init__(self, twin: Twin, signals: Sequence[ConditionedSignal], *, feed: AnalyticsFeed | None = None) -> None:
        """Without ``feed``, the conditioner has a feed of its own."""
        self._twin = twin
        self._signals = tuple(signals)
        self._routes: dict[int, _Route] = {}
        self._targets: dict[int, _Route] = {}  # by target element key
        # per bank: each sink with its slot of every bank slot (-1: not forwarded to it)
        self._sinks: dict[ChainBank, list[tuple[CleanedSink, IntArray]]] = {}
        self._own_feed = feed is None
        self._feed = AnalyticsFeed(twin) if feed is None else feed

    @property
    def dropped(self) -> int:
        return self._feed.dropped

    def start(self) -> None:
        shapes: dict[tuple[object, ...], list[ConditionedSignal]] = {}
        for signal in self._signals:
            shape = shape_of(signal.chain)
            if shape is not None:
                shapes.setdefault(shape, []).append(signal)
        banks = {id(signal): (bank, slot) for members in shapes.values()
                 for bank in (ChainBank([m.chain for m in members]),) for slot, signal in enumerate(members)}
        sources = []
        for signal in self._signals:
            target = self._twin.live(signal.submodel_id, signal.target)
            self._twin.bind(target)
            source = self._twin.live(signal.submodel_id, signal.source)
            bank, slot = banks.get(id(signal), (None, -1))
            self._routes[source.key] = self._targets[target.key] = _Route(signal, target, bank, slot)
            sources.append(source)
        self._feed.route(self, sources)
        if self._own_feed:
            self._feed.start()

    def forward(self, target: LiveElement, sink: CleanedSink, slot: int) -> bool:
        """Hand ``sink`` the cleaned values of ``target`` (after ``start``) as ``slot``, as arrays per
        bank step. False for a target this conditioner does not write, or whose chain has no array
        form (handing those one by one would cost a bank call per sample)."""
        route = self._targets.get(target.key)
        if route is None or route.bank is None:
            return False
        sinks = self._sinks.setdefault(route.bank, [])
        slots = next((slots for known, slots in sinks if known is sink), None)
        if slots is None:
            slots = np.full(route.bank.size, -1, dtype=np.intp)
            sinks.append((sink, slots))
        slots[route.slot] = slot
        return True

    async def stop(self) -> None:
        if self._own_feed:
            await self._feed.stop()

    async def accept(self, events: list[ValueChanged]) -> None:
        # Profile (cProfile, bench_analytics_mqtt, 2026-11-30): the chain sample by sample was ~2.4 µs
        # of the ~13 µs analytics cost per sample; the banks take a batch in one array step each.
        # One tuple per sample here, the columns transposed by zip in C below: five appends per
        # sample in this loop cost more than the bank's step, and a comprehension per column (the
        # pairs of route and event before) ~0.1 µs per sample more than this one tuple.
        routes = self._routes
        update = self._twin.update
        good = Quality.GOOD
        banked: dict[ChainBank, list[tuple[_Route, int, float, object, Quality]]] = {}  # per bank, in bus order
        for event in events:
            value = event.value
            if type(value) is not float and (isinstance(value, bool) or not isinstance(value, NUMBER)):
                continue
            route = routes[event.element.key]
            bank = route.bank
            if bank is None:
                sample = route.signal.chain.apply(Sample(float(value), event.timestamp, event.quality))
                self._write(route, sample.value, event.timestamp, sample.quality, sample.reason)
                continue
            rows = banked.get(bank)
            if rows is None:
                rows = banked[bank] = []
            rows.append((route, route.slot, event.timestamp, value, event.quality))
        for bank, rows in banked.items():
            sinks = self._sinks.get(bank, ())
            by_row, slots, times, values, qualities = zip(*rows, strict=True)
            # device values are nearly always Good: one count in C instead of a call per sample
            severities = (None if qualities.count(good) == len(qualities)
                          else [severity_of(quality) for quality in qualities])
            for members in rounds_of(slots):
                every = len(members) == len(slots)
                slot_array = np.array(slots if every else [slots[m] for m in members], dtype=np.intp)
                time_array = np.array(times if every else [times[m] for m in members])
                cleaned, severity, reasons = bank.apply(
                    slot_array, time_array,
                    # as float() per value did (ints and Decimals become the nearest double)
                    np.array(values if every else [values[m] for m in members], dtype=np.float64),
                    np.zeros(len(members), dtype=np.int8) if severities is None else
                    np.array(severities if every else [severities[m] for m in members], dtype=np.int8))
                if not severity.any():  # all Good, nothing flagged (the usual case): no per-sample tests
                    round_rows = by_row if every else [by_row[m] for m in members]
                    round_times = times if every else [times[m] for m in members]
                    for route, value, timestamp in zip(round_rows, cleaned.tolist(), round_times, strict=True):
                        update(route.target, value, timestamp, good, ORIGIN)
                else:
                    for m, value, level, reason in zip(members, cleaned.tolist(), severity.tolist(), reasons,
                                                       strict=True):
                        self._write(by_row[m], value, times[m], QUALITIES[level], reason)
                for sink, sink_slots in sinks:
                    wanted = sink_slots[slot_array]
                    keep = (wanted >= 0) & (severity < BAD)  # a Bad value says nothing about the machine
                    if keep.all():
                        sink.take(wanted, time_array, cleaned, severity)
                    elif keep.any():
                        sink.take(wanted[keep], time_array[keep], cleaned[keep], severity[keep])

    def _write(self, route: _Route, value: float, timestamp: float, quality: Quality, reason: str | None) -> None:
        if reason is not None and quality is not Quality.GOOD:
            log.debug("%s: %s (%s)", route.signal.source, quality.name, reason)
        self._twin.update(route.target, value, timestamp, quality, ORIGIN)
