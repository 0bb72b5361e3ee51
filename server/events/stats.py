"""Counters the event channels keep, read by ``/metrics``: plain ints, no library on the hot side.

The channels count; the metrics module turns these into Prometheus series at scrape time, so a
value event costs an integer increment and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class EventStats:
    published: dict[str, int] = field(default_factory=dict)
    """Events handed to a channel's transport, by channel (``sse``, ``mqtt``)."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Events lost, by channel: a queue overflowed, a broker was absent, a client was dropped."""
    sse_clients: int = 0
    """SSE streams open now."""
    clients_dropped: int = 0
    """SSE clients disconnected because they stalled."""
    queue_depths: dict[str, Callable[[], int]] = field(default_factory=dict)
    """Live depth of each bounded queue, by name (read at scrape time)."""

    queue_drops: dict[str, Callable[[], int]] = field(default_factory=dict)
    """Events a bounded queue dropped so far, by name (read at scrape time: a queue behind an
    absent broker is not drained, so its losses are not in ``dropped`` until it is)."""

    def total_dropped(self, channel: str) -> int:
        return self.dropped.get(channel, 0) + sum(read() for name, read in self.queue_drops.items()
                                                  if name.split(":")[0] == channel)

    def count(self, channel: str, published: int = 0, dropped: int = 0) -> None:
        if published:
            self.published[channel] = self.published.get(channel, 0) + published
        if dropped:
            self.dropped[channel] = self.dropped.get(channel, 0) + dropped
