"""Every reach into basyx-python-sdk's private API, in one place, checked at start-up.

basyx keeps its per-class JSON tables and its Reference constructor private (underscore names)
but they are the fast and exact way to use its own model semantics. If a basyx release renames
one, ``check()`` stops the start with a message naming the attribute and the version these hooks
were tested with, instead of failing on the first request or silently degrading.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import _generic
from basyx.aas.adapter.aasx import AASXReader
from basyx.aas.adapter.json import AASFromJsonDecoder, AASToJsonEncoder, StrictAASFromJsonDecoder
from basyx.aas.model.base import ConstrainedList, NamespaceSet

TESTED_VERSION = "2.2.0"

_HOOKS: list[tuple[type, str]] = [
    (AASToJsonEncoder, "_get_aas_class_serializers"),
    (StrictAASFromJsonDecoder, "_get_aas_class_parsers"),
    (AASFromJsonDecoder, "_get_aas_class_parsers"),
    (StrictAASFromJsonDecoder, "_construct_reference"),
    (StrictAASFromJsonDecoder, "_construct_asset_information"),
    (StrictAASFromJsonDecoder, "_construct_entity"),
    (AASXReader, "_add_supplementary_file"),
    (model.HasSemantics, "_check_constraint_add"),
]


class BasyxCompatError(RuntimeError):
    """A basyx private hook that twinbridge relies on is missing."""


def check() -> None:
    """Raise BasyxCompatError naming every missing hook (call once at start-up)."""
    missing = [f"{cls.__module__}.{cls.__qualname__}.{name}" for cls, name in _HOOKS if not hasattr(cls, name)]
    if not missing and not _lazy_containers_work():
        missing.append("the constructors of basyx.aas.model.base.Qualifiable/HasExtension/HasSemantics")
    if not _value_attribute_works():
        missing.append("basyx.aas.model.Property._value (the attribute behind Property.value)")
    if missing:
        try:
            installed = importlib.metadata.version("basyx-python-sdk")
        except importlib.metadata.PackageNotFoundError:
            installed = "unknown"
        raise BasyxCompatError(
            f"basyx-python-sdk {installed} lacks {', '.join(missing)}; twinbridge was tested with "
            f"basyx-python-sdk {TESTED_VERSION} (install it with `pip install -c constraints.txt .`)"
        )


def _lazy_containers_work() -> bool:
    """The empty-container descriptors still fit basyx's constructors (see the section below)."""
    element = model.Property("probe", model.datatypes.String)
    if vars(element).keys() & {"_twinbridge_qualifier", "_twinbridge_namespace_element_sets"}:
        return False
    element.semantic_id = model.ExternalReference((model.Key(model.KeyTypes.GLOBAL_REFERENCE, "urn:x"),))
    element.qualifier.add(model.Qualifier("q", model.datatypes.String))
    element.supplemental_semantic_id.append(element.semantic_id)
    return len(element.qualifier) == 1 and len(element.supplemental_semantic_id) == 1


def assign_value(element: model.SubmodelElement, value: object) -> None:
    """``element.value = value`` on the twin's hot path (``Twin.update``). A Property whose value
    already has its valueType's exact Python type stores it as basyx's setter would (its
    ``trivial_cast`` returns such a value unchanged), without the property call and the cast:
    ~0.3 µs of a ~1 µs update, three of which run per message with analytics on
    (bench/bench_analytics_mqtt.py). ``check()`` verifies the attribute still holds the value."""
    if type(element) is model.Property and type(value) is element.value_type:
        element._value = value
    else:
        element.value = value  # type: ignore[attr-defined]


def _value_attribute_works() -> bool:
    probe = model.Property("probe", model.datatypes.Double, 1.5)
    if getattr(probe, "_value", None) != 1.5:
        return False
    assign_value(probe, 2.5)
    return probe.value == 2.5


def class_serializers() -> dict[type, Callable[[object], dict[str, object] | list[object]]]:
    """basyx's JSON serializer per model class, in the order ``AASToJsonEncoder.default`` tries them."""
    return AASToJsonEncoder._get_aas_class_serializers()  # type: ignore[no-any-return]


def class_parsers(strict: bool) -> dict[str, Callable[[dict[str, object]], object]]:
    """basyx's JSON constructor per ``modelType`` (specificAssetIds kept in the document's order)."""
    decoder: type[AASFromJsonDecoder] = _OrderedStrict if strict else _OrderedFailsafe
    return decoder._get_aas_class_parsers()  # type: ignore[no-any-return]


