"""One identifiable ⇄ its AAS JSON document, the unit the store keeps.

The twin encodes identifiables (and single elements for the element log) and decodes them at
start-up, so both run through orjson with basyx's own per-class functions (``aas.formats.jsontree``).
Stored submodels, most of a restart's decoding, go through ``aas.formats.direct`` first (basyx's
constructors without its generic decoder around them); whatever that does not reproduce exactly
is decoded generically.
"""

from __future__ import annotations

from typing import Any

import orjson
from basyx.aas import model

from twinbridge.aas.formats import direct, jsontree


def strip_empty_specific_asset_ids(data: Any) -> Any:
    """basyx writes ``specificAssetIds: []`` for Entities; aas-core and the JSON schema reject it."""
    if isinstance(data, dict):
        if data.get("specificAssetIds") == []:
            del data["specificAssetIds"]
        for value in data.values():
            strip_empty_specific_asset_ids(value)
    elif isinstance(data, list):
        for item in data:
            strip_empty_specific_asset_ids(item)
    return data


def to_jsonable(obj: object) -> Any:
    """The AAS JSON form of any basyx object, as plain dicts and lists (empty specificAssetIds stripped)."""
    return orjson.loads(jsontree.dumps(obj))


def encode(obj: model.Referable) -> bytes:
    return jsontree.dumps(obj)


def decode(document: bytes | str) -> model.Identifiable:
    """Failsafe, like basyx's default decoder: what the twin stored itself is trusted."""
    data = orjson.loads(document)
    if isinstance(data, dict) and data.get("modelType") == "Submodel":
        try:
            return direct.submodel(data)
        except Exception:  # Unhandled or a constructor's refusal: the generic decoder
            pass  # decides then, with basyx's own failsafe skipping and logs (data is not mutated)
    obj = jsontree.build(data, failsafe=True)
    if not isinstance(obj, model.Identifiable):
        raise ValueError("the document is not an AAS identifiable")
    return obj


def decode_element(document: bytes | str) -> model.SubmodelElement:
    """One submodel element from its AAS JSON (the element log's add/replace bodies)."""
    return element_of(orjson.loads(document))


def element_of(data: object) -> model.SubmodelElement:
    """One submodel element from its parsed AAS JSON: the direct decoder where it reproduces
    basyx exactly (a Property ~10x faster than basyx's constructors), else basyx's, failsafe."""
    if isinstance(data, dict):
        try:
            return direct.element(data)
        except direct.Unhandled:
            pass  # basyx's decoder decides, with its own failsafe skipping and logs (data is not mutated)
    element = jsontree.build(data, failsafe=True)
    if not isinstance(element, model.SubmodelElement):
        raise ValueError("the document is not an AAS submodel element")
    return element
