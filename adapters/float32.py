"""float32 values as the device meant them.

A float32 register or Sparkplug Float metric holding 24.843904 widens to the double
24.843904495239258; rendered as JSON or RDF that is a number nobody wrote. ``shortest`` maps it to
the double nearest the shortest decimal that reads back as the same float32 (24.843904), the
way float32-aware tools print it: numpy's float32 ``str`` (Dragon4, shortest round-trip digits).
Measured (bench/bench_float32.py, BENCHMARKS.md) on the shared 2-core machine at load 11:
295,000 values/s (3.4 µs each) against 3.1 million for the plain unpack -- beside a Modbus poll
round-trip of milliseconds. A format-and-check loop in pure Python took twice as long and missed
the shortest form of subnormals.
"""

from __future__ import annotations

import numpy as np

_FLOAT32 = np.float32


def shortest(value: float) -> float:
    """``value`` (a float32 widened to double) as the double of its shortest float32 decimal."""
    return float(str(_FLOAT32(value)))
