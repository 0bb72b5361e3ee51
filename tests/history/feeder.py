"""A process that historizes a device's values and says which it handed to the twin (the kill -9 test's subject).

    python -m tests.history.feeder DATA_DIR

Prints ``<value> <source timestamp>`` for each update the twin accepted; stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from tests.history.conftest import SUBMODEL, press_submodel
from twinbridge.aas.store import open_store, store_url_for
from twinbridge.aas.twin import Twin
from twinbridge.history.service import HistoryService
from twinbridge.history.settings import HistorySettings

FLUSH_INTERVAL_S = 0.2


async def feed(data: Path) -> None:
    twin = Twin(open_store(store_url_for(data)))
    if SUBMODEL not in twin.submodels:
        twin.create(press_submodel())
    service = HistoryService(twin, HistorySettings(flush_interval_s=FLUSH_INTERVAL_S), data)
    await service.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    handle = twin.live(SUBMODEL, "Temperature")
    value = 0
    while not stop.is_set():
        stamp = round(time.time(), 6)
        twin.update(handle, float(value), stamp)
        print(value, f"{stamp:.6f}", flush=True)
        value += 1
        await asyncio.sleep(0.005)
    await service.stop()
    twin.close()


if __name__ == "__main__":
    asyncio.run(feed(Path(sys.argv[1])))
