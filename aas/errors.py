"""Errors of the write path; each endpoint maps them to its own protocol (REST Result, OPC UA StatusCode)."""

from __future__ import annotations


class TwinError(Exception):
    """Base class: the message says what was wrong and where."""


class NotFound(TwinError):
    pass


class Conflict(TwinError):
    """An identifier or idShort already exists."""


class InvalidInput(TwinError):
    """The input is well-formed but breaks the metamodel or the request's own constraints."""


class NotWritable(TwinError):
    """The element is fed by a device and has no write-back."""


class WriteRejected(TwinError):
    """The device (or the element's type) refused the written value."""