def _in_document_order(specific: ConstrainedList[model.SpecificAssetId], dct: dict[str, object]) -> None:
    """basyx 2.2's decoder gathers an AssetInformation's or Entity's specificAssetIds in a ``set``:
    their order then followed string hashing, i.e. changed with every process (a restart, or
    another instance on the same store, rendered the same shell in another order). Put them back
    in the order of the JSON array (equal ones were merged by the set, as before)."""
    listed = dct.get("specificAssetIds")
    if not isinstance(listed, list) or len(specific) < 2:
        return
    rank: dict[tuple[object, object], int] = {}
    for index, item in enumerate(listed):
        if isinstance(item, dict):
            rank.setdefault((item.get("name"), item.get("value")), index)
    specific[:] = sorted(specific, key=lambda item: rank.get((item.name, item.value), len(rank)))


class _OrderedFailsafe(AASFromJsonDecoder):
    """basyx's decoder with specificAssetIds in the document's order (``_in_document_order``)."""

    @classmethod
    def _construct_asset_information(cls, dct: dict[str, object],
                                     object_class: type[model.AssetInformation] = model.AssetInformation,
                                     ) -> model.AssetInformation:
        built: model.AssetInformation = super()._construct_asset_information(dct, object_class=object_class)
        _in_document_order(built.specific_asset_id, dct)
        return built

    @classmethod
    def _construct_entity(cls, dct: dict[str, object], object_class: type[model.Entity] = model.Entity,
                          ) -> model.Entity:
        built: model.Entity = super()._construct_entity(dct, object_class=object_class)
        _in_document_order(built.specific_asset_id, dct)
        return built


class _OrderedStrict(_OrderedFailsafe, StrictAASFromJsonDecoder):
    """The same, strict (its MRO: the order fix, then basyx's strict decoder's settings)."""


def construct_asset_information(data: dict[str, object]) -> model.AssetInformation:
    """An AssetInformation from its AAS JSON object (strict, specificAssetIds in order)."""
    return _OrderedStrict._construct_asset_information(data)


def construct_reference(data: dict[str, object]) -> model.Reference:
    """A Reference from its AAS JSON object (strict); raises KeyError/ValueError/TypeError on defects."""
    reference: model.Reference = StrictAASFromJsonDecoder._construct_reference(data)
    return reference


# --- Empty containers that cost nothing until used ----------------------------------------------
#
# basyx gives every element two NamespaceSets (qualifier, extension), their registry list
# (namespace_element_sets) and a supplementalSemanticId ConstrainedList, each with its own dicts
# and bound hooks, although almost every element leaves them empty: ~1.1 KB of an imported
# Property's ~1.8 KB (tracemalloc). The descriptors below keep nothing while such a container is
# empty; reading it gives a transient empty view of the same class (so isinstance checks and
# basyx's own code keep working), and the first mutation through that view creates the real
# container, as basyx would have. A created container lives in an attribute of another name:
# touching ``owner.__dict__`` would make CPython build a dict for every instance (+64 B each).

_Owner = model.Qualifiable | model.HasExtension


class _Slot:
    """The attribute that holds a container once it exists."""

    def __init__(self, name: str) -> None:
        self.slot = "_twinbridge_" + name.lstrip("_")

    def stored(self, owner: object) -> Any:
        return getattr(owner, self.slot, None)

    def store(self, owner: object, value: object) -> None:
        setattr(owner, self.slot, value)

    def drop(self, owner: object) -> None:
        if hasattr(owner, self.slot):
            delattr(owner, self.slot)


class _EmptySetList(list):  # type: ignore[type-arg]
    """A Namespace's ``namespace_element_sets`` while it has none: ``append`` creates the real list."""

    def __init__(self, owner: object) -> None:
        super().__init__()
        self._owner = owner

    def append(self, item: NamespaceSet) -> None:  # type: ignore[type-arg]
        _SETS.materialize(self._owner).append(item)


class _LazySetList(_Slot):
    def __get__(self, owner: object | None, cls: type) -> object:
        if owner is None:
            return self
        stored = self.stored(owner)
        return stored if stored is not None else _EmptySetList(owner)

    def __set__(self, owner: object, value: list[NamespaceSet]) -> None:  # type: ignore[type-arg]
        if value:
            self.store(owner, value)
        else:
            self.drop(owner)

    def materialize(self, owner: object) -> list[NamespaceSet]:  # type: ignore[type-arg]
        stored: list[NamespaceSet] | None = self.stored(owner)  # type: ignore[type-arg]
        if stored is None:
            stored = []
            self.store(owner, stored)
        return stored


_SETS = _LazySetList("namespace_element_sets")


class _EmptyNamespaceSet(NamespaceSet):  # type: ignore[type-arg]
    """An unmaterialized NamespaceSet: reads see an empty set, ``add`` creates the real one."""

    def __init__(self, owner: _Owner, slot: _LazyNamespaceSet) -> None:
        # Deliberately not NamespaceSet.__init__: that registers the set with its owner.
        self.parent = owner
        self._owner = owner
        self._slot = slot
        self._backend = {name: ({}, case_sensitive) for name, case_sensitive in slot.attribute_names}
        self._item_add_hook = None
        self._item_id_set_hook = None
        self._item_id_del_hook = None

    def add(self, element: model.Referable) -> None:  # type: ignore[override]
        self._slot.materialize(self._owner).add(element)

    def update_nss_from(self, other: NamespaceSet) -> None:  # type: ignore[type-arg]
        if len(other):
            self._slot.materialize(self._owner).update_nss_from(other)


