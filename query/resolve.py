"""What a field identifier reads out of a shell, a submodel or a concept description.

A field stands for *every* value it reaches (``$sme#value``: the value of every element of the
submodel; ``specificAssetIds[].name``: every name), each with its *bindings*: which shell
(``$aas``), submodel (``$sm``), element (``$sme``, recursive fields only) and list item (one key per
``[]``, named by the field's text up to that list) it came from. ``$match`` keeps only the
combinations whose bindings agree, which is how "the same SpecificAssetId" or "the same document"
is expressed.

Across the hierarchy (clause "Search in AAS Hierarchy"): in a shell query ``$sm``/``$sme`` fields
reach the submodels the shell references; in a submodel query ``$aas`` fields reach the shells
that reference the submodel. ``$sme`` does not enter Entity statements, annotations or operation
variables (clause "Limitations", 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from basyx.aas import model

from twinbridge.aas.compat_basyx import asset_kind_name, key_type_name, reference_type_name
from twinbridge.aas.errors import TimedOut
from twinbridge.query.descriptors import Descriptor, descriptor_values
from twinbridge.query.syntax import Attribute, Field, PathStep, ReferenceClause, Root

Bindings = dict[str, object]
Resolved = list[tuple[Bindings, object]]


class Deadline:
    """Checked by the evaluation every ``_STRIDE`` steps, so a query stops within a few ms of its limit."""

    _STRIDE = 256

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self._expires = clock() + seconds
        self._clock = clock
        self._steps = 0

    def tick(self) -> None:
        self._steps += 1
        if self._steps % self._STRIDE == 0:
            self.check()

    def remaining(self) -> float:
        """Seconds left (what a database statement may still take)."""
        return max(0.0, self._expires - self._clock())

    def check(self) -> None:
        if self._clock() > self._expires:
            raise TimedOut(f"the query ran longer than its limit of {self.seconds:g} s and was stopped; "
                           "narrow it (a semanticId, an idShort, an id) or page it with a smaller limit")


class World(Protocol):
    """The rest of the repository, for fields that cross the hierarchy."""

    def submodels_of(self, shell: model.AssetAdministrationShell) -> Iterable[model.Submodel]: ...

    def shells_of(self, submodel: model.Submodel) -> Iterable[model.AssetAdministrationShell]: ...


@dataclass(slots=True)
class Scope:
    """One object under evaluation (``root`` says which repository it belongs to): a model object,
    or a registry descriptor's JSON for ``$aasdesc`` / ``$smdesc``."""

    root: Root
    obj: model.Identifiable | Descriptor
    world: World
    deadline: Deadline
    _cache: dict[Field, Resolved] = field(default_factory=dict)

    def resolve(self, field_: Field) -> Resolved:
        """The field's values for this object, computed once per object."""
        found = self._cache.get(field_)
        if found is None:
            found = self._cache[field_] = list(_resolve(field_, self))
        return found


# ----------------------------------------------------------- the objects
def _shells(scope: Scope) -> Iterable[model.AssetAdministrationShell]:
    if scope.root is Root.AAS:
        return (scope.obj,)  # type: ignore[return-value]
    if scope.root is Root.SM:
        return scope.world.shells_of(scope.obj)  # type: ignore[arg-type]
    return ()


def _submodels(scope: Scope) -> Iterable[model.Submodel]:
    if scope.root is Root.SM:
        return (scope.obj,)  # type: ignore[return-value]
    if scope.root is Root.AAS:
        return scope.world.submodels_of(scope.obj)  # type: ignore[arg-type]
    return ()


