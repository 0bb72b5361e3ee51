"""The history API: past values of historized elements, raw or in buckets, as JSON or CSV.

- ``GET /history/submodels/{smId}/submodel-elements/{idShortPath}``: one element. ``from``/``to``
  (xs:dateTime; default: the last hour), ``limit`` + ``cursor`` for raw points, or ``interval``
  (xs:duration such as ``PT10S``) + ``aggregate`` (avg, min, max, count, first, last; several
  comma-separated) for buckets.
- ``POST /history/query``: several elements at once with the same parameters in a JSON body.

``Accept: text/csv`` gives CSV instead of JSON. Reads first flush what the Historian holds, so a
client reads its own writes. Bad input answers 400 with a Part 2 ``Result`` naming the parameter;
an element that was never historized answers 404. The application puts its ``HistoryService``
on ``app.state.history``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import io
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from twinbridge.aas.errors import NotFound
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.twin import Twin
from twinbridge.history.historian import Historian
from twinbridge.history.service import HistoryService
from twinbridge.history.store import (
    AGGREGATES,
    QUALITY_OF_CODE,
    Aggregate,
    Bucket,
    HistoryError,
    HistoryStore,
    OutOfRawRetention,
    SeriesInfo,
    SeriesKey,
)
from twinbridge.server.api.auth import AdminAccess, ReadAccess
from twinbridge.server.api.bodies import json_response
from twinbridge.server.api.ids import decode_id
from twinbridge.server.api.results import ApiError

router = APIRouter(prefix="/history", tags=["History API (twinbridge)"])

DEFAULT_SPAN_US = 3_600_000_000
DEFAULT_LIMIT = 1_000
MAX_LIMIT = 100_000
MAX_BUCKETS = 10_000
_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d{1,6})?)S)?)?$")
_QUALITY_NAMES = [quality.value for quality in QUALITY_OF_CODE]


# ------------------------------------------------------------------ OpenAPI shapes
class HistoryPoint(BaseModel):
    timestamp: str = Field(description="source timestamp, xs:dateTime UTC with microseconds")
    value: float | int | bool | str | None
    quality: Literal["Good", "Uncertain", "Bad"]


class HistoryBucket(BaseModel):
    model_config = ConfigDict(extra="allow")
    start: str = Field(description="bucket start (inclusive), xs:dateTime")
    end: str = Field(description="bucket end (exclusive), xs:dateTime")
    count: int | None = Field(None, description="Good/Uncertain numeric points in the bucket (when asked for)")
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    first: float | None = None
    last: float | None = None


class HistoryResult(BaseModel):
    submodelId: str
    idShortPath: str
    valueType: Literal["number", "integer", "boolean", "text"]
    interval: str | None = Field(None, description="present for buckets")
    paging_metadata: dict[str, str] = Field(default_factory=dict, description="cursor of the next raw page")
    result: list[HistoryPoint] | list[HistoryBucket]


class ElementRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    submodelId: str = Field(description="the submodel's identifier (plain, not base64url)")
    idShortPath: str
    cursor: str | None = None


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    elements: list[ElementRef] = Field(min_length=1, max_length=1000)
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    limit: int | None = None
    interval: str | None = None
    aggregate: list[str] | None = None


class HistoryQueryResult(BaseModel):
    results: list[HistoryResult]


# ------------------------------------------------------------------ parameters
def parse_time(text: str, what: str) -> int:
    """xs:dateTime → epoch microseconds; without a zone it is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ApiError(400, f"{what} {text!r} is not an xs:dateTime (e.g. 2026-01-31T08:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1_000_000)


def parse_duration(text: str, what: str = "interval") -> int:
    """xs:duration in days, hours, minutes and seconds (months and years have no fixed length)."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("P", "PT"):
        raise ApiError(400, f"{what} {text!r} is not an xs:duration in days/hours/minutes/seconds (e.g. PT10S)")
    parts = {key: float(value) if value else 0.0 for key, value in match.groupdict().items()}
    micros = round((((parts["d"] * 24 + parts["h"]) * 60 + parts["m"]) * 60 + parts["s"]) * 1_000_000)
    if micros <= 0:
        raise ApiError(400, f"{what} {text!r} must be longer than zero")
    return micros


def format_duration(micros: int) -> str:
    seconds = micros / 1_000_000
    return f"PT{seconds:g}S" if seconds != int(seconds) else f"PT{int(seconds)}S"


def parse_aggregates(values: list[str] | None) -> list[Aggregate]:
    names = [name.strip() for value in values or ["avg"] for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in AGGREGATES]
    if unknown or not names:
        raise ApiError(400, f"aggregate {', '.join(unknown) or '(empty)'!s} is not one of {', '.join(AGGREGATES)}")
    return [name for name in AGGREGATES if name in names]  # type: ignore[misc]


def issue_cursor(t_us: int, skip: int) -> str:
    return base64.urlsafe_b64encode(f"{t_us}.{skip}".encode()).decode().rstrip("=")


def read_cursor(cursor: str, what: str = "cursor") -> tuple[int, int]:
    """History cursors are plain positions (time, points to skip at that time): a made-up one
    can only start a read elsewhere, so they need no signature and survive restarts."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        t_text, skip_text = text.split(".")
        return int(t_text), int(skip_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, f"{what} {cursor!r} was not issued by this history API") from None


class Window:
    """The validated time window and the raw/bucket choice of one request."""

    def __init__(self, start: str | None, end: str | None, limit: int | None, interval: str | None,
                 aggregate: list[str] | None) -> None:
        self.end_us = parse_time(end, "to") if end else round(time.time() * 1_000_000) + 1
        self.start_us = parse_time(start, "from") if start else self.end_us - DEFAULT_SPAN_US
        if self.start_us >= self.end_us:
            raise ApiError(400, f"from ({start or 'default'}) must be before to ({end or 'now'})")
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, f"limit must be between 1 and {MAX_LIMIT:,}, got {limit}")
        self.limit = limit or DEFAULT_LIMIT
        self.interval_us = parse_duration(interval) if interval else None
        if aggregate and self.interval_us is None:
            raise ApiError(400, "aggregate needs an interval (e.g. interval=PT10S)")
        self.aggregates = parse_aggregates(aggregate) if self.interval_us else []
        if self.interval_us is not None:
            buckets = -(-(self.end_us - self.start_us) // self.interval_us)
            cap = min(limit or MAX_BUCKETS, MAX_BUCKETS)
            if buckets > cap:
                raise ApiError(400, f"interval {interval} gives {buckets:,} buckets between from and to; "
                                    f"at most {cap:,} are allowed (widen the interval or narrow from/to)")


# ------------------------------------------------------------------ reading
def _historian(request: Request) -> Historian:
    service: HistoryService = request.app.state.history
    if service.historian is None:
        raise ApiError(503, f"history is not recording: {service.error or 'disabled (server.history.enabled: false)'}")
    return service.historian


def _series(historian: Historian, request: Request, submodel_id: str, path: str, where: str) -> SeriesInfo:
    info = historian.store.find_series(SeriesKey(submodel_id, path))
    if info is not None:
        return info
    twin: Twin = request.app.state.twin
    if not twin.exists(ObjectKind.SUBMODEL, submodel_id):
        raise NotFound(f"{where}: no submodel with id {submodel_id!r} and no history for it")
    try:
        twin.element(submodel_id, path)
    except NotFound as error:
        raise NotFound(f"{where}: {error}") from None
    raise NotFound(f"{where}: {path} in {submodel_id!r} is not historized (no value of it was ever recorded)")


async def _read(historian: Historian, info: SeriesInfo, window: Window, cursor: str | None,
                where: str) -> dict[str, Any]:
    store = historian.store
    body: dict[str, Any] = {"submodelId": info.key.submodel_id, "idShortPath": info.key.path,
                            "valueType": info.value_type}
    try:
        if window.interval_us is None:
            start, skip = read_cursor(cursor, f"{where}cursor") if cursor else (window.start_us, 0)
            # read and render in a worker thread: 100,000 points take ~0.1 s to turn into JSON-ready rows
            body.update(await asyncio.to_thread(_raw_page, store, info, start, skip, window))
        else:
            buckets = await asyncio.to_thread(store.aggregate, info.id, window.start_us, window.end_us,
                                              window.interval_us)
            body["interval"] = format_duration(window.interval_us)
            body["result"] = _buckets(buckets, window.interval_us, window.aggregates)
    except OutOfRawRetention as error:
        raise ApiError(400, f"{where}interval: {error}") from None
    except HistoryError as error:
        raise ApiError(503, f"the history cannot be read now: {error}") from None
    return body


def _raw_page(store: HistoryStore, info: SeriesInfo, start: int, skip: int, window: Window) -> dict[str, Any]:
    points = store.read(info.id, start, window.end_us, window.limit + 1, skip)
    count = min(len(points.t_us), window.limit)
    paging: dict[str, str] = {}
    if len(points.t_us) > window.limit:
        last = int(points.t_us[count - 1])
        same = int(np.count_nonzero(points.t_us[:count] == last))
        paging["cursor"] = issue_cursor(last, same + (skip if last == start else 0))
    return {"paging_metadata": paging,
            "result": _points(points.t_us[:count], points.value[:count], points.quality[:count],
                              points.text[:count], info.value_type)}


def xs_times(t_us: np.ndarray) -> list[str]:
    return [f"{text}Z" for text in np.datetime_as_string(t_us.astype("datetime64[us]"), unit="us").tolist()]


def _points(t_us: np.ndarray, values: np.ndarray, qualities: np.ndarray, texts: list[str | None],
            value_type: str) -> list[dict[str, Any]]:
    plain: list[Any] = [None if v != v else v for v in values.tolist()]  # NaN (a text or empty sample) → None
    if value_type == "integer":
        plain = [None if v is None else int(v) for v in plain]
    elif value_type == "boolean":
        plain = [None if v is None else bool(v) for v in plain]
    for index, text in enumerate(texts):
        if text is not None:
            plain[index] = text
    return [{"timestamp": stamp, "value": value, "quality": _QUALITY_NAMES[quality]}
            for stamp, value, quality in zip(xs_times(t_us), plain, qualities.tolist(), strict=True)]


def _buckets(buckets: list[Bucket], interval_us: int, aggregates: list[Aggregate]) -> list[dict[str, Any]]:
    starts = np.array([bucket.start_us for bucket in buckets], dtype=np.int64)
    begin, end = xs_times(starts), xs_times(starts + interval_us)
    return [{"start": begin[i], "end": end[i], **{name: getattr(bucket, name) for name in aggregates}}
            for i, bucket in enumerate(buckets)]


# ------------------------------------------------------------------ rendering
def wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept.split("text/csv")[0]


def _csv(bodies: list[dict[str, Any]], with_element: bool) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header: list[str] | None = None
    for body in bodies:
        for row in body["result"]:
            if header is None:
                header = (["submodelId", "idShortPath"] if with_element else []) + list(row)
                writer.writerow(header)
            prefix = [body["submodelId"], body["idShortPath"]] if with_element else []
            writer.writerow(prefix + ["" if value is None else value for value in row.values()])
    headers = {}
    cursor = bodies[0].get("paging_metadata", {}).get("cursor") if len(bodies) == 1 else None
    if cursor:
        headers["X-Twinbridge-Cursor"] = cursor
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "JSON by default; CSV (header row, one line per point or bucket) with Accept: text/csv"},
    503: {"description": "Service Unavailable: history is not recording, or cannot be read now"},
}


