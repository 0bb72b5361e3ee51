"""Virtual properties live in the twin: recomputed whenever one of their inputs changes.

The definitions (target idShortPath -> expression, all in one submodel) are compiled and checked
at start: an unknown name, a cycle or a non-numeric target is an error naming the property. A
change of an input re-evaluates, in dependency order, only the targets that read it; the result
carries the worst quality of its inputs (Bad with NaN when the arithmetic fails, e.g. a division
by zero). Inputs may be named by idShortPath or by semanticId (``sid("...")``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from basyx.aas import model

from twinbridge.aas.bus import ChangeBatch, DeliveryMode, Follower
from twinbridge.aas.events import Origin
from twinbridge.aas.live import LiveElement
from twinbridge.aas.paths import children
from twinbridge.aas.quality import Quality
from twinbridge.aas.twin import Twin
from twinbridge.analytics.expressions import SEMANTIC_ID, ExpressionError, VirtualProperties

ORIGIN = Origin("virtual-properties", "analytics")


def walk_elements(parent: model.Referable, prefix: str) -> Iterator[tuple[str, model.SubmodelElement]]:
    """Every element under ``parent`` with its idShortPath (prefixed by ``prefix``), depth first."""
    for index, element in enumerate(children(parent)):
        name = f"{prefix}[{index}]" if isinstance(parent, model.SubmodelElementList) else (
            f"{prefix}.{element.id_short}" if prefix else str(element.id_short))
        yield name, element
        yield from walk_elements(element, name)


def _semantic_id(element: model.SubmodelElement) -> str | None:
    reference = element.semantic_id
    return reference.key[0].value if reference is not None and reference.key else None


class VirtualPropertyMonitor:
    """Keeps the virtual properties of one submodel up to date (targets are bound: clients cannot
    write them)."""

    def __init__(self, twin: Twin, submodel_id: str, definitions: Mapping[str, str]) -> None:
        self._twin = twin
        self._submodel = submodel_id
        self._definitions = dict(definitions)
        self._handles: dict[str, LiveElement] = {}
        self._names: dict[int, str] = {}  # live key -> reference name
        self._values: dict[str, float] = {}
        self._qualities: dict[str, Quality] = {}
        self.virtual: VirtualProperties | None = None
        self._follower = Follower(twin.bus, self._handle, "virtual-properties", mode=DeliveryMode.EVERY,
                                  submodels={submodel_id})

    def start(self) -> None:
        paths: dict[str, model.SubmodelElement] = {}
        for path, element in walk_elements(self._twin.submodel(self._submodel), ""):
            paths[path] = element
            semantic = _semantic_id(element)
            if semantic is not None:
                paths.setdefault(f"{SEMANTIC_ID}:{semantic}", element)
        for target in self._definitions:
            found = paths.get(target)
            if not isinstance(found, model.Property) or found.value_type not in (model.datatypes.Double,
                                                                                 model.datatypes.Float):
                raise ExpressionError(f"virtual property {target!r}: must be an existing xs:double/xs:float "
                                      f"Property of submodel {self._submodel}")
        self.virtual = VirtualProperties(self._definitions, known=paths)
        for target, expression in self.virtual.expressions.items():
            for name in expression.references:
                if name in self._definitions:
                    continue
                element = paths[name]
                handle = self._twin.live(self._submodel, _path_of(name, element, paths))
                self._names[handle.key] = name
                self._record(name, handle)
            handle = self._twin.live(self._submodel, target)
            self._twin.bind(handle)
            self._handles[target] = handle
        for target in self.virtual.order:
            self._recompute(target, None)
        self._follower.start()

    async def stop(self) -> None:
        await self._follower.stop()

    def _record(self, name: str, handle: LiveElement) -> None:
        value = getattr(handle.element, "value", None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            self._values[name] = float(value)
            self._qualities[name] = handle.quality

    async def _handle(self, batch: ChangeBatch) -> None:
        assert self.virtual is not None
        changed: set[str] = set()
        for event in batch.values:
            name = self._names.get(event.element.key)
            if name is None or isinstance(event.value, bool) or not isinstance(event.value, int | float):
                continue
            self._values[name] = float(event.value)
            self._qualities[name] = event.quality
            changed.add(name)
        targets: list[str] = []
        for name in changed:
            targets.extend(t for t in self.virtual.affected(name) if t not in targets)
        for target in self.virtual.order:
            if target in targets:
                self._recompute(target, batch.values[-1].timestamp if batch.values else None)

    def _recompute(self, target: str, timestamp: float | None) -> None:
        assert self.virtual is not None
        try:
            result = self.virtual.evaluate(target, self._values, self._qualities)
        except ExpressionError:
            return  # an input has no numeric value yet
        self._values[target] = result.value
        self._qualities[target] = result.quality
        self._twin.update(self._handles[target], result.value, timestamp, result.quality, ORIGIN)


def _path_of(name: str, element: model.SubmodelElement, paths: Mapping[str, model.SubmodelElement]) -> str:
    """The idShortPath of a reference (a ``sid:`` name maps to the first element with that semanticId)."""
    if not name.startswith(f"{SEMANTIC_ID}:"):
        return name
    return next(path for path, candidate in paths.items() if candidate is element and not path.startswith(
        f"{SEMANTIC_ID}:"))
