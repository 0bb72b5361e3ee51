"""Where a v3 ModelReference points in the mirror: the shell, submodel or element its keys name.

OPC 30270 links an ``AASReferenceType`` object to the node it refers to with an ``AASReference``
reference; that needs the keys read back into a NodeId of this address space. External
references (and model references to what this twin does not hold) point nowhere.
"""

from __future__ import annotations

from typing import NamedTuple

from basyx.aas import model

from twinbridge.aas import paths
from twinbridge.aas.twin import Twin


class Target(NamedTuple):
    """A shell (``shell`` true, ``path`` ""), a submodel (``path`` "") or an element in a submodel."""

    shell: bool
    identifier: str
    path: str


def target_of(twin: Twin, reference: object) -> Target | None:
    if not isinstance(reference, model.ModelReference) or not reference.key:
        return None
    first, *rest = list(reference.key)
    identifier = str(first.value)
    if first.type is model.KeyTypes.ASSET_ADMINISTRATION_SHELL:
        return Target(True, identifier, "") if not rest and identifier in twin.shells else None
    submodel = twin.submodels.get(identifier) if first.type is model.KeyTypes.SUBMODEL else None
    if submodel is None:
        return None
    segments: list[str | int] = []
    node: model.Referable = submodel
    try:
        for key in rest:
            segments.append(int(key.value) if isinstance(node, model.SubmodelElementList) else str(key.value))
            node = paths.resolve(submodel, paths.format_path(segments))
    except (paths.PathError, ValueError):
        return None
    return Target(False, identifier, paths.format_path(segments))