@router.get("/submodels/{submodelIdentifier}/submodel-elements/{idShortPath:path}", dependencies=[ReadAccess],
            response_model=HistoryResult, responses=_RESPONSES, summary="Past values of one element")
async def get_element_history(request: Request, submodelIdentifier: str, idShortPath: str,
                              from_: Annotated[str | None, Query(alias="from", description="xs:dateTime")] = None,
                              to: Annotated[str | None, Query(description="xs:dateTime (default now)")] = None,
                              limit: int | None = None,
                              cursor: str | None = None, interval: str | None = None,
                              aggregate: str | None = None) -> Response:
    """Raw points (``limit``, ``cursor``) or buckets (``interval``, ``aggregate``) between ``from`` and ``to``."""
    window = Window(from_, to, limit, interval, [aggregate] if aggregate is not None else None)
    historian = _historian(request)
    submodel_id = decode_id(submodelIdentifier, "submodelIdentifier")
    await historian.flushed()  # first: a series is created when its first point is written
    info = _series(historian, request, submodel_id, idShortPath, "idShortPath")
    body = await _read(historian, info, window, cursor, "")
    if wants_csv(request):
        return _csv([body], with_element=False)
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/query", dependencies=[ReadAccess], response_model=HistoryQueryResult, responses=_RESPONSES,
             summary="Past values of several elements")