class _LazyNamespaceSet(_Slot):
    """Data descriptor for ``qualifier`` / ``extension`` (see the section comment)."""

    def __init__(self, name: str, attribute_names: list[tuple[str, bool]]) -> None:
        super().__init__(name)
        self.attribute_names = attribute_names

    def __get__(self, owner: _Owner | None, cls: type) -> object:
        if owner is None:
            return self
        stored = self.stored(owner)
        return stored if stored is not None else _EmptyNamespaceSet(owner, self)

    def __set__(self, owner: _Owner, value: NamespaceSet) -> None:  # type: ignore[type-arg]
        if len(value) or value.parent is not owner:
            self.store(owner, value)
            return
        self.drop(owner)
        sets = _SETS.stored(owner)  # basyx's constructor registered the empty set there
        if sets is not None:
            for index, registered in enumerate(sets):  # by identity: two empty sets compare equal
                if registered is value:
                    del sets[index]
                    break
            if not sets:
                _SETS.drop(owner)

    def materialize(self, owner: _Owner) -> NamespaceSet:  # type: ignore[type-arg]
        stored: NamespaceSet | None = self.stored(owner)  # type: ignore[type-arg]
        if stored is None:
            stored = NamespaceSet(owner, self.attribute_names)
            self.store(owner, stored)
        return stored


class _EmptySupplementalIds(ConstrainedList):  # type: ignore[type-arg]
    """An unmaterialized supplementalSemanticId list: reads see [], writes create the real one."""

    def __init__(self, owner: model.HasSemantics) -> None:
        # Deliberately not ConstrainedList.__init__: nothing is kept on the owner.
        self._owner = owner
        self._list = []
        self._item_add_hook = None
        self._item_set_hook = None
        self._item_del_hook = None

    def _real(self) -> ConstrainedList:  # type: ignore[type-arg]
        return _SUPPLEMENTAL.materialize(self._owner)

    def insert(self, index: int, value: model.Reference) -> None:
        self._real().insert(index, value)

    def extend(self, values: Iterable[model.Reference]) -> None:
        items = list(values)
        if items:
            self._real().extend(items)

    def __setitem__(self, index: int | slice, value: object) -> None:
        if isinstance(index, slice) and not isinstance(value, list | tuple):
            value = list(value)  # type: ignore[call-overload]
        if isinstance(index, slice) and not value:
            return
        self._real()[index] = value  # type: ignore[index]


class _LazySupplementalIds(_Slot):
    """Data descriptor for basyx's private ``HasSemantics._supplemental_semantic_id``."""

    def __get__(self, owner: model.HasSemantics | None, cls: type) -> object:
        if owner is None:
            return self
        stored = self.stored(owner)
        return stored if stored is not None else _EmptySupplementalIds(owner)

    def __set__(self, owner: model.HasSemantics, value: ConstrainedList) -> None:  # type: ignore[type-arg]
        if len(value):
            self.store(owner, value)
        else:
            self.drop(owner)

    def materialize(self, owner: model.HasSemantics) -> ConstrainedList:  # type: ignore[type-arg]
        stored: ConstrainedList | None = self.stored(owner)  # type: ignore[type-arg]
        if stored is None:
            stored = ConstrainedList([], item_add_hook=owner._check_constraint_add)
            self.store(owner, stored)
        return stored


_SUPPLEMENTAL = _LazySupplementalIds("_supplemental_semantic_id")


def _install_lazy_containers() -> None:
    model.Namespace.namespace_element_sets = _SETS  # type: ignore[assignment]
    model.Qualifiable.qualifier = _LazyNamespaceSet("qualifier", [("type", True)])  # type: ignore[assignment]
    model.HasExtension.extension = _LazyNamespaceSet("extension", [("name", True)])  # type: ignore[assignment]
    model.HasSemantics._supplemental_semantic_id = _SUPPLEMENTAL  # type: ignore[assignment]


_install_lazy_containers()


def key_type_name(key_type: model.KeyTypes) -> str:
    """A KeyTypes member's AAS name (``GlobalReference``, ``Submodel``...), as JSON writes it."""
    return _generic.KEY_TYPES[key_type]


def reference_type_name(reference: model.Reference) -> str:
    """``ExternalReference`` or ``ModelReference``."""
    return _generic.REFERENCE_TYPES[type(reference)]


def asset_kind_name(kind: model.AssetKind) -> str:
    """An AssetKind member's AAS name (``Instance``, ``Type``, ``NotApplicable``)."""
    return _generic.ASSET_KIND[kind]


StrictDecoder = _OrderedStrict
"""basyx's strict JSON decoder (``json.loads(..., cls=StrictDecoder)``), specificAssetIds in order."""
