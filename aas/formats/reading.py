"""Reading AAS JSON, XML and AASX into an ``Environment``.

Strict by default: the first defect is an error naming the document part and position.
``failsafe=True`` loads sloppy third-party files the way basyx does, skipping defective
objects with a logged warning.
"""

from __future__ import annotations

import io
import logging
import stat
import time
import zipfile
import zlib
from typing import Any

import orjson
import pyecma376_2
from basyx.aas import model
from basyx.aas.adapter.aasx import AASXReader, DictSupplementaryFileContainer
from basyx.aas.adapter.xml import read_aas_xml_file
from lxml import etree

from twinbridge.aas import files, limits
from twinbridge.aas.errors import InvalidInput
from twinbridge.aas.formats import xmlns, zip_package
from twinbridge.aas.formats.environment import Environment, FormatError, FormatName
from twinbridge.aas.formats.jsontree import JsonModelError, build, dumps

logger = logging.getLogger(__name__)

_RATIO_CHECK_FROM = 1024 * 1024
"""Tiny parts (relationship files, empty origins) legitimately compress beyond any ratio."""

_TOP_LEVEL: dict[str, type[model.Identifiable]] = {
    "assetAdministrationShells": model.AssetAdministrationShell,
    "submodels": model.Submodel,
    "conceptDescriptions": model.ConceptDescription,
}
_PACKAGE_TYPES = (
    "application/asset-administration-shell-package",
    "application/zip",
    "application/x-zip-compressed",
)


def guess_format(filename: str | None, content_type: str | None, data: bytes) -> FormatName:
    """The bytes decide when they are unambiguous (zip magic, ``{``, ``<``); then the content
    type, then the file extension."""
    sniffed = _sniff(data)
    if sniffed is not None:
        return sniffed
    media = (content_type or "").split(";")[0].strip().lower()
    if media.startswith(_PACKAGE_TYPES):
        return "aasx"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    if media in ("application/xml", "text/xml") or media.endswith("+xml"):
        return "xml"
    extension = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if extension in ("json", "xml", "aasx"):
        return extension  # type: ignore[return-value]
    raise FormatError(
        f"cannot tell the format of {filename or 'the upload'!s} (content type {content_type!r}): "
        "expected AAS JSON, XML or an AASX package"
    )


def _sniff(data: bytes) -> FormatName | None:
    if data.startswith(b"PK\x03\x04"):
        return "aasx"
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "json"
    if head.startswith(b"<"):
        return "xml"
    return None


def read_environment(data: bytes, fmt: FormatName, failsafe: bool = False) -> Environment:
    """The environment in ``data``, checked against ``aas.limits`` whatever the format."""
    if fmt == "json":
        env = read_json(data, failsafe)
    elif fmt == "xml":
        env = read_xml(data, failsafe)
    elif fmt == "aasx":
        env = read_aasx(data, failsafe)
    else:
        raise FormatError(f"unknown format {fmt!r}: expected json, xml or aasx")
    check_environment(env, tree_checked=fmt == "json")
    return env


