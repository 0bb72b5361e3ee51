"""What the API does differently for device-fed elements (those with a live handle).

Reads carry the element's live quality and source timestamp as the companion headers
``X-Twinbridge-Quality`` (Good|Uncertain|Bad) and ``X-Twinbridge-Timestamp`` (xs:dateTime), so
the bodies stay standard Part 2 JSON. Writes must reach the device, so a ``$value`` PATCH that
would overwrite a bound element from above is refused.
"""

from __future__ import annotations

from twinbridge.aas.errors import NotWritable
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.server.api.results import xs_datetime


def live_headers(twin: Twin, submodel_id: str, path: str) -> dict[str, str] | None:
    """The companion headers of an element with a live handle (None when it has none)."""
    return handle_headers(twin.find_live(submodel_id, path))


def handle_headers(handle: LiveElement | None) -> dict[str, str] | None:
    if handle is None:
        return None
    headers = {"X-Twinbridge-Quality": handle.quality.value}
    if handle.timestamp is not None:
        headers["X-Twinbridge-Timestamp"] = xs_datetime(handle.timestamp)
    return headers


def refuse_bound_values(twin: Twin, submodel_id: str, under: str | None) -> None:
    """A $value PATCH above device-fed elements would bypass their write-back; refuse it."""
    for handle in twin.live_elements():
        if handle.submodel_id != submodel_id or not twin.is_bound(handle):
            continue
        if under is None or handle.path == under or handle.path.startswith((under + ".", under + "[")):
            raise NotWritable(
                f"{handle.path} is fed by a device; PATCH its own $value so the write reaches the device"
            )