async def post_history_query(request: Request, query: HistoryQuery) -> Response:
    window = Window(query.from_, query.to, query.limit, query.interval, query.aggregate)
    historian = _historian(request)
    await historian.flushed()  # first: a series is created when its first point is written
    series = [_series(historian, request, ref.submodelId, ref.idShortPath, f"elements[{index}]")
              for index, ref in enumerate(query.elements)]
    bodies = [await _read(historian, info, window, ref.cursor, f"elements[{index}].")
              for index, (info, ref) in enumerate(zip(series, query.elements, strict=True))]
    if wants_csv(request):
        return _csv(bodies, with_element=True)
    return Response(orjson.dumps({"results": bodies}), media_type="application/json")


# ------------------------------------------------------------------ status and backup
class HistoryStatus(BaseModel):
    state: Literal["recording", "paused", "disabled"]
    error: str | None = None
    pending: int = 0
    written: int = 0
    dropped: int = Field(0, description="points lost while the store failed longer than the buffer held")
    series: int = 0
    journalEntries: int | None = None
    journalBroken: str | None = Field(None, description="the first entry that failed verification at start-up")


class BackupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    directory: str = Field(description="directory on the server's machine to write the copy into")


class BackupResult(BaseModel):
    files: list[str]


@router.get("/status", dependencies=[ReadAccess], response_model=HistoryStatus, summary="Is history recording?")
async def get_history_status(request: Request) -> Response:
    service: HistoryService = request.app.state.history
    body: dict[str, Any] = {"state": "disabled", "error": service.error}
    if service.historian is not None:
        status = service.historian.status()
        body = {"state": status.state, "error": status.error, "pending": status.pending, "written": status.written,
                "dropped": status.dropped, "series": status.series}
    if service.journal is not None:
        body["journalEntries"] = service.journal.entries()
        body["journalBroken"] = None if service.journal.broken is None else str(service.journal.broken)
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/backup", dependencies=[AdminAccess], response_model=BackupResult,
             summary="Copy store, history and journal consistently while the server runs")
