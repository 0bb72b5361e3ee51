"""Pausing the cyclic garbage collector while large, long-lived models are built.

Importing an environment, building a plant or mirroring it into OPC UA allocates hundreds of
thousands of long-lived objects; every generation-2 collection on the way rescans the growing
heap, which roughly doubles the build time. Nothing built then is garbage, so collection waits
until the end (nesting is fine: only the outermost pause re-enables it).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
