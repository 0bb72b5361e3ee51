"""``/alarms``: the analytics alarm book over REST (list, acknowledge, confirm, shelve).

Why acknowledgement needs the write role: it changes what operators see as unhandled, the same
class of act as writing a value. Who acknowledged is the token holder's name (``anonymous`` without tokens),
so the list answers "who took care of it". Errors are Part 2 Result bodies: an unknown id 404, an
action the alarm's state does not allow (acknowledged twice, confirmed before acknowledged) 409.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from twinbridge.analytics.alarms import Alarm, AlarmBook, AlarmError, AlarmState
from twinbridge.server.api.auth import ReadAccess, WriteAccess, WriteOrigin
from twinbridge.server.api.bodies import json_response
from twinbridge.server.api.results import ApiError, xs_datetime

MAX_SHELVE_S = 7 * 24 * 3600.0  # a week: shelving is for a known nuisance, not a way to silence for good


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    rule = alarm.rule
    return {
        "id": str(alarm.id), "source": alarm.source, "condition": rule.name, "severity": int(rule.severity),
        "message": rule.message, "state": alarm.state.value, "value": alarm.value,
        "limit": rule.raise_at, "raisedAt": xs_datetime(alarm.raised_at),
        "clearedAt": None if alarm.cleared_at is None else xs_datetime(alarm.cleared_at),
        "acknowledgedBy": alarm.acknowledged_by, "confirmedBy": alarm.confirmed_by,
    }


def _alarm_id(alarm_id: str) -> int:
    if not alarm_id.isdigit():
        raise ApiError(404, f"no alarm {alarm_id!r} (alarm ids are numbers)")
    return int(alarm_id)


def alarm_router(book: AlarmBook) -> APIRouter:
    router = APIRouter(tags=["Alarms"])

    @router.get("/alarms", dependencies=[ReadAccess])
    async def list_alarms(state: Literal["active", "cleared", "all"] = "all", source: str | None = None,
                          acknowledged: bool | None = None, limit: int = Query(100, ge=1, le=1000)) -> Response:
        """Active and recent alarms, newest first; filters: state, source (signal name), acknowledged."""
        selected = [alarm for alarm in reversed(book.alarms.values())
                    if (state == "all" or alarm.state is AlarmState(state))
                    and (source is None or alarm.source == source)
                    and (acknowledged is None or (alarm.acknowledged_by is not None) == acknowledged)]
        return json_response({"result": [alarm_json(alarm) for alarm in selected[:limit]]})

    @router.get("/alarms/{alarm_id}", dependencies=[ReadAccess])
    async def read_alarm(alarm_id: str) -> Response:
        alarm = book.alarms.get(_alarm_id(alarm_id))
        if alarm is None:
            raise ApiError(404, f"no alarm {alarm_id}")
        return json_response(alarm_json(alarm))

    def act(action: Literal["acknowledge", "confirm"], alarm_id: str, who: str) -> Response:
        try:
            alarm = getattr(book, action)(_alarm_id(alarm_id), who, time.time())
        except AlarmError as error:
            status = 404 if _alarm_id(alarm_id) not in book.alarms else 409
            raise ApiError(status, str(error)) from None
        return json_response(alarm_json(alarm))

    @router.post("/alarms/{alarm_id}/acknowledge",
                 responses={404: {"description": "no such alarm"}, 409: {"description": "already acknowledged"}})
    async def acknowledge(alarm_id: str, origin: WriteOrigin) -> Response:
        return act("acknowledge", alarm_id, origin.who)

    @router.post("/alarms/{alarm_id}/confirm",
                 responses={404: {"description": "no such alarm"}, 409: {"description": "not acknowledged yet"}})
    async def confirm(alarm_id: str, origin: WriteOrigin) -> Response:
        return act("confirm", alarm_id, origin.who)

    @router.post("/alarms/{alarm_id}/shelve", dependencies=[WriteAccess])
    async def shelve(alarm_id: str, seconds: float = Query(3600.0, gt=0, le=MAX_SHELVE_S)) -> Response:
        """The alarm's condition raises nothing for ``seconds`` (this alarm stays as it is)."""
        alarm = book.alarms.get(_alarm_id(alarm_id))
        if alarm is None:
            raise ApiError(404, f"no alarm {alarm_id}")
        until = time.time() + seconds
        book.shelve(alarm.source, alarm.rule.name, until)
        return json_response({**alarm_json(alarm), "shelvedUntil": xs_datetime(until)})

    return router
