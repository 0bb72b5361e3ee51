"""Identifiers in URL paths: base64url-encoded UTF-8, padding optional (Part 2, "Encoding")."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from twinbridge.server.api.results import ApiError

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def _decode(value: str, what: str) -> str:
    if not value or not _BASE64URL.fullmatch(value):
        raise ApiError(400, f"{what} {value!r} is not base64url-encoded")
    unpadded = value.rstrip("=")
    if len(unpadded) % 4 == 1:
        raise ApiError(400, f"{what} {value!r} is not base64url-encoded (impossible length)")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise ApiError(400, f"{what} {value!r} is not a base64url-encoded UTF-8 text") from None


def decode_id(value: str, what: str) -> str:
    """The identifier behind a base64url path segment; a bad encoding is a 400 naming ``what``."""
    decoded = _decode(value, what)
    if not decoded:
        raise ApiError(400, f"{what} {value!r} decodes to an empty identifier")
    return decoded


def encode_id(identifier: str) -> str:
    """Unpadded base64url, the form the spec's examples and clients use."""
    return base64.urlsafe_b64encode(identifier.encode("utf-8")).decode("ascii").rstrip("=")


def decode_json(value: str, what: str) -> Any:
    """A base64url-encoded JSON query parameter (``assetIds``, ``isCaseOf``, ``dataSpecificationRef``)."""
    text = _decode(value, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ApiError(400, f"{what} does not decode to JSON: {error.msg} at column {error.colno}") from None


def decode_asset_ids(encoded: list[str] | None, pair_of: Callable[[Any], tuple[str, str]]) -> list[tuple[str, str]]:
    """(name, value) pairs from ``assetIds`` parameters: each a base64url SpecificAssetId JSON, a JSON
    array of them, or a bare globalAssetId (text that is not a JSON object or array: common clients
    send the id itself). ``pair_of`` checks one SpecificAssetId item, in its caller's rules."""
    pairs: list[tuple[str, str]] = []
    for value in encoded or ():
        text = decode_id(value, "assetIds")
        if not text.lstrip().startswith(("{", "[")):
            pairs.append(("globalAssetId", text))
            continue
        data = decode_json(value, "assetIds")
        pairs.extend(pair_of(item) for item in (data if isinstance(data, list) else [data]))
    return pairs


def decode_ids(values: list[str], what: str) -> list[str]:
    """Ids given as repeated query parameters, comma-separated, or both (``aasIds=a,b&aasIds=c``)."""
    return [decode_id(part, what) for value in values for part in value.split(",") if part]
