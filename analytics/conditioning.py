"""Signal conditioning in the twin: a raw signal's filter chain publishes the cleaned value beside it.

Why beside and not in place: the raw value is what the device said (an auditor and a second
opinion both want it); the cleaned one is what detectors, RUL and dashboards should read. A bus
subscriber cannot rewrite the element it listens to without hearing its own write, so the cleaned
value gets its own element (``<Signal>Filtered``), bound to the conditioner so clients cannot write
it. Every sample passes (EVERY mode): a moving average or a rate check over coalesced samples would
be a different filter. Cost per sample: the chain's O(1) plus one ``Twin.update``.
"""

from __future__ import annotations

import logging

from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Follower
from twinbridge.aas.events import Origin
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.analytics.filters import FilterChain, Sample
from twinbridge.analytics.monitor import NUMBER

log = logging.getLogger(__name__)
ORIGIN = Origin("signal-conditioning", "analytics")


class SignalConditioner:
    """Feeds one element's samples through ``chain`` into ``target`` (same submodel)."""

    def __init__(self, twin: Twin, submodel_id: str, source_path: str, target_path: str, chain: FilterChain) -> None:
        self._twin = twin
        self._submodel = submodel_id
        self._paths = (source_path, target_path)
        self._chain = chain
        self._key = -1
        self.dropped = 0
        self._follower = Follower(twin.bus, self._handle, "signal-conditioning", mode=DeliveryMode.EVERY,
                                  submodels={submodel_id})

    def start(self) -> None:
        source, target = self._paths
        self._key = self._twin.live(self._submodel, source).key
        self._target = self._twin.live(self._submodel, target)
        self._twin.bind(self._target)
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    async def _handle(self, batch: ChangeBatch) -> None:
        if batch.dropped:
            self.dropped += batch.dropped
            log.warning("signal conditioning of %s lost %d samples (inbox full)", self._paths[0], batch.dropped)
        for event in batch.values:
            value = event.value
            if event.element.key != self._key or isinstance(value, bool) or not isinstance(value, NUMBER):
                continue
            sample = self._chain.apply(Sample(float(value), event.timestamp, event.quality))
            if sample.reason is not None and sample.quality is not Quality.GOOD:
                log.debug("%s: %s (%s)", self._paths[0], sample.quality.name, sample.reason)
            self._twin.update(self._target, sample.value, sample.timestamp, sample.quality, ORIGIN)
