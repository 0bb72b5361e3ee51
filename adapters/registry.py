"""Southbound protocols registered by ``kind``: the ``Adapter`` protocol, the registry, and the
plant-file schema assembled from it.

A protocol is one package that defines a source model (``kind: Literal["opcua"]``, …), a point
model (what a binding carries under ``opcua:``), an optional cross-check of the two, and a
factory that builds its ``Adapter`` — and registers them as an ``AdapterKind``. Nothing else
changes: the composition root looks the factory up by ``source.kind``, and ``sources`` /
``bindings`` in a plant file accept the new kind with errors reported by field path and line.
The built-in kinds are the packages in ``BUILTIN``; anything else calls ``register`` before the
plant file is read (a plug-in, or a test's own kind).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from twinbridge.adapters.config import Binding, SourceConfig, Southbound
from twinbridge.adapters.supervisor import ConnectionSupervisor

if TYPE_CHECKING:
    from twinbridge.aas.twin import Twin

BUILTIN = ("twinbridge.adapters.modbus", "twinbridge.adapters.mqtt")
"""Packages whose ``KIND`` is registered on first use (a built-in protocol adds its package here)."""

S = TypeVar("S", bound=SourceConfig)
S_contra = TypeVar("S_contra", bound=SourceConfig, contravariant=True)
P = TypeVar("P", bound=BaseModel)


class AdapterStats(Protocol):
    """An adapter's own counters (messages, polls, …) as plain data for logs and health checks."""

    def as_dict(self) -> dict[str, object]: ...


class Adapter(Protocol):
    """What the application runs for one source; every adapter keeps its link under a
    ``ConnectionSupervisor`` (``connection``: state, reason, reconnect counters)."""

    @property
    def connection(self) -> ConnectionSupervisor: ...

    @property
    def stats(self) -> AdapterStats: ...

    @property
    def connected(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Stop the link; the bound values stay but turn Bad (nothing keeps them current)."""

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait for a session; TimeoutError naming the peer and the reason otherwise."""


class AdapterFactory(Protocol[S_contra]):
    def __call__(self, source: S_contra, bindings: Sequence[tuple[str, Binding]], twin: Twin) -> Adapter: ...


@dataclass(frozen=True)
class AdapterKind(Generic[S, P]):
    """One protocol. ``factory`` may import the protocol's library lazily (``validate`` does not
    need pymodbus); ``check(source, point, writable)`` raises ValueError for what only the pair knows."""

    kind: str
    label: str  # how messages name the protocol, e.g. "Modbus"
    source: type[S]
    point: type[P]
    factory: AdapterFactory[S]
    check: Callable[[S, P, bool], None] | None = None


_kinds: dict[str, AdapterKind[Any, Any]] = {}
_builtins_loaded = False
_model: type[Southbound] | None = None


def register(kind: AdapterKind[S, P]) -> None:
    """Add a protocol; a second registration of the same kind name is an error."""
    global _model
    _load_builtins()
    if kind.kind in _kinds:
        raise ValueError(f"adapter kind {kind.kind!r} is already registered")
    source_kind = kind.source.model_fields["kind"].annotation
    if source_kind is str:
        raise ValueError(f"{kind.source.__name__}.kind must be Literal[{kind.kind!r}]")
    _kinds[kind.kind] = kind
    _model = None


def unregister(name: str) -> None:
    """Remove a kind that was registered at run time (tests clean up their own kind)."""
    global _model
    if name in _builtin_names():
        raise ValueError(f"adapter kind {name!r} is built in")
    _kinds.pop(name, None)
    _model = None


def kinds() -> list[str]:
    _load_builtins()
    return list(_kinds)


def kind_of(source: SourceConfig) -> AdapterKind[Any, Any]:
    _load_builtins()
    found = _kinds.get(source.kind)
    if found is None:
        raise ValueError(f"source {source.name!r}: no adapter is registered for kind {source.kind!r}")
    return found


def create_adapter(source: SourceConfig, bindings: Sequence[tuple[str, Binding]], twin: Twin) -> Adapter:
    """The adapter of ``source``, built by the factory registered for ``source.kind``."""
    return kind_of(source).factory(source, bindings, twin)


def validate_southbound(data: object) -> Southbound:
    """``{"sources": [...], "bindings": [...]}`` validated against every registered kind."""
    return southbound_model().model_validate(data)


def southbound_model() -> type[Southbound]:
    """The plant file's southbound schema for the kinds registered now (rebuilt after a change)."""
    global _model
    _load_builtins()
    if _model is None:
        sources = [kind.source for kind in _kinds.values()]
        source_type: Any = (
            sources[0] if len(sources) == 1
            else Annotated[Union[tuple(sources)], Field(discriminator="kind")]  # noqa: UP007 (a runtime tuple)
        )
        points: dict[str, Any] = {name: (kind.point | None, None) for name, kind in _kinds.items()}
        binding = create_model("Binding", __base__=_PlantBinding, **points)
        _model = create_model(
            "Southbound", __base__=_CheckedSouthbound,
            sources=(list[source_type], Field(default_factory=list)),
            bindings=(list[binding], Field(default_factory=list)),  # type: ignore[valid-type]
        )
    return _model


class _PlantBinding(Binding):
    """A binding read from a plant file: one field per kind, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _CheckedSouthbound(Southbound):
    @model_validator(mode="after")
    def _cross_check(self) -> _CheckedSouthbound:
        by_name: dict[str, SourceConfig] = {}
        for source in self.sources:
            if source.name in by_name:
                raise ValueError(f"duplicate source name {source.name!r}")
            by_name[source.name] = source
        for index, binding in enumerate(self.bindings):
            where = f"bindings[{index}]"
            if binding.source not in by_name:
                raise ValueError(f"{where}: unknown source {binding.source!r}")
            source = by_name[binding.source]
            kind = kind_of(source)
            point = binding.point(kind.kind, kind.point)
            if point is None:
                raise ValueError(f"{where}: source {source.name!r} is {kind.label}, the binding needs '{kind.kind}'")
            if kind.check is not None:
                try:
                    kind.check(source, point, binding.writable)
                except ValueError as error:
                    raise ValueError(f"{where}: {error}") from None
        return self


def _builtin_names() -> set[str]:
    return {getattr(importlib.import_module(package), "KIND").kind for package in BUILTIN}  # noqa: B009


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for package in BUILTIN:
        kind = getattr(importlib.import_module(package), "KIND", None)
        if not isinstance(kind, AdapterKind):
            raise RuntimeError(f"{package} does not define KIND = AdapterKind(...)")
        _kinds[kind.kind] = kind
