"""Moving environments between the twin and the formats: export selections, all-or-nothing imports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from basyx.aas import model
from basyx.aas.util import traversal

from aas import documents
from aas.formats.environment import Environment, FormatError, ImportSummary
from aas.twin import Twin, kind_of


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
        stored = twin.load_file(name)
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

    Everything is checked first (kinds, duplicate ids, serializability, file entries), so a bad
    environment leaves the twin unchanged.
    """
    _validate(env)
    created = replaced = 0
    with twin.store.batch():
        for obj in env.identifiables():
            if twin.upsert(obj):
                created += 1
            else:
                replaced += 1
        for name, (content_type, data) in env.files.items():
            twin.save_file(name, content_type, data)
    return ImportSummary(created=created, replaced=replaced, files=len(env.files))


def _validate(env: Environment) -> None:
    seen: set[tuple[object, str]] = set()
    for obj in env.identifiables():
        kind = kind_of(obj)
        key = (kind, obj.id)
        if key in seen:
            raise FormatError(f"the environment holds {type(obj).__name__} {obj.id!r} twice")
        seen.add(key)
        try:
            documents.encode(obj)
        except (TypeError, ValueError, AttributeError) as error:
            raise FormatError(f"{type(obj).__name__} {obj.id!r} cannot be serialized: {error}") from None
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

