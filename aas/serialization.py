"""Whole environments in and out: AAS JSON, XML and AASX packages with their supplementary files.

The REST serialization and package endpoints, the command line and the tests all move models
through this module; the twin only ever sees validated identifiables. Format details live in
``aas/formats/``; this module is the public face.
"""

from __future__ import annotations

from twinbridge.aas.formats.environment import Environment, FormatError, FormatName, ImportSummary
from twinbridge.aas.formats.exchange import collect, import_environment
from twinbridge.aas.formats.reading import guess_format, read_environment
from twinbridge.aas.formats.writing import write_aasx, write_environment

__all__ = [
    "Environment",
    "FormatError",
    "FormatName",
    "ImportSummary",
    "collect",
    "guess_format",
    "import_environment",
    "read_environment",
    "write_aasx",
    "write_environment",
]
