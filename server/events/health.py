"""``/metrics`` (Prometheus text format), ``/health`` and ``/ready`` for orchestrators.

Mounted at the root, not under the API prefix, where scrapers and probes look by default.
The metrics are read at scrape time from ``EventStats`` and the sources' ``connected`` flags
(a custom collector on a registry of this app's own), so nothing on the hot path touches
prometheus-client. Readiness answers once the application has started (uvicorn serves only
then); a disconnected device does not make the twin unready, it is reported in the body and
in ``twinbridge_source_connected``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from twinbridge.server.events.sse import event_stats
from twinbridge.server.events.stats import EventStats

SourceStates = Callable[[], Mapping[str, bool]]
"""Each southbound source's name and whether it is connected now."""


class EventCollector(Collector):
    def __init__(self, stats: EventStats, sources: SourceStates) -> None:
        self.stats = stats
        self.sources = sources

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.stats
        published = CounterMetricFamily("twinbridge_events_published", "Events handed to a channel's transport",
                                        labels=["channel"])
        dropped = CounterMetricFamily("twinbridge_events_dropped", "Events lost: a queue overflowed or a "
                                      "transport failed", labels=["channel"])
        for channel in ("sse", "mqtt", "sparkplug"):
            published.add_metric([channel], stats.published.get(channel, 0))
            dropped.add_metric([channel], stats.total_dropped(channel))
        yield published
        yield dropped
        yield GaugeMetricFamily("twinbridge_sse_clients", "Server-Sent Events streams open now",
                                value=stats.sse_clients)
        yield CounterMetricFamily("twinbridge_sse_clients_dropped", "SSE clients dropped because they stalled",
                                  value=stats.clients_dropped)
        # summed per channel: one series per SSE client would be a label of unbounded cardinality
        summed: dict[str, int] = {"sse": 0}
        for name, depth in list(stats.queue_depths.items()):
            channel = name.split(":")[0]
            summed[channel] = summed.get(channel, 0) + depth()
        depths = GaugeMetricFamily("twinbridge_event_queue_depth", "Events waiting in the bounded queues of a "
                                   "channel", labels=["channel"])
        for channel, total in summed.items():
            depths.add_metric([channel], total)
        yield depths
        connected = GaugeMetricFamily("twinbridge_source_connected", "1 while a southbound source is connected",
                                      labels=["source"])
        for name, state in self.sources().items():
            connected.add_metric([name], 1.0 if state else 0.0)
        yield connected


def health_router(sources: SourceStates = dict) -> APIRouter:
    """Include with ``app.include_router(...)`` (no prefix)."""
    router = APIRouter(tags=["Operations"], include_in_schema=False)

    def registry(request: Request) -> CollectorRegistry:
        state = request.app.state
        found = getattr(state, "metrics_registry", None)
        if not isinstance(found, CollectorRegistry):
            found = state.metrics_registry = CollectorRegistry(auto_describe=False)
            found.register(EventCollector(event_stats(state), sources))
        return found

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry(request)), media_type=CONTENT_TYPE_LATEST)

    @router.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "UP"})

    @router.get("/ready")
    async def ready() -> JSONResponse:
        return JSONResponse({"status": "READY", "sources": dict(sources())})

    return router
