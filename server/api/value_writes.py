"""Client value writes over REST: the one place that hands a value to the twin's write entry.

``PATCH .../$value`` of a single-valued element (Property, Range, MultiLanguageProperty,
ReferenceElement, File, Blob) and a ``PUT`` of such an element that changes nothing but its
value are value writes (``Twin.write_value``): the twin decides write-back to the device,
refusal (a device-fed element without write-back) or a stored value change, which logs one
element and re-renders nothing. A ``PUT`` that changes anything else (idShort, kind,
semanticId, qualifiers...) replaces the element structurally. Durability is awaited for every
mutating request by ``server.api.durability.DurableWrites``.
"""

from __future__ import annotations

from typing import Any

from basyx.aas import model

from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import TwinError
from twinbridge.aas.events import Origin
from twinbridge.aas.twin import Twin
from twinbridge.aas.values import ElementValue, find_value_kind
from twinbridge.server.api.bodies import load_json, parse_body
from twinbridge.server.api.render_cache import RenderCache
from twinbridge.server.api.results import ApiError

# The JSON keys (Part 1) that hold a single-valued element's value; everything else is structure.
_VALUE_KEYS: dict[str, frozenset[str]] = {
    "Property": frozenset({"value"}),
    "MultiLanguageProperty": frozenset({"value"}),
    "Range": frozenset({"min", "max"}),
    "File": frozenset({"value", "contentType"}),
    "Blob": frozenset({"value", "contentType"}),
    "ReferenceElement": frozenset({"value"}),
}


async def write_element_value(twin: Twin, submodel_id: str, path: str, value: ElementValue | str,
                              origin: Origin) -> None:
    """``value`` (the element's Python form, or a Property's lexical string) through the twin."""
    handle = twin.live(submodel_id, path)
    try:
        await twin.write_value(handle, value, origin=origin)
    except TwinError:
        raise
    except Exception as error:  # the device's refusal, in whatever type its adapter raises
        raise ApiError(502, f"{path}: the device did not accept the write: {error}") from None


async def put_element_body(twin: Twin, renders: RenderCache, structure: tuple[int, int], submodel_id: str,
                           path: str, stored: model.SubmodelElement, body: bytes, origin: Origin) -> None:
    data = load_json(body, "a SubmodelElement")
    kind = find_value_kind(stored)
    value_keys = _VALUE_KEYS.get(type(stored).__name__) if kind is not None else None
    if kind is not None and value_keys is not None and isinstance(data, dict) and _only_value_differs(
            renders, twin, structure, submodel_id, path, data, value_keys):
        value = data.get("value")
        if isinstance(stored, model.Property) and (value is None or isinstance(value, str)):
            await write_element_value(twin, submodel_id, path, value, origin)  # lexical: no decoder needed
            return
        parsed = parse_body(body, model.SubmodelElement)  # type: ignore[type-abstract]
        if type(parsed) is type(stored):
            await write_element_value(twin, submodel_id, path, kind.read(parsed), origin)
            return
    element = parse_body(body, model.SubmodelElement)  # type: ignore[type-abstract]
    twin.replace_element(submodel_id, path, element, origin=origin)


def _only_value_differs(renders: RenderCache, twin: Twin, structure: tuple[int, int], submodel_id: str,
                        path: str, data: dict[str, Any], value_keys: frozenset[str]) -> bool:
    """Whether the body is the stored element's JSON apart from its value keys.

    The stored side comes from a cache that only a structural change invalidates, so a run of
    value PUTs renders it once.
    """
    stored = renders.structural(twin, structure, submodel_id, path, "without-value",
                                lambda element: _without(to_jsonable(element), value_keys))
    return _without(data, value_keys) == stored


def _without(data: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {key: item for key, item in data.items() if key not in keys}
