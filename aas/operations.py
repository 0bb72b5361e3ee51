"""Operation implementations registered in code, shared by REST ``/invoke`` and OPC UA Methods.

An implementation receives the input (and in-out) variables by idShort as Python values
and returns the output (and in-out) variables by idShort. It is found by the operation's
submodel id and idShortPath, or by its semanticId (one implementation for every instance
of a template operation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from basyx.aas import model

OperationImpl = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class OperationRegistry:
    def __init__(self) -> None:
        self._by_path: dict[tuple[str, str], OperationImpl] = {}
        self._by_semantic_id: dict[str, OperationImpl] = {}

    def register(self, implementation: OperationImpl, *, submodel_id: str | None = None,
                 path: str | None = None, semantic_id: str | None = None) -> None:
        if semantic_id is not None:
            self._by_semantic_id[semantic_id] = implementation
        elif submodel_id is not None and path is not None:
            self._by_path[(submodel_id, path)] = implementation
        else:
            raise ValueError("register an operation by (submodel_id, path) or by semantic_id")

    def find(self, submodel_id: str, path: str, operation: model.Operation) -> OperationImpl | None:
        implementation = self._by_path.get((submodel_id, path))
        if implementation is None and operation.semantic_id is not None:
            keys = operation.semantic_id.key
            if keys:
                implementation = self._by_semantic_id.get(keys[0].value)
        return implementation
