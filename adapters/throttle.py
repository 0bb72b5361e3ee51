"""Rate-limited warnings: a broken publisher sending 1,000 bad messages a second, or a flapping
device, must not flood the log (or cost the ingest loop a formatted line per message)."""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable


class ThrottledLog:
    """At most one warning per key every ``interval_s``; the next one says how many were held back."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}

    def warning(self, key: Hashable, message: str) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            message = f"{message} ({held} similar in the last {self._interval_s:g} s not shown)"
        self._logger.warning(message)

    def forget(self, key: Hashable) -> None:
        """The condition cleared: the next occurrence is news and logs at once."""
        self._last.pop(key, None)
        self._held.pop(key, None)
