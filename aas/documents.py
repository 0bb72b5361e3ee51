"""One identifiable ⇄ its AAS JSON document, the unit the store keeps."""

from __future__ import annotations

import json
from typing import Any

from basyx.aas import model
from basyx.aas.adapter.json import AASFromJsonDecoder, AASToJsonEncoder


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
    """The AAS JSON form of any basyx object, as plain dicts and lists."""
    return strip_empty_specific_asset_ids(json.loads(json.dumps(obj, cls=AASToJsonEncoder)))


def encode(obj: model.Identifiable) -> bytes:
    return json.dumps(to_jsonable(obj), separators=(",", ":"), ensure_ascii=False).encode()


def decode(document: bytes | str) -> model.Identifiable:
    obj = json.loads(document, cls=AASFromJsonDecoder)
    if not isinstance(obj, model.Identifiable):
        raise ValueError("the document is not an AAS identifiable")
    return obj
