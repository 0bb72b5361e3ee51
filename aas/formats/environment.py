"""The unit of exchange: identifiables plus the files their File elements and thumbnails name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from basyx.aas import model

from twinbridge.aas.errors import InvalidInput

FormatName = Literal["json", "xml", "aasx"]


class FormatError(InvalidInput):
    """The input is not a readable AAS environment; the message says what and where."""


@dataclass
class Environment:
    """Shells, submodels and concept descriptions, and the supplementary files they reference.

    ``files`` maps the AAS path a File element or thumbnail holds (``/aasx/files/manual.pdf``)
    to ``(content_type, bytes)``.
    """

    shells: list[model.AssetAdministrationShell] = field(default_factory=list)
    submodels: list[model.Submodel] = field(default_factory=list)
    concept_descriptions: list[model.ConceptDescription] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def identifiables(self) -> Iterator[model.Identifiable]:
        yield from self.shells
        yield from self.submodels
        yield from self.concept_descriptions


@dataclass(frozen=True)
class ImportSummary:
    created: int
    replaced: int
    files: int
