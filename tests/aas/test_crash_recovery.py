"""kill -9 in the middle of writes: the store reopens and holds every acknowledged write.

A child process writes through a Twin over SqliteStore (single creates, element-log value writes
and element additions, batched imports and files) and prints each change only after
``wait_persisted()`` returned (the acknowledgement). The test kills it with SIGKILL while it
writes, twice on the same database, then checks every printed change is stored.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from twinbridge.aas.events import ObjectKind
from twinbridge.aas.store import SqliteStore
from twinbridge.aas.twin import Twin

REPO = Path(__file__).resolve().parents[2]

WRITER = r"""
import asyncio
import sys
from pathlib import Path
from basyx.aas import model
from twinbridge.aas.serialization import Environment, import_environment
from twinbridge.aas.store import SqliteStore
from twinbridge.aas.twin import Twin

round_ = sys.argv[2]
twin = Twin(SqliteStore(Path(sys.argv[1])))
print(f"ready {len(twin.submodels)}", flush=True)

def submodel(identifier):
    return model.Submodel(identifier, submodel_element=[
        model.Property(f"p{n}", model.datatypes.Double, value=n / 3) for n in range(40)])

i = 0
while True:
    if i % 3 == 2:
        ids = [f"urn:{round_}:batch:{i}:{k}" for k in range(5)]
        env = Environment(submodels=[submodel(identifier) for identifier in ids],
                          files={f"/files/{round_}/{i}.bin": ("application/octet-stream", bytes([i % 256]) * 3000)})
        import_environment(twin, env)
        print("\n".join(ids) + f"\nfile /files/{round_}/{i}.bin", flush=True)
    else:
        identifier = f"urn:{round_}:single:{i}"
        twin.create(submodel(identifier))
        asyncio.run(twin.write_value(twin.live(identifier, "p1"), i))
        twin.add_element(identifier, None, model.Property("extra", model.datatypes.Int, value=i))
        twin.wait_persisted()
        print(f"{identifier}\nvalue {identifier} {i}", flush=True)
    i += 1
"""


def _run_and_kill(database: Path, round_: str, after: int) -> tuple[int, list[str]]:
    """Start the writer, SIGKILL it once it acknowledged ``after`` lines; returns what it loaded and acked."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database), round_],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )
    assert child.stdout is not None
    ready = child.stdout.readline()
    assert ready.startswith("ready"), child.stderr.read() if child.stderr else ready
    acknowledged: list[str] = []
    deadline = time.monotonic() + 60
    while len(acknowledged) < after and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    os.kill(child.pid, signal.SIGKILL)
    acknowledged.extend(line.strip() for line in child.stdout)  # printed before the kill: acknowledged too
    child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert len(acknowledged) >= after, "the writer stopped early"
    return int(ready.split()[1]), acknowledged


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    database = tmp_path / "crash.sqlite3"
    loaded_first, first = _run_and_kill(database, "one", after=60)
    loaded_second, second = _run_and_kill(database, "two", after=60)
    assert loaded_first == 0
    assert loaded_second >= len([line for line in first if not line.startswith(("file ", "value "))])

    store = SqliteStore(database)
    stored = {document.identifier for document in store.load() if document.kind is ObjectKind.SUBMODEL}
    twin = Twin(store)  # every stored document still decodes and its element log replays
    assert len(twin.submodels) == len(stored)
    for line in first + second:
        if line.startswith("file "):
            assert store.load_file(line.split(" ", 1)[1]) is not None, line
        elif line.startswith("value "):
            _, identifier, number = line.split()
            assert twin.element(identifier, "p1").value == float(number), line  # type: ignore[attr-defined]
            assert twin.element(identifier, "extra").value == int(number), line  # type: ignore[attr-defined]
        else:
            assert line in stored, f"acknowledged {line} is missing after kill -9"
    assert all(len(submodel.submodel_element) in (40, 41) for submodel in twin.submodels.values())
    twin.close()
