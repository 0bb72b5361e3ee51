"""Roll-ups: values of a parent asset computed live from its children's signals.

The engine resolves every input and output once into live handles, then listens to the
change bus; a value event recomputes only the roll-ups that read that element, deepest
first, and propagates upward in the same pass (cell power → line power → plant power).
Results go through ``Twin.update`` like any device value, so OPC UA, REST and the
semantic graph see them without knowing they were computed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from basyx.aas import model

from twinbridge.aas.bus import ChangeBatch, Follower
from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.live import LiveElement
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import PlantModel, RollupSpec
from twinbridge.submodels.hierarchy import PlantHierarchy, changes_tree
from twinbridge.submodels.templates import time_series

log = logging.getLogger(__name__)

_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {
    "sum": math.fsum,
    "mean": lambda values: math.fsum(values) / len(values),
    "min": min,
    "max": max,
    "count": lambda values: float(len(values)),
}


class _Rollup:
    __slots__ = ("depth", "function", "inputs", "output", "spec")

    def __init__(self, spec: RollupSpec, output: LiveElement, inputs: list[LiveElement], depth: int) -> None:
        self.spec = spec
        self.output = output
        self.inputs = inputs
        self.function = _FUNCTIONS[spec.function]
        self.depth = depth

    def compute(self) -> tuple[Any, float | None, Quality]:
        values: list[float] = []
        stamps: list[float] = []
        complete = True
        for handle in self.inputs:
            element = handle.element
            value = element.value if isinstance(element, model.Property) else None
            if value is None or handle.quality is Quality.BAD or isinstance(value, bool | str):
                complete = False
                continue
            values.append(float(value))
            if handle.timestamp is not None:
                stamps.append(handle.timestamp)
        if not values and self.spec.function != "count":
            return None, None, Quality.BAD
        result = self.function(values) if values else 0.0
        quality = Quality.GOOD if complete else Quality.UNCERTAIN
        return _cast(result, self.output), max(stamps) if stamps else None, quality


def _cast(value: float, output: LiveElement) -> Any:
    value_type = output.value_type
    if value_type is None or value_type in (float, model.datatypes.Float):
        return value if value_type is not model.datatypes.Float else model.datatypes.Float(value)
    if issubclass(value_type, int):
        return value_type(round(value))
    return model.datatypes.trivial_cast(value, value_type)  # type: ignore[arg-type]


class RollupEngine:
    """Keeps every declared roll-up current. ``await start()`` inside the running loop; ``await stop()``."""

    def __init__(self, twin: Twin, hierarchy: PlantHierarchy, plant: PlantModel) -> None:
        self._twin = twin
        self._hierarchy = hierarchy
        self._plant = plant
        self._rollups: list[_Rollup] = []
        self._readers: dict[int, list[_Rollup]] = {}
        self._submodels: dict[str, list[_Rollup]] = {}
        self._echoes: dict[int, Any] = {}
        self._tree_changed = False
        self._follower = Follower(twin.bus, self._on_batch, "roll-ups")
        self.recomputed = 0

    @property
    def rollups(self) -> list[RollupSpec]:
        return [r.spec for r in self._rollups]

    async def start(self) -> None:
        self._resolve()
        self._follower.subscribe()
        self._apply(self._rollups)
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    # ---------------------------------------------------------------- internal
    def _resolve(self) -> None:
        twin, hierarchy, plant = self._twin, self._hierarchy, self._plant
        rollups: list[_Rollup] = []
        for spec in plant.rollups:
            sources = hierarchy.children(spec.shell_id) if spec.over == "children" else hierarchy.descendants(
                spec.shell_id)
            inputs = []
            for source in sources:
                sm_id = plant.operational_data.get(source)
                if sm_id is None:
                    continue
                with contextlib.suppress(NotFound):
                    inputs.append(twin.live(sm_id, time_series.signal_path(spec.input)))
            output = twin.live(spec.submodel_id, spec.path)
            twin.bind(output)  # computed here: client writes are refused like those to a read-only device
            rollups.append(_Rollup(spec, output, inputs, len(hierarchy.ancestors(spec.shell_id))))
        rollups.sort(key=lambda r: -r.depth)
        self._rollups = rollups
        self._readers = {}
        self._submodels = {}
        for rollup in rollups:
            for handle in rollup.inputs:
                self._readers.setdefault(handle.key, []).append(rollup)
                self._submodels.setdefault(handle.submodel_id, []).append(rollup)

    async def _on_batch(self, batch: ChangeBatch) -> None:
        affected = self._affected(batch)
        if self._tree_changed:  # parts added or moved: inputs change, recompute everything
            self._tree_changed = False
            if self._hierarchy.refresh(self._twin):
                self._resolve()
            affected = set(self._rollups)
        self._apply(affected)

    def _affected(self, batch: ChangeBatch) -> set[_Rollup]:
        affected: set[_Rollup] = set()
        readers = self._readers
        echoes = self._echoes
        for event in batch.values:
            key = event.element.key
            if key in echoes and echoes.pop(key) == event.value:
                continue  # our own write, already propagated in the pass that made it
            found = readers.get(key)
            if found:
                affected.update(found)
        for change in batch.structure:
            if change.object_kind is ObjectKind.SUBMODEL:
                affected.update(self._submodels.get(change.identifier, ()))
            self._tree_changed = self._tree_changed or changes_tree(self._twin, change)
        return affected

    def _apply(self, affected: Iterable[_Rollup]) -> None:
        """Recompute deepest first; a changed output pulls in the roll-ups reading it."""
        pending = set(affected)
        readers = self._readers
        for rollup in self._rollups:
            if rollup not in pending:
                continue
            value, timestamp, quality = rollup.compute()
            output = rollup.output
            element = output.element
            if not isinstance(element, model.Property):
                continue
            self.recomputed += 1
            if element.value == value and output.quality is quality:
                continue
            self._twin.update(output, value, timestamp if timestamp is not None else time.time(), quality)
            self._echoes[output.key] = element.value
            pending.update(readers.get(output.key, ()))
