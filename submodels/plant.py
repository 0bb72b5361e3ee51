"""One plant description brought to life on a twin: its shells, tree, roll-ups and semantic graph.

This is what the application composes: build and load the environment once, then keep the
roll-ups following the change bus while the server runs, and the RDF graph too once it is
built (on first use by default; ``semantic="eager"`` at start, ``"off"`` never). The REST routers
read ``hierarchy`` and ``graph`` from ``app.state.hierarchy`` / ``app.state.semantic_graph``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.submodels.builder import PlantModel, build_environment
from twinbridge.submodels.description import PlantDescription
from twinbridge.submodels.hierarchy import PlantHierarchy
from twinbridge.submodels.record_clock import RecordClock
from twinbridge.submodels.rollups import RollupEngine
from twinbridge.submodels.semantic import SemanticGraph, SemanticMode
from twinbridge.submodels.templates.predictive_maintenance import WatchedSignal


class Plant:
    """``Plant(twin, description)`` loads the model; ids are stable, so a restart finds its objects.

    ``replace=False`` only creates what the twin does not hold yet, keeping edits made over REST
    (the application does that while the description is unchanged since the last start); with
    ``saved`` (the ``model.to_document()`` of that last start) and every object still there, it
    builds nothing at all. ``watched`` are the analytics signals (see ``build_environment``).
    """

    def __init__(self, twin: Twin, description: PlantDescription, base_dir: Path | None = None,
                 replace: bool = True, semantic: SemanticMode = "lazy", saved: bytes | None = None,
                 watched: Sequence[WatchedSignal] = ()) -> None:
        self.twin = twin
        model = None if replace or saved is None else _restore(saved, twin)
        self.restored = model is not None
        """Whether the model came from ``saved`` (``PlantModel.to_document``) instead of a build."""
        if model is None:
            model = build_environment(description, base_dir, watched)
            self.written = model.load_into(twin, replace)
            # The twin holds the objects now, or its own copies read back from the store on a
            # restart (``replace=False``): keeping the built ones here doubled a restart's memory.
            model.release_objects()
        else:
            self.written = 0
        self.shell_count = sum(1 for kind, _ in model.objects if kind is ObjectKind.SHELL)
        self.model: PlantModel = model
        self.hierarchy = PlantHierarchy.from_model(self.model)
        self.rollups = RollupEngine(twin, self.hierarchy, self.model)
        self.graph = None if semantic == "off" else SemanticGraph(twin, self.hierarchy, eager=semantic == "eager")
        self.clock = RecordClock(twin)

    def signal_target(self, shell_id: str, signal: str) -> tuple[str, str]:
        """(submodel id, idShortPath) where the live value ``signal`` of a shell lives."""
        return self.model.signal_target(shell_id, signal)

    async def start(self) -> None:
        """Inside the running loop: roll-ups computed once, then both follow the bus."""
        if self.graph is not None:
            await self.graph.start()
        await self.rollups.start()
        await self.clock.start()

    async def stop(self) -> None:
        await self.clock.stop()
        await self.rollups.stop()
        if self.graph is not None:
            await self.graph.stop()


def _restore(saved: bytes, twin: Twin) -> PlantModel | None:
    """The saved model when the twin still holds every object of it (else the plant is built
    again, re-creating what was deleted, as a start with an unchanged description always did).
    On the 1,000-machine plant this skips a build of ~10 s CPU that would write nothing."""
    model = PlantModel.from_document(saved)
    if model is None or not all(twin.exists(kind, identifier) for kind, identifier in model.objects):
        return None
    return model
