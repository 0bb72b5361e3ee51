"""Signal conditioning in the twin: a raw signal's filter chain publishes the cleaned value beside it.

Why beside and not in place: the raw value is what the device said (an auditor and a second
opinion both want it); the cleaned one is what detectors, RUL and dashboards should read. A bus
subscriber cannot rewrite the element it listens to without hearing its own write, so the cleaned
value gets its own element (``<Signal>Filtered``), bound to the conditioner so clients cannot write
it. Every sample passes (EVERY mode): a moving average or a rate check over coalesced samples would
be a different filter. Cost per sample: one dict lookup, the chain's O(1) and one ``Twin.update``.

Why one conditioner for all the conditioned signals of a submodel: with one subscription per
signal, every sample of a submodel went to every signal's inbox and loop (10 signals per machine:
10 inbox appends and 10 loop turns per sample, twice, since the cleaned value lands in the same
submodel); measured with bench/bench_analytics_mqtt.py, see BENCHMARKS.md, issue 14.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Follower
from twinbridge.aas.events import Origin
from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.analytics.filters import FilterChain, Sample
from twinbridge.analytics.monitor import NUMBER

log = logging.getLogger(__name__)
ORIGIN = Origin("signal-conditioning", "analytics")


@dataclass(frozen=True)
class ConditionedSignal:
    """The raw element ``source`` cleaned by ``chain`` into ``target`` (idShortPaths, one submodel)."""

    source: str
    target: str
    chain: FilterChain


class SignalConditioner:
    """Feeds the samples of each of ``signals`` through its chain into its target, all in ``submodel_id``."""

    def __init__(self, twin: Twin, submodel_id: str, signals: Sequence[ConditionedSignal]) -> None:
        self._twin = twin
        self._submodel = submodel_id
        self._signals = tuple(signals)
        self._routes: dict[int, tuple[ConditionedSignal, LiveElement]] = {}
        self.dropped = 0
        self._follower = Follower(twin.bus, self._handle, "signal-conditioning", mode=DeliveryMode.EVERY,
                                  submodels={submodel_id})

    def start(self) -> None:
        for signal in self._signals:
            target = self._twin.live(self._submodel, signal.target)
            self._twin.bind(target)
            self._routes[self._twin.live(self._submodel, signal.source).key] = (signal, target)
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def _handle(self, batch: ChangeBatch) -> None:
        if batch.dropped:
            self.dropped += batch.dropped
            log.warning("signal conditioning in %s lost %d samples (inbox full)", self._submodel, batch.dropped)
        routes = self._routes
        update = self._twin.update
        for event in batch.values:
            route = routes.get(event.element.key)
            value = event.value
            if route is None or isinstance(value, bool) or not isinstance(value, NUMBER):
                continue
            signal, target = route
            sample = signal.chain.apply(Sample(float(value), event.timestamp, event.quality))
            if sample.reason is not None and sample.quality is not Quality.GOOD:
                log.debug("%s: %s (%s)", signal.source, sample.quality.name, sample.reason)
            update(target, sample.value, sample.timestamp, sample.quality, ORIGIN)