def _resolve(field_: Field, scope: Scope) -> Iterator[tuple[Bindings, object]]:
    attribute = field_.attribute
    if field_.root is Root.AAS:
        for shell in _shells(scope):
            yield from _shell_attribute(shell, attribute, {"$aas": shell.id})
    elif field_.root is Root.SM:
        for submodel in _submodels(scope):
            yield from _referable_attribute(submodel, attribute, {"$sm": submodel.id}, "$sm#")
    elif field_.root is Root.SME:
        keys = field_.list_keys
        for submodel in _submodels(scope):
            base: Bindings = {"$sm": submodel.id}
            if field_.path is None:
                for element in walk(submodel, scope.deadline):
                    yield from _element_attribute(element, attribute, {**base, "$sme": id(element)})
            else:
                for bindings, element in _follow(submodel, field_.path, keys, base):
                    yield from _element_attribute(element, attribute, bindings)
    elif field_.root is Root.CD:
        if scope.root is Root.CD:
            yield from _referable_attribute(scope.obj, attribute, {}, "$cd#")  # type: ignore[arg-type]
    elif field_.root is scope.root:  # a descriptor field of a descriptor
        yield from descriptor_values(field_, scope.obj)  # type: ignore[arg-type]


# ---------------------------------------------------------- attributes
def _reference(reference: model.Reference | None, clause: ReferenceClause, bindings: Bindings,
               key_name: str) -> Iterator[tuple[Bindings, object]]:
    if reference is None:
        return
    if clause.part == "type":
        yield bindings, reference_type_name(reference)
        return
    keys = reference.key
    if clause.key_index is None:
        indexed: Iterable[tuple[int, model.Key]] = enumerate(keys)
    elif clause.key_index < len(keys):
        indexed = ((clause.key_index, keys[clause.key_index]),)
    else:
        return
    for index, key in indexed:
        value = key_type_name(key.type) if clause.key_part == "type" else key.value
        yield {**bindings, key_name: index}, value


def _references(references: list[model.Reference], attribute: Attribute, bindings: Bindings,
                key_name: str) -> Iterator[tuple[Bindings, object]]:
    """A list of References (``submodels``, ``supplementalSemanticIds``), each item bound by index."""
    assert attribute.reference is not None
    if attribute.item is None:
        indexed: Iterable[tuple[int, model.Reference]] = enumerate(references)
    else:
        indexed = ((attribute.item, references[attribute.item]),) if attribute.item < len(references) else ()
    for index, reference in indexed:
        yield from _reference(reference, attribute.reference, {**bindings, key_name: index}, key_name + ".keys[]")


def _shell_attribute(shell: model.AssetAdministrationShell, attribute: Attribute,
                     bindings: Bindings) -> Iterator[tuple[Bindings, object]]:
    name = attribute.name
    info = shell.asset_information
    if name == "id":
        yield bindings, shell.id
    elif name == "idShort":
        yield bindings, shell.id_short or ""  # empty equals empty (spec example table, row 1)
    elif name == "assetKind":
        yield bindings, asset_kind_name(info.asset_kind)
    elif name == "assetType":
        yield bindings, info.asset_type or ""
    elif name == "globalAssetId":
        yield bindings, info.global_asset_id or ""
    elif name == "specificAssetIds":
        assets = list(info.specific_asset_id)
        key = "$aas#assetInformation.specificAssetIds[]"
        if attribute.item is None:
            indexed: Iterable[tuple[int, model.SpecificAssetId]] = enumerate(assets)
        else:
            indexed = ((attribute.item, assets[attribute.item]),) if attribute.item < len(assets) else ()
        for index, asset in indexed:
            item = {**bindings, key: index}
            if attribute.member == "name":
                yield item, asset.name
            elif attribute.member == "value":
                yield item, asset.value
            else:
                assert attribute.reference is not None
                yield from _reference(asset.external_subject_id, attribute.reference, item,
                                      key + ".externalSubjectId.keys[]")
    elif name == "submodels":
        yield from _references(list(shell.submodel), attribute, bindings, "$aas#submodels[]")


def _referable_attribute(obj: model.Identifiable, attribute: Attribute, bindings: Bindings,
                         prefix: str) -> Iterator[tuple[Bindings, object]]:
    if attribute.name == "id":
        yield bindings, obj.id
    elif attribute.name == "idShort":
        yield bindings, obj.id_short or ""
    elif attribute.name == "semanticId":
        assert attribute.reference is not None and isinstance(obj, model.HasSemantics)
        yield from _reference(obj.semantic_id, attribute.reference, bindings, prefix + "semanticId.keys[]")
    elif attribute.name == "supplementalSemanticIds":
        assert isinstance(obj, model.HasSemantics)
        yield from _references(list(obj.supplemental_semantic_id), attribute, bindings,
                               prefix + "supplementalSemanticIds[]")


