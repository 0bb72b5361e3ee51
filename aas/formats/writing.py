"""Writing an ``Environment`` as AAS JSON, XML or an AASX package."""

from __future__ import annotations

import datetime
import io
import logging
import mimetypes
import zipfile
from typing import Literal

import orjson
import pyecma376_2
from basyx.aas import model
from basyx.aas.adapter.aasx import AASXWriter, DictSupplementaryFileContainer
from basyx.aas.adapter.xml import write_aas_xml_file

from twinbridge.aas.formats import xmlns, zip_package
from twinbridge.aas.formats.environment import Environment, FormatError, FormatName
from twinbridge.aas.formats.jsontree import default

logger = logging.getLogger(__name__)

AASX_DATA_PART = "/aasx/data.xml"
AASX_JSON_PART = "/aasx/data.json"


Metamodel = Literal["3.0", "3.1"]


def write_environment(env: Environment, fmt: FormatName, metamodel: Metamodel = "3.0") -> bytes:
    """``metamodel`` decides the XML namespace (JSON is the same for both)."""
    if fmt == "json":
        return write_json(env)
    if fmt == "xml":
        return write_xml(env, metamodel)
    if fmt == "aasx":
        return write_aasx(env, metamodel=metamodel)
    raise FormatError(f"unknown format {fmt!r}: expected json, xml or aasx")


def write_json(env: Environment) -> bytes:
    """Empty lists are left out: the JSON schema and aas-core require present lists to be non-empty."""
    document: dict[str, list[model.Identifiable]] = {}
    if env.shells:
        document["assetAdministrationShells"] = list(env.shells)
    if env.submodels:
        document["submodels"] = list(env.submodels)
    if env.concept_descriptions:
        document["conceptDescriptions"] = list(env.concept_descriptions)
    return orjson.dumps(document, default=default)


def _object_store(env: Environment) -> model.DictIdentifiableStore:
    store: model.DictIdentifiableStore = model.DictIdentifiableStore()
    for obj in env.identifiables():
        store.add(obj)
    return store


def write_xml(env: Environment, metamodel: Metamodel = "3.0") -> bytes:
    """basyx writes the 3.1 namespace; AAS 3.0 documents get the 3.0 one (see ``xmlns``)."""
    buffer = io.BytesIO()
    write_aas_xml_file(buffer, _object_store(env))
    return buffer.getvalue() if metamodel == "3.1" else xmlns.as_30(buffer.getvalue())


def is_package_path(name: str) -> bool:
    """Only absolute paths name parts of a package; URIs (``file:``, ``https:``) stay references,
    and a file may not pose as the package's own structure (data part, relationships, ...)."""
    lowered = name.lower()
    return (
        name.startswith("/")
        and not name.startswith("//")
        and not zip_package.is_structure_part(name)
        and lowered != AASX_DATA_PART
        and not lowered.startswith("/aasx-thumbnail")
    )


def write_aasx(env: Environment, creator: str = "twinbridge", json_part: bool = False,
               metamodel: Metamodel = "3.0") -> bytes:
    """One XML (or, with ``json_part``, JSON) data part, every package-local file as an aas-suppl
    part, and the first shell's default thumbnail as the package thumbnail.

    basyx writes the JSON part with its own encoder, which gives Entities an empty
    ``specificAssetIds`` (rejected by aas-core); its bytes are replaced by ``write_json``'s,
    keeping basyx's relationships and content types."""
    container = DictSupplementaryFileContainer()
    for name, (content_type, data) in env.files.items():
        if is_package_path(name):
            container.add_file(name, io.BytesIO(data), content_type)
        else:
            logger.info("not packing %s: not a package path", name)
    buffer = io.BytesIO()
    with AASXWriter(buffer, failsafe=True) as writer:  # a File without its attachment still exports
        writer.write_all_aas_objects(AASX_JSON_PART if json_part else AASX_DATA_PART, _object_store(env), container,
                                     write_json=json_part)
        properties = pyecma376_2.OPCCoreProperties()
        properties.creator = creator
        properties.created = datetime.datetime.now(datetime.UTC)
        writer.write_core_properties(properties)
        thumbnail = _thumbnail(env)
        if thumbnail is not None:
            writer.write_thumbnail(*thumbnail)
    if json_part:
        return zip_package.exact_relationship_targets(_replace_part(buffer.getvalue(), AASX_JSON_PART, write_json(env)))
    if metamodel == "3.1":
        return zip_package.exact_relationship_targets(buffer.getvalue())
    return zip_package.exact_relationship_targets(xmlns.package_renamed(buffer.getvalue(), xmlns.NS_31, xmlns.NS_30))


def _replace_part(package: bytes, part: str, data: bytes) -> bytes:
    """``package`` with the zip entry of ``part`` holding ``data`` (every other entry copied as is)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, data if "/" + info.filename == part else source.read(info))
    return out.getvalue()


def _thumbnail(env: Environment) -> tuple[str, bytearray, str] | None:
    for shell in env.shells:
        resource = shell.asset_information.default_thumbnail
        if resource is None or resource.path not in env.files:
            continue
        content_type, data = env.files[resource.path]
        extension = mimetypes.guess_extension(content_type) or ".bin"
        return f"/aasx-thumbnail{extension}", bytearray(data), content_type
    return None
