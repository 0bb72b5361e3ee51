"""Resolving a binding's target to a live element handle, once, at start-up.

A target names a shell (idShort or id), one of its submodels (idShort or semanticId) and
an idShortPath. A target that does not resolve is a start-up error that names the binding.
"""

from __future__ import annotations

from basyx.aas import model

from twinbridge.aas.errors import NotFound
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.adapters.config import ElementTarget


class BindingError(ValueError):
    """A binding cannot be resolved; the message names the binding and what is missing."""


def find_shell(twin: Twin, shell: str) -> model.AssetAdministrationShell:
    found = twin.shells.get(shell)
    if found is not None:
        return found
    for candidate in twin.shells.values():
        if candidate.id_short == shell:
            return candidate
    raise BindingError(f"no shell with idShort or id {shell!r}")


def find_submodel(twin: Twin, shell: model.AssetAdministrationShell, submodel: str) -> model.Submodel:
    for reference in shell.submodel:
        candidate = twin.submodels.get(reference.key[-1].value)
        if candidate is None:
            continue
        if candidate.id_short == submodel or candidate.id == submodel:
            return candidate
        semantic = candidate.semantic_id
        if semantic is not None and semantic.key and semantic.key[0].value == submodel:
            return candidate
    raise BindingError(f"shell {shell.id_short!r} has no submodel with idShort or semanticId {submodel!r}")


def resolve_target(twin: Twin, target: ElementTarget, name: str) -> LiveElement:
    """The live handle of ``target``; ``name`` (e.g. ``bindings[3]``) prefixes every error."""
    try:
        shell = find_shell(twin, target.shell)
        submodel = find_submodel(twin, shell, target.submodel)
        handle = twin.live(submodel.id, target.path)
    except (BindingError, NotFound) as error:
        raise BindingError(f"{name}: {error}") from None
    if not isinstance(handle.element, model.Property):
        raise BindingError(f"{name}: {target.path!r} is a {type(handle.element).__name__}, bind a Property")
    return handle
