"""Instantiate a submodel template published as an AASX or JSON file.

Published template files are often not strictly valid, so they are read failsafe (basyx
skips and logs what it cannot parse). The instance gets its own id, kind Instance, no
template qualifiers (AASd-129), and the values the description gives by idShortPath, each
checked against the element's type.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.json import read_aas_json_file

from twinbridge.aas import paths
from twinbridge.aas.errors import InvalidInput
from twinbridge.submodels.templates.elements import typed


def load(data: bytes, name: str) -> model.DictIdentifiableStore:
    """Every identifiable of an AASX (zip) or AAS JSON file; broken parts are skipped, not fatal."""
    objects: model.DictIdentifiableStore = model.DictIdentifiableStore()
    try:
        if data[:2] == b"PK":
            with aasx.AASXReader(io.BytesIO(data), failsafe=True) as reader:
                reader.read_into(objects, aasx.DictSupplementaryFileContainer())
        else:
            objects = read_aas_json_file(io.StringIO(data.decode("utf-8-sig")), failsafe=True)
    except (ValueError, KeyError, OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"template file {name}: cannot be read ({type(error).__name__}: {error})") from None
    return objects


def load_file(path: Path) -> model.DictIdentifiableStore:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"template file {path}: {error.strerror}") from None
    return load(data, str(path))


def pick(objects: model.DictIdentifiableStore, selector: str | None, name: str) -> list[model.Submodel]:
    """The submodels named by idShort or semanticId (all when ``selector`` is None)."""
    found = [obj for obj in objects if isinstance(obj, model.Submodel)]
    if selector is not None:
        found = [sm for sm in found if sm.id_short == selector or _semantic_value(sm) == selector]
    if not found:
        what = f"a submodel {selector!r}" if selector else "any submodel"
        raise InvalidInput(f"template file {name}: does not contain {what}")
    return found


def _semantic_value(obj: model.HasSemantics) -> str | None:
    ref = obj.semantic_id
    return ref.key[0].value if ref is not None and ref.key else None


def instantiate(template: model.Submodel, identifier: str, id_short: str | None,
                values: Mapping[str, Any], where: str) -> model.Submodel:
    instance = copy.deepcopy(template)
    instance.id = identifier
    instance.kind = model.ModellingKind.INSTANCE
    if id_short:
        instance.id_short = id_short
    _strip_template_qualifiers(instance)
    for path, value in values.items():
        try:
            element = paths.resolve(instance, path)
        except paths.PathError as error:
            raise InvalidInput(f"{where}: values: {error}") from None
        _assign(element, value, f"{where}: {path}")
    return instance


def _assign(element: model.SubmodelElement, value: Any, where: str) -> None:
    if isinstance(element, model.Property):
        element.value = typed(value, element.value_type, where)
    elif isinstance(element, model.MultiLanguageProperty):
        if not isinstance(value, str):
            raise InvalidInput(f"{where}: a MultiLanguageProperty takes text, not {value!r}")
        element.value = model.MultiLanguageTextType({"en": value})
    else:
        raise InvalidInput(f"{where}: the template element is a {type(element).__name__}, which takes no value")


def _strip_template_qualifiers(node: model.Referable) -> None:
    if isinstance(node, model.Qualifiable):
        for qualifier in [q for q in node.qualifier if q.kind is model.QualifierKind.TEMPLATE_QUALIFIER]:
            node.qualifier.remove(qualifier)
    for child in paths.children(node):
        _strip_template_qualifiers(child)
