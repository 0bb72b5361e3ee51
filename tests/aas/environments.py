"""Comparing environments the way the AAS model means them."""

from __future__ import annotations

from typing import Any

from twinbridge.aas import documents
from twinbridge.aas.serialization import Environment

SET_VALUED = {"valueReferencePairs", "submodels"}
"""basyx keeps these in sets, so their order is not part of the model."""


def canonical(env: Environment) -> dict[str, Any]:
    """AAS JSON of every identifiable by id; lists basyx keeps in sets are sorted."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            result = {key: walk(value) for key, value in node.items()}
            for key in SET_VALUED.intersection(result):
                result[key] = sorted(result[key], key=repr)
            return result
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return {obj.id: walk(documents.to_jsonable(obj)) for obj in env.identifiables()}
