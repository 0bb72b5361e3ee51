"""Quality of a live value, as it travels from a device to every projection."""

from __future__ import annotations

import enum


class Quality(enum.Enum):
    """OPC UA's three severities; REST and OPC UA both derive their status from this."""

    GOOD = "Good"
    UNCERTAIN = "Uncertain"
    BAD = "Bad"
