"""Two twinbridge processes on one PostgreSQL store: a write on one is read on the other."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.postgres import fresh_store_url, require_postgres
from tests.scaleout.instances import HEADERS, Instance, b64, submodel_json, wait_for

SUBMODEL = "urn:twinbridge:test:counters"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, Instance]]:
    """One pair for the module (a start costs seconds); each test uses its own submodel id."""
    require_postgres()
    tmp_path = tmp_path_factory.mktemp("pair")
    with fresh_store_url("pair") as url:
        a, b = Instance(url, tmp_path / "a.log"), Instance(url, tmp_path / "b.log")
        try:
            a.start()
            b.start()
            yield a, b
        finally:
            a.stop()
            b.stop()


def _value(instance: Instance, name: str) -> object:
    response = httpx.get(f"{instance.url}/submodels/{b64(SUBMODEL)}/submodel-elements/{name}/$value",
                         headers=HEADERS, timeout=5)
    return response.json()[name] if response.status_code == 200 else None


def test_a_write_on_one_instance_is_read_on_the_other(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    created = httpx.post(f"{a.url}/submodels", json=submodel_json(SUBMODEL, {"x": 1, "y": 2}), headers=HEADERS)
    assert created.status_code == 201, created.text
    wait_for(lambda: _value(b, "x") == 1, timeout=1.0)

    patched = httpx.patch(f"{a.url}/submodels/{b64(SUBMODEL)}/submodel-elements/x/$value", json=41, headers=HEADERS)
    assert patched.status_code == 204, patched.text
    assert _value(a, "x") == 41  # read-your-writes on the instance that took the write
    wait_for(lambda: _value(b, "x") == 41, timeout=1.0)

    added = httpx.post(f"{b.url}/submodels/{b64(SUBMODEL)}/submodel-elements", headers=HEADERS,
                       json={"modelType": "Property", "idShort": "z", "valueType": "xs:int", "value": "7"})
    assert added.status_code == 201, added.text
    wait_for(lambda: _value(a, "z") == 7, timeout=1.0)

    deleted = httpx.delete(f"{b.url}/submodels/{b64(SUBMODEL)}", headers=HEADERS)
    assert deleted.status_code == 204
    wait_for(lambda: httpx.get(f"{a.url}/submodels/{b64(SUBMODEL)}", headers=HEADERS).status_code == 404,
             timeout=1.0)


def test_if_match_lets_exactly_one_of_two_concurrent_writers_win(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    httpx.delete(f"{a.url}/submodels/{b64(SUBMODEL)}", headers=HEADERS)
    wait_for(lambda: httpx.get(f"{b.url}/submodels/{b64(SUBMODEL)}", headers=HEADERS).status_code == 404)
    assert httpx.post(f"{a.url}/submodels", json=submodel_json(SUBMODEL, {"x": 0}), headers=HEADERS).status_code == 201
    wait_for(lambda: _value(b, "x") == 0, timeout=1.0)
    tag_a = httpx.get(f"{a.url}/submodels/{b64(SUBMODEL)}", headers=HEADERS).headers["ETag"]
    tag_b = httpx.get(f"{b.url}/submodels/{b64(SUBMODEL)}", headers=HEADERS).headers["ETag"]
    assert tag_a == tag_b  # one version on every instance

    statuses: dict[str, int] = {}

    def put(instance: Instance, name: str, value: int) -> None:
        response = httpx.put(f"{instance.url}/submodels/{b64(SUBMODEL)}", json=submodel_json(SUBMODEL, {"x": value}),
                             headers={**HEADERS, "If-Match": tag_a}, timeout=10)
        statuses[name] = response.status_code

    threads = [threading.Thread(target=put, args=(a, "a", 1)), threading.Thread(target=put, args=(b, "b", 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) == [204, 412], statuses
    winner = 1 if statuses["a"] == 204 else 2
    wait_for(lambda: _value(a, "x") == winner and _value(b, "x") == winner, timeout=1.0)

    stale = httpx.patch(f"{a.url}/submodels/{b64(SUBMODEL)}/submodel-elements/x/$value", json=5,
                        headers={**HEADERS, "If-Match": tag_a})
    assert stale.status_code == 412
    assert stale.json()["messages"][0]["code"] == "PreconditionFailed"
    fresh = httpx.get(f"{b.url}/submodels/{b64(SUBMODEL)}", headers=HEADERS).headers["ETag"]
    wait_for(lambda: httpx.get(f"{a.url}/submodels/{b64(SUBMODEL)}", headers=HEADERS).headers["ETag"] == fresh)
    ok = httpx.patch(f"{a.url}/submodels/{b64(SUBMODEL)}/submodel-elements/x/$value", json=5,
                     headers={**HEADERS, "If-Match": fresh})
    assert ok.status_code == 204, ok.text
    assert ok.headers["ETag"] != fresh
