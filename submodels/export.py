"""The whole environment as one AASX package: every shell, submodel, concept description and file.

Files referenced by File elements and kept in the twin's file store (under the element's
path value, e.g. ``/aasx/files/manual.pdf``) are packed next to the model so the package
opens standalone in the AASX Package Explorer.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import IO

from basyx.aas import model
from basyx.aas.adapter import aasx

from aas import documents, paths
from aas.twin import Twin

_MODEL_PART = "/aasx/data.json"


def _elements(node: model.Referable) -> list[model.Referable]:
    out: list[model.Referable] = []
    stack = list(paths.children(node))
    while stack:
        element = stack.pop()
        out.append(element)
        stack.extend(paths.children(element))
    return out


def _pack_files(twin: Twin, objects: model.DictIdentifiableStore) -> aasx.DictSupplementaryFileContainer:
    container = aasx.DictSupplementaryFileContainer()
    for obj in objects:
        if not isinstance(obj, model.Submodel):
            continue
        for element in _elements(obj):
            if isinstance(element, model.File) and element.value and "://" not in element.value:
                stored = twin.load_file(element.value)
                if stored is not None:
                    content_type, data = stored
                    element.value = container.add_file(element.value, io.BytesIO(data), content_type)
    return container


def write_aasx(twin: Twin, file: IO[bytes]) -> None:
    """Write the environment to ``file`` as one JSON model part holding every identifiable.

    The package gets copies (round-tripped through AAS JSON): the writer rewrites file
    paths, and the twin's own objects must only change through its write path.
    """
    objects: model.DictIdentifiableStore = model.DictIdentifiableStore()
    for table in (twin.shells, twin.submodels, twin.concept_descriptions):
        for obj in table.values():
            objects.add(documents.decode(documents.encode(obj)))
    files = _pack_files(twin, objects)
    package = io.BytesIO()
    with aasx.AASXWriter(package) as writer:
        writer.write_all_aas_objects(_MODEL_PART, objects, files, write_json=True)
    _strip_empty_asset_ids(package, file)


def _strip_empty_asset_ids(package: io.BytesIO, file: IO[bytes]) -> None:
    """basyx writes ``specificAssetIds: []`` for Entities, which the JSON schema forbids; drop it."""
    package.seek(0)
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == _MODEL_PART.lstrip("/"):
                data = json.dumps(documents.strip_empty_specific_asset_ids(json.loads(data)),
                                  ensure_ascii=False).encode()
            target.writestr(info, data)
