"""Fast AAS JSON ⇄ basyx objects: orjson for the bytes, basyx's own constructors for the model.

basyx's ``AASToJsonEncoder``/``AASFromJsonDecoder`` rebuild their type tables on every object
and run on the pure-Python ``json`` paths; at 20,000 properties that dominated imports and every
structural write. Here orjson does the parsing and printing and calls basyx's per-class
functions through tables built once, so the model semantics stay basyx's. Decoding walks the
tree bottom-up exactly like ``json``'s ``object_hook`` and, when a constructor fails, reports
the JSON path of the offending object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from basyx.aas import model

from twinbridge.aas import compat_basyx
from twinbridge.aas.gc_pause import collector_paused

logger = logging.getLogger(__name__)

_SERIALIZERS: list[tuple[type, Callable[[Any], dict[str, Any] | list[Any]]]] = list(
    compat_basyx.class_serializers().items()
)
_BY_TYPE: dict[type, Callable[[Any], Any]] = {}

_PARSERS_STRICT = compat_basyx.class_parsers(strict=True)
_PARSERS_FAILSAFE = compat_basyx.class_parsers(strict=False)


class JsonModelError(ValueError):
    """A JSON object could not become an AAS object; ``where`` is its JSON path."""

    def __init__(self, reason: str, where: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where if where is not None else []

    @property
    def path(self) -> str:
        return "".join(reversed(self.where)).lstrip(".") or "$"

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _serializer(cls: type) -> Callable[[Any], Any]:
    """First match in basyx's table order, as ``AASToJsonEncoder.default`` picks it."""
    for typ, function in _SERIALIZERS:
        if issubclass(cls, typ):
            _BY_TYPE[cls] = function
            return function
    raise TypeError(f"{cls.__name__} is not AAS JSON serializable")


def default(obj: object) -> Any:
    """orjson ``default`` hook producing basyx's AAS JSON form, without empty ``specificAssetIds``."""
    cls = type(obj)
    function = _BY_TYPE.get(cls) or _serializer(cls)
    data = function(obj)
    if isinstance(data, dict) and data.get("specificAssetIds") == []:
        del data["specificAssetIds"]
    return data


def dumps(obj: object) -> bytes:
    return orjson.dumps(obj, default=default)


def build(node: Any, failsafe: bool = False) -> Any:
    """Turn parsed JSON into basyx objects wherever a ``modelType`` names an AAS class.

    Strict: the first defect raises ``JsonModelError`` with its path. Failsafe: a defective
    object stays a dict (and is logged); the enclosing constructor then skips it, as basyx does.
    """
    with collector_paused():
        return _build(node, _PARSERS_FAILSAFE if failsafe else _PARSERS_STRICT, failsafe)


def _build(node: Any, parsers: dict[str, Callable[[dict[str, object]], object]], failsafe: bool) -> Any:
    if isinstance(node, dict):
        dct: dict[str, Any] = {}
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                try:
                    value = _build(value, parsers, failsafe)
                except JsonModelError as error:
                    error.where.append(f".{key}")
                    raise
            dct[key] = value
        model_type = dct.get("modelType")
        if not isinstance(model_type, str):
            return dct
        parser = parsers.get(model_type)
        if parser is None:
            return _defect(dct, f"unknown modelType {model_type!r}", failsafe)
        try:
            return parser(dct)
        except KeyError as error:
            return _defect(dct, f"{_label(dct)}: missing attribute {error}", failsafe)
        except (TypeError, ValueError, model.AASConstraintViolation) as error:
            return _defect(dct, f"{_label(dct)}: {error}", failsafe)
    if isinstance(node, list):
        items = []
        for index, item in enumerate(node):
            if isinstance(item, (dict, list)):
                try:
                    item = _build(item, parsers, failsafe)
                except JsonModelError as error:
                    error.where.append(f"[{index}]")
                    raise
            items.append(item)
        return items
    return node


def _label(dct: dict[str, Any]) -> str:
    name = dct.get("idShort") or dct.get("id")
    return f"{dct['modelType']} {name!r}" if isinstance(name, str) else str(dct["modelType"])


def _defect(dct: dict[str, Any], reason: str, failsafe: bool) -> dict[str, Any]:
    if not failsafe:
        raise JsonModelError(reason)
    logger.warning("skipping a defective AAS object: %s", reason)
    return dct