async def post_history_backup(request: Request, body: BackupRequest) -> Response:
    service: HistoryService = request.app.state.history
    directory = Path(body.directory)
    if not directory.is_absolute():
        raise ApiError(400, f"directory {body.directory!r} must be an absolute path on the server's machine")
    try:
        files = await service.backup(directory)
    except (OSError, HistoryError) as error:
        raise ApiError(500, f"the backup into {directory} failed: {error}") from None
    return Response(orjson.dumps({"files": [str(path) for path in files]}), media_type="application/json")


# ------------------------------------------------------------------ the model in the past
versions = APIRouter(tags=["History API (twinbridge)"])
"""``GetSubmodelVersionByIdAndDate`` / ``GetAssetAdministrationShellVersionByIdAndDate`` as the
Part 2 v3.2 draft names them: ``.../$history?date=<xs:dateTime>``; without ``date``, the current
object. Answered from the journal."""


async def _version(request: Request, kind: ObjectKind, encoded: str, what: str, date: str | None) -> Response:
    identifier = decode_id(encoded, what)
    twin: Twin = request.app.state.twin
    if date is None:
        return json_response(twin.get(kind, identifier))
    moment = parse_time(date, "date") / 1_000_000
    service: HistoryService = request.app.state.history
    if service.journal is None:
        raise ApiError(404, "the journal is disabled (server.history.journal: false): no past versions are kept")
    await service.journal.settled()
    document = await asyncio.to_thread(service.journal.document_at, kind, identifier, moment)
    if document is None:
        raise NotFound(f"{what} {identifier!r} did not exist at {date} (as far as the journal records)")
    return Response(document, media_type="application/json")


@versions.get("/submodels/{submodelIdentifier}/$history", dependencies=[ReadAccess],
              summary="A submodel as it was at a point in time (GetSubmodelVersionByIdAndDate)")
async def get_submodel_version(request: Request, submodelIdentifier: str,
                               date: Annotated[str | None, Query(description="xs:dateTime")] = None) -> Response:
    return await _version(request, ObjectKind.SUBMODEL, submodelIdentifier, "submodelIdentifier", date)


@versions.get("/shells/{aasIdentifier}/$history", dependencies=[ReadAccess],
              summary="A shell as it was at a point in time (GetAssetAdministrationShellVersionByIdAndDate)")
async def get_shell_version(request: Request, aasIdentifier: str,
                            date: Annotated[str | None, Query(description="xs:dateTime")] = None) -> Response:
    return await _version(request, ObjectKind.SHELL, aasIdentifier, "aasIdentifier", date)


routers = [router, versions]
