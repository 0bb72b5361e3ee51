"""AASX File Server routes: ``/packages``.

A package upload is streamed to disk (``server.api.uploads``), imported into the repository
(all or nothing, through ``aas.serialization``) and kept, byte for byte, with its description under the ``packages/``
file prefix so clients can download exactly what they uploaded. Deleting a package removes
the package, not the shells and submodels it brought: those belong to the repository now.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from twinbridge.aas import files
from twinbridge.aas.errors import NotFound
from twinbridge.aas.limits import check_text
from twinbridge.aas.serialization import import_environment, read_environment
from twinbridge.aas.twin import Twin
from twinbridge.server.api import uploads
from twinbridge.server.api.auth import AdminAccess, ReadAccess, WriteAccess
from twinbridge.server.api.bodies import json_response
from twinbridge.server.api.ids import decode_id, encode_id
from twinbridge.server.api.paging import CursorQuery, LimitQuery, paged_envelope
from twinbridge.server.api.serialization import AASX_MEDIA_TYPE
from twinbridge.server.api.services import TwinDep

router = APIRouter(tags=["AASX File Server API"])

PREFIX = "packages/"
_DESCRIPTION_SUFFIX = ".json"
_CONTENT_SUFFIX = ".aasx"



def _description_name(package_id: str) -> str:
    return f"{PREFIX}{encode_id(package_id)}{_DESCRIPTION_SUFFIX}"


def _content_name(package_id: str) -> str:
    return f"{PREFIX}{encode_id(package_id)}{_CONTENT_SUFFIX}"


def _description(twin: Twin, package_id: str) -> dict[str, Any]:
    stored = twin.load_file(_description_name(package_id))
    if stored is None:
        raise NotFound(f"no AASX package with packageId {package_id!r}")
    description: dict[str, Any] = json.loads(stored[1])
    return description


def _all_descriptions(twin: Twin) -> list[dict[str, Any]]:
    names = [name for name in twin.store.file_names(PREFIX) if name.endswith(_DESCRIPTION_SUFFIX)]
    descriptions = []
    for name in names:
        stored = twin.load_file(name)
        if stored is not None:
            descriptions.append(json.loads(stored[1]))
    return sorted(descriptions, key=lambda item: item.get("created", 0))


async def _store_package(twin: Twin, package_id: str, request: Request, created: float) -> dict[str, Any]:
    """Stream the package to disk, check the whole request, import (all or nothing), then keep
    the package (copied by the store from the spooled file) and its description."""
    async with uploads.received(request, "file", "package_bytes", "the AASX package") as upload:
        name = files.plain_file_name(upload.field("fileName") or upload.file_name or f"{package_id}.aasx", "fileName")
        given = [identifier for value in upload.fields.get("aasIds", ()) for identifier in value.split(",")
                 if identifier]
        for identifier in given:
            check_text(identifier, "aasIds")
        data = upload.file.read()  # parsed whole (basyx reads a package from memory), then let go
        env = await anyio.to_thread.run_sync(read_environment, data, "aasx")  # seconds for a big package
        del data
        import_environment(twin, env)
        ids = given or [shell.id for shell in env.shells]
        description = {
            "packageId": package_id,
            "aasIds": ids,
            "fileName": name,
            "created": created,
        }
        with twin.store.batch():
            twin.save_file(_content_name(package_id), AASX_MEDIA_TYPE, upload.file.content())
            twin.save_file(_description_name(package_id), "application/json", json.dumps(description).encode())
    return description


_PACKAGE_BODY = uploads.multipart_body(
    "the AASX package", {
        "fileName": {"type": "string", "description": "the package's file name"},
        "aasIds": {"type": "array", "items": {"type": "string"}, "description": "ids of the shells the package holds"},
    }, [])


def _public(description: dict[str, Any]) -> dict[str, Any]:
    """The Part 2 PackageDescription: packageId and aasIds."""
    return {"packageId": description["packageId"], "aasIds": description["aasIds"]}


@router.get("/packages", dependencies=[ReadAccess])
async def get_all_packages(
    twin: TwinDep,
    limit: LimitQuery,
    cursor: CursorQuery,
    aas_id: Annotated[str | None, Query(alias="aasId", description="base64url-encoded shell id")] = None,
) -> Response:
    wanted = decode_id(aas_id, "aasId") if aas_id is not None else None
    descriptions = [d for d in _all_descriptions(twin) if wanted is None or wanted in d["aasIds"]]
    return json_response(paged_envelope(descriptions, cursor, limit, _public))


@router.post("/packages", status_code=201, dependencies=[WriteAccess], openapi_extra=_PACKAGE_BODY)
async def post_package(twin: TwinDep, request: Request) -> Response:
    package_id = f"{time.time_ns():x}-{secrets.token_hex(4)}"
    description = await _store_package(twin, package_id, request, time.time())
    return json_response(_public(description), status=201)


@router.get("/packages/{packageId}", dependencies=[ReadAccess], response_class=Response,
            responses={200: {"content": {AASX_MEDIA_TYPE: {}}}})
async def get_package(packageId: str, twin: TwinDep) -> Response:
    package_id = decode_id(packageId, "packageId")
    description = _description(twin, package_id)
    stored = twin.load_file(_content_name(package_id))
    if stored is None:
        raise NotFound(f"the AASX package {package_id!r} has no stored content")
    # Printable ASCII only in the header (h11 refuses control characters, and with them the connection).
    file_name = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in str(description.get("fileName")))
    return Response(stored[1], media_type=AASX_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


@router.put("/packages/{packageId}", status_code=204, dependencies=[WriteAccess], openapi_extra=_PACKAGE_BODY)
async def put_package(packageId: str, twin: TwinDep, request: Request) -> Response:
    package_id = decode_id(packageId, "packageId")
    old = _description(twin, package_id)
    await _store_package(twin, package_id, request, old.get("created", time.time()))
    return Response(status_code=204)


@router.delete("/packages/{packageId}", status_code=204, dependencies=[AdminAccess])
async def delete_package(packageId: str, twin: TwinDep) -> Response:
    package_id = decode_id(packageId, "packageId")
    _description(twin, package_id)
    with twin.store.batch():
        twin.delete_file(_content_name(package_id))
        twin.delete_file(_description_name(package_id))
    return Response(status_code=204)
