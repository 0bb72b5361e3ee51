"""What the repository holds before it serves: the imported files and the described plant.

Apart from the ``Application`` because the commands that build a repository without serving it
(``twinbridge validate``, ``twinbridge export``) need this and none of the endpoints.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TypeVar

from basyx.aas import model

from twinbridge.aas.limits import DEFAULT as DEFAULT_LIMITS
from twinbridge.aas.limits import Limits
from twinbridge.aas.limits import applied as applied_limits
from twinbridge.aas.serialization import (
    Environment,
    collect,
    guess_format,
    import_environment,
    read_environment,
    write_environment,
)
from twinbridge.aas.store import open_store, store_url_for
from twinbridge.aas.twin import Twin, kind_of
from twinbridge.server.analytics_config import watched_signals
from twinbridge.server.config import PlantFile
from twinbridge.submodels.plant import Plant

log = logging.getLogger("twinbridge")
_I = TypeVar("_I", bound=model.Identifiable)

PLANT_FINGERPRINT = "plant/description.sha256"
"""The stored digest of the plant description (with its watched signals) the plant was built from."""
PLANT_MODEL = "plant/model.json"
"""The stored plant model, restored instead of rebuilt while the description is unchanged."""


def import_files(twin: Twin, paths: list[Path], replace: bool = False, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Import each file; without ``replace`` objects and files already in the twin are kept, so a
    restart with the same ``--import`` never silently undoes edits made over REST. Returns one
    report line per file (what was created, kept or replaced).

    ``limits``: the plant file's ``server.rest.limits``; a file is held to the same bounds as an
    upload of it (a package a site allows over REST must not be refused at start-up, nor the
    reverse)."""
    reports = []
    for path in paths:
        data = path.read_bytes()
        with applied_limits(limits):
            environment = read_environment(data, guess_format(path.name, None, data))
        kept = 0
        if not replace:
            environment, kept = _missing_only(twin, environment)
        summary = import_environment(twin, environment)
        report = (f"imported {path}: {summary.created} created, {summary.replaced} replaced, {kept} kept "
                  f"as they were{' (--replace overwrites them)' if kept else ''}, {summary.files} files")
        log.info("%s", report)
        reports.append(report)
    return reports


def _missing_only(twin: Twin, environment: Environment) -> tuple[Environment, int]:
    """The part of ``environment`` the twin lacks, and how many objects and files it already has."""
    def new(objects: list[_I]) -> list[_I]:
        return [obj for obj in objects if not twin.exists(kind_of(obj), obj.id)]

    missing = Environment(new(environment.shells), new(environment.submodels), new(environment.concept_descriptions),
                          {name: file for name, file in environment.files.items() if twin.load_file(name) is None})
    total = len(list(environment.identifiables())) + len(environment.files)
    return missing, total - len(list(missing.identifiables())) - len(missing.files)


def load_plant(twin: Twin, plant_file: PlantFile) -> Plant | None:
    """Build the described plant into the twin.

    While the description (with the analytics signals, which decide the Predictive Maintenance
    submodels) is unchanged since the last start, only missing objects are created,
    so edits made over REST survive a restart; a changed description wins and replaces what
    it describes. Objects the description does not mention (imports, REST) are never touched.
    """
    if plant_file.plant is None:
        return None
    watched = watched_signals(plant_file.analytics)  # which assets get a PM submodel, and its RUL conditions
    fingerprint = hashlib.sha256(plant_file.plant.model_dump_json().encode() + repr(watched).encode()
                                 ).hexdigest().encode()
    stored = twin.load_file(PLANT_FINGERPRINT)
    changed = stored is None or stored[1] != fingerprint
    saved = twin.load_file(PLANT_MODEL)
    plant = Plant(twin, plant_file.plant, plant_file.base_dir, replace=changed, semantic=plant_file.server.semantic,
                  saved=None if saved is None else saved[1], watched=watched)
    if not plant.restored:
        twin.save_file(PLANT_MODEL, "application/json", plant.model.to_document())
    twin.save_file(PLANT_FINGERPRINT, "text/plain", fingerprint)
    log.info("plant %s: %d shells, %d objects %s", plant_file.plant.assets[0].id_short, plant.shell_count,
             plant.written, "written (description changed)" if changed else
             "restored (description unchanged)" if plant.restored else "created (description unchanged)")
    return plant


def export_repository(plant_file: PlantFile, data: Path | None, imports: list[Path], fmt: str) -> bytes:
    """The repository as ``fmt`` (``twinbridge export``): its store, the imports and the plant, not served."""
    twin = Twin(open_store(store_url(plant_file.server.store if data is not None else None, data)))
    try:
        import_files(twin, [*plant_file.imports, *imports], limits=plant_file.server.rest.limits.limits())
        load_plant(twin, plant_file)
        return write_environment(collect(twin), fmt)  # type: ignore[arg-type]
    finally:
        twin.close()


def store_url(configured: str | None, data_dir: Path | None) -> str:
    """The configured store URL; without one, SQLite in the data directory (memory without one)."""
    return configured if configured is not None else store_url_for(data_dir)