# ------------------------------------------------------------------- JSON
def read_json(data: bytes, failsafe: bool = False) -> Environment:
    try:
        document = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))  # Windows tools write a BOM
    except orjson.JSONDecodeError as error:
        raise FormatError(f"not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise FormatError(f"an AAS environment is a JSON object, not a {type(document).__name__}")
    try:
        limits.check_json(document, limits.current(), "the environment", raw=data)
    except InvalidInput as error:
        raise FormatError(str(error)) from None
    unknown = sorted(set(document) - set(_TOP_LEVEL))
    if unknown and not failsafe:
        raise FormatError(
            f"unknown top-level key(s) {', '.join(map(repr, unknown))}: "
            f"an environment has only {', '.join(_TOP_LEVEL)}"
        )
    env = Environment()
    seen: set[str] = set()
    for key, expected in _TOP_LEVEL.items():
        items = document.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise FormatError(f"{key}: expected a list, found {type(items).__name__}")
        for index, item in enumerate(items):
            obj = _build_one(item, f"{key}[{index}]", failsafe)
            if not isinstance(obj, expected):
                _problem(f"{key}[{index}]: expected {expected.__name__}, found {_describe(obj)}", failsafe)
                continue
            if obj.id in seen:
                _problem(f"{key}[{index}]: duplicate id {obj.id!r}", failsafe)
                continue
            seen.add(obj.id)
            _target(env, obj).append(obj)
    return env


def _build_one(item: Any, where: str, failsafe: bool) -> Any:
    try:
        return build(item, failsafe)
    except JsonModelError as error:
        inner = error.path
        raise FormatError(f"{where}{'' if inner == '$' else '.' + inner}: {error.reason}") from None
    except RecursionError:
        raise FormatError(f"{where}: nested too deeply") from None


def _describe(obj: Any) -> str:
    if obj is None:
        return "null"
    if isinstance(obj, dict):
        return f"an object with modelType {obj.get('modelType')!r}" if "modelType" in obj else "a plain object"
    return type(obj).__name__


def _problem(message: str, failsafe: bool) -> None:
    if not failsafe:
        raise FormatError(message)
    logger.warning("skipping: %s", message)


def _target(env: Environment, obj: model.Identifiable) -> list[Any]:
    if isinstance(obj, model.AssetAdministrationShell):
        return env.shells
    if isinstance(obj, model.Submodel):
        return env.submodels
    return env.concept_descriptions


def _from_store(store: model.DictIdentifiableStore) -> Environment:
    env = Environment()
    for obj in store:
        _target(env, obj).append(obj)
    return env


# -------------------------------------------------------------------- XML
_XML_ERRORS = (etree.XMLSyntaxError, KeyError, ValueError, TypeError, model.AASConstraintViolation)


def read_xml(data: bytes, failsafe: bool = False) -> Environment:
    try:
        document = xmlns.as_31(data)
        store = read_aas_xml_file(io.BytesIO(document), failsafe=failsafe, resolve_entities=False, no_network=True)
    except _XML_ERRORS as error:
        reason = _reason(error)
        if "namespaces are not declared" in reason:
            reason = f"the root element must be an environment in namespace {xmlns.NS_30} (or {xmlns.NS_31})"
        raise FormatError(f"not a valid AAS XML environment: {reason}") from None
    return _from_store(store)


def _reason(error: BaseException) -> str:
    """basyx wraps the real defect in "Failed to construct ..." errors; keep the whole chain."""
    reasons: list[str] = []
    current: BaseException | None = error
    while current is not None and len(reasons) < 20:
        text = str(current.args[0]) if isinstance(current, KeyError) and current.args else str(current)
        if text and text not in reasons:
            reasons.append(text)
        current = current.__cause__ or current.__context__
    return " <- ".join(reasons)


# ------------------------------------------------------------------- AASX
def check_package(data: bytes) -> None:
    """Refuse non-zips, ambiguous and poisoned entries and zip bombs, before basyx reads anything.

    The central directory is checked first (entry count, declared sizes and ratios, duplicate,
    absolute, ``..`` and symlink names); then every entry is inflated once, in bounded chunks,
    under the time limit: a package whose entries inflate beyond what they declare, or too
    slowly, is refused without holding its content (a bomb just under the ratio limit took 25 s
    in basyx before).
    """
    current = limits.current()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise FormatError(f"not an AASX package (a ZIP file is required): {error}") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > current.package_entries:
            raise FormatError(f"AASX package has {len(entries)} entries; at most {current.package_entries} "
                                f"are accepted (limit {current.key('package_entries')})")
        _check_entries(entries, current)
        _inflate_all(archive, entries, current)


def _check_entries(entries: list[zipfile.ZipInfo], current: limits.Limits) -> None:
    seen: set[str] = set()
    total = 0
    for entry in entries:
        name = entry.filename
        folded = name.lower()  # OPC part names compare case-insensitively
        if folded in seen:
            raise FormatError(f"AASX package holds the entry {name!r} twice; refused as ambiguous")
        seen.add(folded)
        segments = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in segments or (len(name) > 1 and name[1] == ":"):
            raise FormatError(f"AASX entry {name!r} has an absolute or '..' name; refused")
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise FormatError(f"AASX entry {name!r} is a symbolic link; refused")
        limits.check_text(name, "an AASX entry name")
        total += entry.file_size
        if total > current.package_inflated_bytes:
            raise FormatError(f"AASX package inflates to more than {current.package_inflated_bytes // limits.MIB} "
                                f"MiB; refused (limit {current.key('package_inflated_bytes')})")
        if entry.file_size >= _RATIO_CHECK_FROM and entry.file_size > current.package_ratio * max(
            entry.compress_size, 1
        ):
            raise FormatError(
                f"AASX entry {name!r} compresses {entry.file_size // max(entry.compress_size, 1)}:1; more than "
                f"{current.package_ratio}:1 is refused as a zip bomb (limit {current.key('package_ratio')})"
            )


def _inflate_all(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], current: limits.Limits) -> None:
    deadline = time.monotonic() + current.package_seconds
    for entry in entries:
        try:
            with archive.open(entry) as stream:
                while stream.read(_INFLATE_CHUNK):
                    if time.monotonic() > deadline:
                        raise FormatError(
                            f"AASX package takes longer than {current.package_seconds:g} s to inflate; refused "
                            f"(limit {current.key('package_seconds')})")
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, EOFError) as error:
            raise FormatError(f"AASX entry {entry.filename!r} cannot be inflated: {error}") from None


