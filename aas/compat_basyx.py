"""Every reach into basyx-python-sdk's private API, in one place, checked at start-up.

basyx keeps its per-class JSON tables and its Reference constructor private (underscore names)
but they are the fast and exact way to use its own model semantics. If a basyx release renames
one, ``check()`` stops the start with a message naming the attribute and the version these hooks
were tested with, instead of failing on the first request or silently degrading.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable

from basyx.aas import model
from basyx.aas.adapter import _generic
from basyx.aas.adapter.aasx import AASXReader
from basyx.aas.adapter.json import AASFromJsonDecoder, AASToJsonEncoder, StrictAASFromJsonDecoder

TESTED_VERSION = "2.2.0"

_HOOKS: list[tuple[type, str]] = [
    (AASToJsonEncoder, "_get_aas_class_serializers"),
    (StrictAASFromJsonDecoder, "_get_aas_class_parsers"),
    (AASFromJsonDecoder, "_get_aas_class_parsers"),
    (StrictAASFromJsonDecoder, "_construct_reference"),
    (AASXReader, "_add_supplementary_file"),
]


class BasyxCompatError(RuntimeError):
    """A basyx private hook that twinbridge relies on is missing."""


def check() -> None:
    """Raise BasyxCompatError naming every missing hook (call once at start-up)."""
    missing = [f"{cls.__module__}.{cls.__qualname__}.{name}" for cls, name in _HOOKS if not hasattr(cls, name)]
    if missing:
        try:
            installed = importlib.metadata.version("basyx-python-sdk")
        except importlib.metadata.PackageNotFoundError:
            installed = "unknown"
        raise BasyxCompatError(
            f"basyx-python-sdk {installed} lacks {', '.join(missing)}; twinbridge was tested with "
            f"basyx-python-sdk {TESTED_VERSION} (install it with `pip install -c constraints.txt .`)"
        )


def class_serializers() -> dict[type, Callable[[object], dict[str, object] | list[object]]]:
    """basyx's JSON serializer per model class, in the order ``AASToJsonEncoder.default`` tries them."""
    return AASToJsonEncoder._get_aas_class_serializers()  # type: ignore[no-any-return]


def class_parsers(strict: bool) -> dict[str, Callable[[dict[str, object]], object]]:
    """basyx's JSON constructor per ``modelType``."""
    decoder = StrictAASFromJsonDecoder if strict else AASFromJsonDecoder
    return decoder._get_aas_class_parsers()  # type: ignore[no-any-return]


def construct_reference(data: dict[str, object]) -> model.Reference:
    """A Reference from its AAS JSON object (strict); raises KeyError/ValueError/TypeError on defects."""
    reference: model.Reference = StrictAASFromJsonDecoder._construct_reference(data)
    return reference


def key_type_name(key_type: model.KeyTypes) -> str:
    """A KeyTypes member's AAS name (``GlobalReference``, ``Submodel``...), as JSON writes it."""
    return _generic.KEY_TYPES[key_type]


def reference_type_name(reference: model.Reference) -> str:
    """``ExternalReference`` or ``ModelReference``."""
    return _generic.REFERENCE_TYPES[type(reference)]


def asset_kind_name(kind: model.AssetKind) -> str:
    """An AssetKind member's AAS name (``Instance``, ``Type``, ``NotApplicable``)."""
    return _generic.ASSET_KIND[kind]
