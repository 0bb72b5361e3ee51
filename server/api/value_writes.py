"""Client value writes over REST: the one place that hands a value to the twin's write entry.

``PATCH .../$value`` of a single-valued element (Property, Range, MultiLanguageProperty,
ReferenceElement, File, Blob) is a value write (``Twin.write_value``): the twin decides
write-back to the device, refusal (a device-fed element without write-back) or a stored value
change, which logs one element and re-renders nothing. A ``PUT`` of an element goes to
``Twin.put_element``, which makes it a value write when only the value changed and a structural
replace otherwise. One case is decided here first, because it is the one gateways send in a
loop: a Property whose body is the stored JSON with another lexical ``value``. It needs neither
the strict decoder nor two encodes (what ``put_element`` compares), only a dict comparison with
the stored JSON, cached until a structural change, and ends in the same ``write_value`` call.
Durability is awaited for every mutating request by ``server.api.durability.DurableWrites``.
"""

from __future__ import annotations

from typing import Any

from basyx.aas import model

from twinbridge.aas import limits
from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import TwinError
from twinbridge.aas.events import Origin
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.aas.values import ElementValue
from twinbridge.server.api.bodies import load_json, parse_body, parsed
from twinbridge.server.api.render_cache import RenderCache
from twinbridge.server.api.results import ApiError


async def write_element_value(twin: Twin, handle: LiveElement, value: ElementValue | str | None,
                              origin: Origin) -> None:
    """``value`` (the element's Python form, or a Property's lexical string) through the twin."""
    path = handle.path
    try:
        await twin.write_value(handle, value, origin=origin)
    except TwinError:
        raise
    except Exception as error:  # the device's refusal, in whatever type its adapter raises
        raise ApiError(502, f"{path}: the device did not accept the write: {error}") from None


async def put_element_body(twin: Twin, renders: RenderCache, structure: tuple[int, ...], submodel_id: str,
                           path: str, stored: model.SubmodelElement, body: bytes, origin: Origin) -> None:
    data = await parsed(body, load_json, "a SubmodelElement")
    if isinstance(stored, model.Property) and isinstance(data, dict) and _new_lexical_value_only(
            renders, twin, structure, submodel_id, path, data):
        await write_element_value(twin, twin.live(submodel_id, path), data.get("value"), origin)
        return
    element = await parsed(body, parse_body, model.SubmodelElement)
    fits(twin, submodel_id, path, element, replaced=stored)
    try:
        await twin.put_element(submodel_id, path, element, origin=origin)
    except TwinError:
        raise
    except Exception as error:  # a device refusing the value, as in write_element_value
        raise ApiError(502, f"{path}: the device did not accept the write: {error}") from None


def fits(twin: Twin, submodel_id: str, path: str | None, element: model.SubmodelElement,
         replaced: model.SubmodelElement | None = None) -> None:
    """The submodel stays within ``path_depth`` and ``submodel_elements`` with ``element`` added
    below ``path`` (or put in place of ``replaced`` at ``path``): checked before the twin changes."""
    depth = 0 if not path else path.count(".") + path.count("[") + 1
    limits.check_new_element(twin.submodel(submodel_id), depth - (replaced is not None), element, replaced,
                             limits.current())


def _new_lexical_value_only(renders: RenderCache, twin: Twin, structure: tuple[int, ...], submodel_id: str,
                            path: str, data: dict[str, Any]) -> bool:
    """Whether the body is the stored Property's JSON with another lexical ``value`` (or none)."""
    value = data.get("value")
    if value is not None and not isinstance(value, str):
        return False  # not the Part 1 form: let the strict decoder say what is wrong
    stored = renders.structural(twin, structure, submodel_id, path, "without-value", _without_value)
    return len(data) - ("value" in data) == len(stored) and all(
        key == "value" or stored.get(key, _MISSING) == item for key, item in data.items())


_MISSING = object()


def _without_value(element: model.SubmodelElement) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(element)
    data.pop("value", None)
    return data
