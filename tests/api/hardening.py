"""What the hardening tests share: a small plant served over HTTP from a data directory, and the
repository's state (model and stored files) to compare after a refusal and after a restart."""

from __future__ import annotations

import base64
import contextlib
import difflib
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from tests.ports import free_port
from tests.serving import serving
from twinbridge.server.application import Application, Options
from twinbridge.server.config import parse_plant_file

TOKEN = "h" * 32
PREFIX = "/api/v3.0"
SUBMODEL = "https://example.com/t/sm/Plant/Press1/OperationalData"
PLANT = """\
plant:
  base_iri: https://example.com/t/
  assets:
    - id_short: Plant
      level: plant
      children:
        - id_short: Press1
          level: machine
          signals:
            - {id_short: Mode, value_type: xs:string}
            - {id_short: Count, value_type: xs:int}
server:
  rest: {limits: {attachment_bytes: 65536, package_bytes: 262144, package_seconds: 2}}
  auth:
    tokens: [{token: TOKEN, role: write, name: tester}]
    read_open: true
""".replace("TOKEN", TOKEN)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@contextlib.asynccontextmanager
async def served(data: Path) -> AsyncIterator[tuple[Application, httpx.AsyncClient]]:
    """The plant served from ``data``; the client sends the write token and keeps one connection."""
    port = free_port()
    options = Options(host="127.0.0.1", port=port, data=data, opcua=False)
    async with serving(Application(parse_plant_file(PLANT), options)) as application:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}{PREFIX}", timeout=60, limits=limits,
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            yield application, http


async def state(application: Application, http: httpx.AsyncClient) -> tuple[Any, dict[str, str]]:
    """The whole environment as the API serializes it, and every stored file's digest."""
    response = await http.get("/serialization", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    environment = response.json()
    for shell in environment.get("assetAdministrationShells", []):  # a set in basyx: its order means nothing
        shell.get("submodels", []).sort(key=lambda reference: json.dumps(reference, sort_keys=True))
    twin = application.twin
    files = {}
    for name in twin.store.file_names():
        stored = twin.load_file(name)
        files[name] = hashlib.sha256(stored[1]).hexdigest() if stored else "missing"
    return environment, files


def assert_result(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    text = response.json()["messages"][0]["text"]
    for word in words:
        assert word in text, text


def assert_unchanged(before: tuple[Any, dict[str, str]], after: tuple[Any, dict[str, str]]) -> None:
    """``after == before``, or a failure that shows the differing lines."""
    if after == before:
        return
    old = json.dumps(before, indent=1, sort_keys=True).splitlines()
    new = json.dumps(after, indent=1, sort_keys=True).splitlines()
    raise AssertionError("\n".join(list(difflib.unified_diff(old, new, "before", "after", lineterm=""))[:60]))
