"""Moving environments between the twin and the formats: export selections, all-or-nothing imports."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from basyx.aas import model
from basyx.aas.util import traversal

from twinbridge.aas import files
from twinbridge.aas.events import ObjectKind
from twinbridge.aas.formats.environment import Environment, FormatError, ImportSummary
from twinbridge.aas.gc_pause import collector_paused
from twinbridge.aas.twin import Twin, kind_of

logger = logging.getLogger(__name__)


def collect(
    twin: Twin,
    shell_ids: Iterable[str] | None = None,
    submodel_ids: Iterable[str] | None = None,
    include_concept_descriptions: bool = True,
) -> Environment:
    """The twin's content, or a selection of it, with every stored file it references.

    No ids at all: everything. Otherwise the named shells and submodels; when only shells are
    named, their submodels come along (as in an AASX of those shells). Concept descriptions:
    all of them for a full export, else those the selection's semanticIds name. Unknown ids
    raise ``NotFound``.
    """
    if shell_ids is None and submodel_ids is None:
        shells = list(twin.shells.values())
        submodels = list(twin.submodels.values())
        concepts = list(twin.concept_descriptions.values())
    else:
        shells = [twin.shell(identifier) for identifier in shell_ids or ()]
        if submodel_ids is None:
            submodels = _referenced_submodels(twin, shells)
        else:
            submodels = [twin.submodel(identifier) for identifier in submodel_ids]
        concepts = _referenced_concepts(twin, [*shells, *submodels])
    env = Environment(shells, submodels, concepts if include_concept_descriptions else [])
    for name in _file_references(env):
        stored = twin.load_file(name) if files.is_supplementary(name) else None  # never the server's own files
        if stored is not None:
            env.files[name] = stored
    return env


def _referenced_submodels(twin: Twin, shells: list[model.AssetAdministrationShell]) -> list[model.Submodel]:
    result: dict[str, model.Submodel] = {}
    for shell in shells:
        for reference in shell.submodel:
            identifier = reference.key[-1].value if reference.key else None
            if identifier is not None and identifier in twin.submodels:
                result.setdefault(identifier, twin.submodels[identifier])
    return list(result.values())


def _referenced_concepts(twin: Twin, objects: list[model.Identifiable]) -> list[model.ConceptDescription]:
    """A semanticId names a concept description by a ModelReference or, commonly, a global key with its id."""
    wanted: set[str] = set()
    for obj in objects:
        for semantic_id in traversal.walk_semantic_ids_recursive(obj):
            wanted.update(key.value for key in semantic_id.key)
    return [cd for identifier, cd in twin.concept_descriptions.items() if identifier in wanted]


def _file_references(env: Environment) -> Iterator[str]:
    for shell in env.shells:
        thumbnail = shell.asset_information.default_thumbnail
        if thumbnail is not None and thumbnail.path:
            yield thumbnail.path
    for submodel in env.submodels:
        for element in traversal.walk_submodel(submodel):
            if isinstance(element, model.File) and element.value:
                yield element.value


def import_environment(twin: Twin, env: Environment) -> ImportSummary:
    """Upsert every identifiable and save every file in one store transaction.

    Kinds, duplicate ids and file entries are checked before anything is written; whatever
    still fails half-way (an object the twin cannot serialize, a full disk) rolls the store
    transaction back and puts the twin's memory back as it was. Either way a bad environment
    leaves the twin unchanged. (Serializing each object once, in the twin, halves import time
    against checking it up front.)
    """
    _validate(env)
    views: dict[ObjectKind, Mapping[str, model.Identifiable]] = {
        ObjectKind.SHELL: twin.shells,
        ObjectKind.SUBMODEL: twin.submodels,
        ObjectKind.CONCEPT_DESCRIPTION: twin.concept_descriptions,
    }
    done: list[tuple[ObjectKind, str, Any]] = []
    saved: list[tuple[str, tuple[str, bytes] | None]] = []
    position = twin.store.position
    try:
        with collector_paused(), twin.store.batch():
            for obj in env.identifiables():
                kind = kind_of(obj)
                done.append((kind, obj.id, views[kind].get(obj.id)))
                twin.upsert(obj)
            for name, (content_type, data) in env.files.items():
                saved.append((name, twin.load_file(name)))
                twin.save_file(name, content_type, bytes(data))
        # An import is all or nothing: wait for its one transaction, undo in memory if it failed.
        twin.store.wait_persisted(since=position)
    except Exception:
        _undo(twin, done, saved)
        raise
    created = sum(1 for _, _, previous in done if previous is None)
    return ImportSummary(created=created, replaced=len(done) - created, files=len(env.files))


def _undo(
    twin: Twin, done: list[tuple[ObjectKind, str, Any]], saved: list[tuple[str, tuple[str, bytes] | None]]
) -> None:
    for kind, identifier, previous in reversed(done):
        try:
            if previous is None:
                twin.delete(kind, identifier)
            else:
                twin.replace(previous)
        except Exception:
            logger.exception("could not undo the import of %s %s", kind.value, identifier)
    for name, before in reversed(saved):
        try:
            if before is None:
                twin.delete_file(name)
            else:
                twin.save_file(name, *before)
        except Exception:
            logger.exception("could not undo the import of file %s", name)


def _validate(env: Environment) -> None:
    seen: set[tuple[object, str]] = set()
    for obj in env.identifiables():
        kind = kind_of(obj)
        key = (kind, obj.id)
        if key in seen:
            raise FormatError(f"the environment holds {type(obj).__name__} {obj.id!r} twice")
        seen.add(key)
    for name, entry in env.files.items():
        if not isinstance(name, str) or not name:
            raise FormatError(f"file name {name!r} is not a non-empty string")
        if (
            not isinstance(entry, tuple)
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or not isinstance(entry[1], (bytes, bytearray))
        ):
            raise FormatError(f"file {name!r}: expected (content_type, bytes)")