_INFLATE_CHUNK = 1024 * 1024


def check_environment(env: Environment, tree_checked: bool) -> None:
    """Every object within the limits and the metamodel's character rules, and every file name
    and reference exportable; ``tree_checked`` when the JSON reader already checked the text.

    XML and AASX content arrives as objects: each is printed once to JSON (which also proves it
    prints: orjson stops at 255 levels) and that tree checked like a JSON body.
    """
    current = limits.current()
    for obj in env.identifiables():
        where = f"{type(obj).__name__} {obj.id!r}"
        try:
            if not tree_checked:
                printed = dumps(obj)
                limits.check_json(orjson.loads(printed), current, where, raw=printed)
            if isinstance(obj, model.Submodel):
                limits.check_submodel(obj, current)
            files.check_references(obj)
        except InvalidInput as error:
            raise FormatError(str(error)) from None
        except (TypeError, orjson.JSONEncodeError) as error:
            raise FormatError(f"{where} cannot be written as JSON: {error}") from None
    for name, (_, content) in env.files.items():
        try:
            files.check_import(name, content)
        except InvalidInput as error:
            raise FormatError(str(error)) from None


class _PackageReader(AASXReader):
    """Overrides basyx' private ``_add_supplementary_file`` (``compat_basyx.check`` verifies it exists).

    basyx aborts the whole package when a File element or thumbnail names a part the package
    lacks, even when failsafe (strict: say which reference dangles; failsafe: keep the reference,
    skip the file), and would take the package's own data and relationship parts as attachments."""

    def _add_supplementary_file(self, part_name: str, file_path: str, file_store: Any) -> str | None:
        if not (file_path.startswith("//") or ":" in file_path.split("/")[0]):  # basyx's own URI test
            absolute = pyecma376_2.package_model.part_realpath(file_path, part_name)
            if absolute.lower() == part_name.lower() or zip_package.is_structure_part(absolute):
                logger.warning("not taking %s as a supplementary file: it is part of the package structure", file_path)
                return None
        try:
            return super()._add_supplementary_file(part_name, file_path, file_store)  # type: ignore[no-any-return]
        except KeyError:
            if not self.failsafe:
                raise FormatError(f"the model references {file_path!r}, which is not in the AASX package") from None
            logger.warning("skipping supplementary file %s: not in the AASX package", file_path)
            return None


def read_aasx(data: bytes, failsafe: bool = False) -> Environment:
    check_package(data)
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    container = DictSupplementaryFileContainer()
    package = xmlns.package_renamed(data, xmlns.NS_30, xmlns.NS_31)
    try:
        reader = _PackageReader(io.BytesIO(package), failsafe=failsafe)
    except ValueError as error:
        raise FormatError(f"not an AASX package (broken OPC structure): {_reason(error.__cause__ or error)}") from None
    try:
        with reader:
            reader.read_into(store, container)
            thumbnail = _package_thumbnail(reader)
    except (*_XML_ERRORS, orjson.JSONDecodeError, OSError, zipfile.BadZipFile) as error:
        raise FormatError(f"not a valid AASX package: {_reason(error)}") from None
    env = _from_store(store)
    for name in container:
        buffer = io.BytesIO()
        container.write_file(name, buffer)
        env.files[name] = (container.get_content_type(name), buffer.getvalue())
    if thumbnail is not None:
        name, content_type, content = thumbnail
        if all(content != kept for _, kept in env.files.values()):
            env.files[name] = (content_type, content)
    return env


def _package_thumbnail(reader: _PackageReader) -> tuple[str, str, bytes] | None:
    """The package-level thumbnail, which no AAS element has to reference."""
    parts = reader.reader.get_related_parts_by_type()[pyecma376_2.RELATIONSHIP_TYPE_THUMBNAIL]
    if not parts:
        return None
    with reader.reader.open_part(parts[0]) as part:
        content = part.read()
    return parts[0], reader.reader.get_content_type(parts[0]), content
