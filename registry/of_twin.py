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


def _part(value: Any) -> Any:
    """A Part 1 part's JSON, or None when it is absent or empty (a descriptor leaves it out)."""
    if value is None:
        return None
    document = to_jsonable(value)
    return document if document not in ([], {}) else None


def _common(obj: model.Identifiable) -> dict[str, Any]:
    # Part by part, not the whole object: a descriptor must not cost a serialization of every element.
    data = {"id": obj.id, "idShort": obj.id_short or None, "description": _part(obj.description),
            "displayName": _part(obj.display_name), "administration": _part(obj.administration)}
    return {key: value for key, value in data.items() if value is not None}


def submodel_descriptor(submodel: model.Submodel, base_url: str) -> SubmodelDescriptor:
    data = _common(submodel)
    if submodel.semantic_id is not None:
        data["semanticId"] = to_jsonable(submodel.semantic_id)
    supplemental = [to_jsonable(reference) for reference in submodel.supplemental_semantic_id]
    if supplemental:
        data["supplementalSemanticId"] = supplemental  # Part 1 says ...Ids, the descriptor ...Id
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
    data = _common(shell)
    asset = shell.asset_information
    data["assetKind"] = asset.asset_kind.name.title().replace("_", "")  # INSTANCE, TYPE, NOT_APPLICABLE
    data.update({key: value for key, value in (
        ("assetType", asset.asset_type), ("globalAssetId", asset.global_asset_id),
        ("specificAssetIds", [to_jsonable(i) for i in asset.specific_asset_id] or None)) if value})
    data["endpoints"] = [endpoint(AAS_INTERFACE, f"{base_url}/shells/{encode_id(shell.id)}")]
    held = [submodels[identifier] for identifier in submodel_ids(shell) if identifier in submodels]
    if held:
        data["submodelDescriptors"] = [submodel_descriptor(submodel, base_url) for submodel in held]
    return AssetAdministrationShellDescriptor.model_validate(data)
