"""The Part 2 content views of submodels and elements: normal (``level``/``extent``), ``$metadata``,
``$reference`` and ``$path`` (``$value`` is ``aas.value_only``).

One definition per view keeps the repository, submodel and element routes answering alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.documents import to_jsonable
from twinbridge.server.api.bodies import Extent, Level, shape

# JSON keys that hold an element's value (or children) and so are not part of its $metadata.
# Attributes the metamodel makes mandatory (a relationship's first/second, an event's observed)
# stay, so each $metadata item is still a valid SubmodelElement.
_VALUE_KEYS: dict[str, tuple[str, ...]] = {
    "Property": ("value", "valueId"),
    "MultiLanguageProperty": ("value", "valueId"),
    "Range": ("min", "max"),
    "File": ("value",),
    "Blob": ("value",),
    "ReferenceElement": ("value",),
    "RelationshipElement": (),
    "AnnotatedRelationshipElement": ("annotations",),
    "Entity": ("statements",),
    "SubmodelElementCollection": ("value",),
    "SubmodelElementList": ("value",),
    "BasicEventElement": (),
    "Operation": ("inputVariables", "outputVariables", "inoutputVariables"),
    "Capability": (),
}


def shaped_json(obj: model.Submodel | model.SubmodelElement, level: Level = "deep",
                extent: Extent = "withBlobValue") -> Any:
    return shape(to_jsonable(obj), level, extent)


def value_depth(level: Level) -> int | None:
    """The ``depth`` of ``aas.value_only`` for a ``level``: core stops below the direct children."""
    return 1 if level == "core" else None


def submodel_metadata(submodel: model.Submodel) -> Any:
    data = to_jsonable(submodel)
    data.pop("submodelElements", None)
    return data


def element_metadata(element: model.SubmodelElement) -> Any:
    data = to_jsonable(element)
    for key in _VALUE_KEYS.get(str(data.get("modelType")), ()):
        data.pop(key, None)
    return data


def reference_json(obj: model.Submodel | model.SubmodelElement) -> Any:
    return to_jsonable(model.ModelReference.from_referable(obj))


def element_paths(elements: Iterable[model.SubmodelElement], deep: bool) -> list[str]:
    """idShortPaths of ``elements`` and (when ``deep``) all their descendants, parents first."""
    out: list[str] = []
    for element in elements:
        out.append(paths.path_of(element))
        if deep:
            out.extend(element_paths(paths.children(element), deep))
    return out
