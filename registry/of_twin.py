"""Descriptors of a repository's shells and submodels, with the endpoints that serve them.

The Part 1 parts (description, displayName, administration, semanticId, specificAssetIds...)
are copied from the object's own AAS JSON, so a descriptor says exactly what the repository
answers. A shell's descriptor embeds the descriptors of the submodels it references that this
repository holds (a reference to a submodel elsewhere is not ours to describe).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from basyx.aas import model

from twinbridge.aas.documents import to_jsonable
from twinbridge.registry.descriptors import (
    AAS_INTERFACE,
    SUBMODEL_INTERFACE,
    AssetAdministrationShellDescriptor,
    SubmodelDescriptor,
    endpoint,
)
from twinbridge.server.api.ids import encode_id

_COMMON = ("description", "displayName", "administration", "idShort", "id")


def _pick(document: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: document[key] for key in keys if document.get(key) not in (None, [], {})}


def submodel_descriptor(submodel: model.Submodel, base_url: str) -> SubmodelDescriptor:
    document = to_jsonable(submodel)
    data = _pick(document, (*_COMMON, "semanticId", "supplementalSemanticIds"))
    if "supplementalSemanticIds" in data:  # Part 1 says ...Ids, the descriptor ...Id
        data["supplementalSemanticId"] = data.pop("supplementalSemanticIds")
    data["endpoints"] = [endpoint(SUBMODEL_INTERFACE, f"{base_url}/submodels/{encode_id(submodel.id)}")]
    return SubmodelDescriptor.model_validate(data)


def submodel_ids(shell: model.AssetAdministrationShell) -> list[str]:
    """The ids of the submodels ``shell`` references, in a stable order."""
    ids = []
    for reference in shell.submodel:
        keys = list(reference.key)
        if keys and keys[-1].type is model.KeyTypes.SUBMODEL:
            ids.append(str(keys[-1].value))
    return sorted(ids)


def shell_descriptor(shell: model.AssetAdministrationShell, submodels: Mapping[str, model.Submodel],
                     base_url: str) -> AssetAdministrationShellDescriptor:
    document = to_jsonable(shell)
    data = _pick(document, _COMMON)
    asset = document.get("assetInformation") or {}
    data.update(_pick(asset, ("assetKind", "assetType", "globalAssetId", "specificAssetIds")))
    data["endpoints"] = [endpoint(AAS_INTERFACE, f"{base_url}/shells/{encode_id(shell.id)}")]
    held = [submodels[identifier] for identifier in submodel_ids(shell) if identifier in submodels]
    if held:
        data["submodelDescriptors"] = [submodel_descriptor(submodel, base_url) for submodel in held]
    return AssetAdministrationShellDescriptor.model_validate(data)
