"""Streaming anomaly detectors behind one small protocol and a registry by name.

A detector instance watches one signal. ``update`` takes one sample and returns its anomaly score
in [0, 1] from that sample and the ones before it (never later ones); ``score_series`` gives the
same scores for a whole series at array speed, for files and benchmarks.

The implementations (and scipy, ~2 s to import on a loaded machine) load on first use, so the
``twinbridge`` command line does not pay for them unless it detects something.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from twinbridge.analytics.detectors.causal import FloatArray


class Detector(Protocol):
    def update(self, timestamp: float, value: float) -> float:
        """Score one sample (timestamp in seconds); advances the detector's state."""
        ...

    def score_series(self, timestamps: FloatArray, values: FloatArray) -> FloatArray:
        """Scores of a whole series, equal to calling ``update`` row by row on a fresh detector."""
        ...


class DetectorBank(Protocol):
    """The detectors of many signals (slots 0..size-1) of one kind, advanced together: the twin's
    path, where a loop turn brings a few samples of many signals (see ``bank.py``)."""

    def score(self, slots: npt.NDArray[np.intp], timestamps: FloatArray, values: FloatArray) -> FloatArray:
        """One sample for each of ``slots`` (distinct); the same scores as each slot's own
        detector's ``update``, in the slots' order."""
        ...


class UnknownDetector(KeyError):
    """A detector name that is not registered."""

    def __str__(self) -> str:
        return f"unknown detector {self.args[0]!r}; known: {', '.join(names())}"


DETECTORS: dict[str, Callable[[], Detector]] = {}
BANKS: dict[str, Callable[[int], DetectorBank]] = {}
DEFAULT_DETECTOR = "seasonal"


def register(name: str) -> Callable[[Callable[[], Detector]], Callable[[], Detector]]:
    def add(factory: Callable[[], Detector]) -> Callable[[], Detector]:
        DETECTORS[name] = factory
        return factory

    return add


def register_bank(name: str) -> Callable[[Callable[[int], DetectorBank]], Callable[[int], DetectorBank]]:
    def add(factory: Callable[[int], DetectorBank]) -> Callable[[int], DetectorBank]:
        BANKS[name] = factory
        return factory

    return add


def _load() -> None:
    from twinbridge.analytics.detectors import bank, statistical  # noqa: F401  (register their detectors)


def names() -> list[str]:
    _load()
    return sorted(DETECTORS)


def create(name: str = DEFAULT_DETECTOR) -> Detector:
    _load()
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise UnknownDetector(name) from None
    return factory()


def create_bank(name: str, size: int) -> DetectorBank:
    """``size`` detectors ``name`` as one bank (every registered detector has one)."""
    _load()
    try:
        factory = BANKS[name]
    except KeyError:
        raise UnknownDetector(name) from None
    return factory(size)
