"""Pausing the cyclic garbage collector while a whole plant is built.

Building 6,000 shells allocates millions of small, long-lived objects (basyx elements, RDF
terms); every generation-2 collection on the way rescans the growing heap, which roughly
doubles the build time. Nothing built here is garbage, so collection waits until the end.
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
