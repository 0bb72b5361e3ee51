"""Client value writes over REST: the one place that hands a value to the twin's write entry.

``PATCH .../$value`` of a Property and a ``PUT`` of a Property that changes nothing but its
value are value writes: the twin decides write-back to the device, refusal (a device-fed
element without write-back) or a stored value change, and none of them re-renders or
re-encodes the submodel. A ``PUT`` that changes anything else (idShort, kind, semanticId,
qualifiers...) replaces the element structurally.
"""

from __future__ import annotations

from typing import Any

from basyx.aas import model

from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import TwinError
from twinbridge.aas.twin import Twin
from twinbridge.server.api.bodies import load_json, parse_body
from twinbridge.server.api.render_cache import RenderCache
from twinbridge.server.api.results import ApiError


async def write_element_value(twin: Twin, submodel_id: str, path: str, value: Any) -> None:
    """``value`` (in the element's Python form) through the twin's client write entry."""
    handle = twin.live(submodel_id, path)
    try:
        await twin.write(handle, value)
    except TwinError:
        raise
    except Exception as error:  # the device's refusal, in whatever type its adapter raises
        raise ApiError(502, f"{path}: the device did not accept the write: {error}", "BadGateway") from None


async def put_element_body(twin: Twin, renders: RenderCache, structure: tuple[int, int], submodel_id: str,
                           path: str, stored: model.SubmodelElement, body: bytes) -> None:
    data = load_json(body, "a SubmodelElement")
    if isinstance(stored, model.Property) and isinstance(data, dict) and _only_value_differs(
            renders, twin, structure, submodel_id, path, data):
        await write_element_value(twin, submodel_id, path, data.get("value"))
        return
    element = parse_body(body, model.SubmodelElement)  # type: ignore[type-abstract]
    twin.replace_element(submodel_id, path, element)


def _only_value_differs(renders: RenderCache, twin: Twin, structure: tuple[int, int], submodel_id: str,
                        path: str, data: dict[str, Any]) -> bool:
    """Whether the body is the stored Property's JSON with another lexical ``value``.

    The stored side comes from a cache that only a structural change invalidates, so a run of
    value PUTs renders it once.
    """
    value = data.get("value")
    if value is not None and not isinstance(value, str):
        return False  # not the Part 1 JSON form; let the strict decoder say what is wrong
    stored = renders.structural(twin, structure, submodel_id, path, "without-value", _without_value)
    return len(data) - ("value" in data) == len(stored) and all(
        key == "value" or stored.get(key, _MISSING) == item for key, item in data.items())


_MISSING = object()


def _without_value(element: model.SubmodelElement) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(element)
    data.pop("value", None)
    return data