def _element_attribute(element: model.SubmodelElement, attribute: Attribute,
                       bindings: Bindings) -> Iterator[tuple[Bindings, object]]:
    name = attribute.name
    if name == "value":
        if isinstance(element, model.Property):
            yield bindings, "" if element.value is None else element.value
        elif isinstance(element, model.MultiLanguageProperty):
            key = f"langString@{id(element)}"
            for index, text in enumerate((element.value or {}).values()):
                yield {**bindings, key: index}, text
        elif isinstance(element, model.File):
            yield bindings, element.value or ""
    elif name == "language":
        if isinstance(element, model.MultiLanguageProperty):
            key = f"langString@{id(element)}"
            for index, language in enumerate(element.value or {}):
                yield {**bindings, key: index}, language
    elif name == "valueType":
        if isinstance(element, model.Property | model.Range):
            yield bindings, model.datatypes.XSD_TYPE_NAMES[element.value_type]
    elif name == "idShort":
        yield bindings, element.id_short or ""
    elif name == "semanticId":
        assert attribute.reference is not None
        yield from _reference(element.semantic_id, attribute.reference, bindings, f"semanticId@{id(element)}")
    elif name == "supplementalSemanticIds":
        yield from _references(list(element.supplemental_semantic_id), attribute, bindings,
                               f"supplementalSemanticIds@{id(element)}")


# ------------------------------------------------------------ elements
def walk(submodel: model.Submodel, deadline: Deadline) -> Iterator[model.SubmodelElement]:
    """Every element of ``submodel``, through collections and lists (not Entity statements,
    annotations or operation variables: clause "Limitations", 4)."""
    stack: list[Iterator[model.SubmodelElement]] = [iter(submodel.submodel_element)]
    while stack:
        element = next(stack[-1], None)
        if element is None:
            stack.pop()
            continue
        deadline.tick()
        yield element
        if isinstance(element, model.SubmodelElementCollection | model.SubmodelElementList):
            stack.append(iter(element.value))


def _child(container: object, id_short: str) -> model.SubmodelElement | None:
    if isinstance(container, model.Submodel):
        found: model.SubmodelElement | None = container.submodel_element.get("id_short", id_short)
        return found
    if isinstance(container, model.SubmodelElementCollection):
        found = container.value.get("id_short", id_short)
        return found
    return None


def _follow(submodel: model.Submodel, path: tuple[PathStep, ...], keys: tuple[tuple[str, ...], ...],
            bindings: Bindings) -> Iterator[tuple[Bindings, model.SubmodelElement]]:
    """The elements an idShortPath names; each ``[]`` branches over the list's items."""
    current: list[tuple[Bindings, object]] = [(bindings, submodel)]
    for step, step_keys in zip(path, keys, strict=True):
        following: list[tuple[Bindings, object]] = []
        for found_bindings, container in current:
            element: object = _child(container, step.id_short)
            if element is None:
                continue
            branches: list[tuple[Bindings, object]] = [(found_bindings, element)]
            for index, key in zip(step.indexes, step_keys, strict=True):
                items: list[tuple[Bindings, object]] = []
                for item_bindings, listed in branches:
                    if not isinstance(listed, model.SubmodelElementList):
                        continue
                    values = listed.value
                    if index is None:
                        items.extend(({**item_bindings, key: n}, item) for n, item in enumerate(values))
                    elif index < len(values):
                        items.append(({**item_bindings, key: index}, values[index]))
                branches = items
            following.extend(branches)
        current = following
    for found_bindings, element in current:
        if isinstance(element, model.SubmodelElement):
            yield found_bindings, element


def values_at(submodel: model.Submodel, field_: Field) -> list[object]:
    """The values ``field_`` (a ``$sme.<path>#value`` field) reads in ``submodel``, without bindings
    (what a value index keeps)."""
    assert field_.path is not None
    return [value for bindings, element in _follow(submodel, field_.path, field_.list_keys, {})
            for _, value in _element_attribute(element, field_.attribute, bindings)]
