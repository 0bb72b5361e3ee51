"""The hierarchy a query crosses: a shell's submodels, a submodel's shells, over two mappings.

Built per query run: the reverse map (submodel → shells) is made on first use, once, so a
submodel query with ``$aas`` fields costs one pass over the shells, not one per submodel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from basyx.aas import model


class RepositoryWorld:
    def __init__(self, shells: Mapping[str, model.AssetAdministrationShell],
                 submodels: Mapping[str, model.Submodel]) -> None:
        self._shells = shells
        self._submodels = submodels
        self._referencing: dict[str, list[model.AssetAdministrationShell]] | None = None

    def submodels_of(self, shell: model.AssetAdministrationShell) -> Iterable[model.Submodel]:
        for reference in shell.submodel:
            if reference.key:
                submodel = self._submodels.get(reference.key[-1].value)
                if submodel is not None:
                    yield submodel

    def shells_of(self, submodel: model.Submodel) -> Iterable[model.AssetAdministrationShell]:
        if self._referencing is None:
            referencing: dict[str, list[model.AssetAdministrationShell]] = {}
            for shell in self._shells.values():
                for reference in shell.submodel:
                    if reference.key:
                        referencing.setdefault(reference.key[-1].value, []).append(shell)
            self._referencing = referencing
        return self._referencing.get(submodel.id, ())
