"""The twin's one error vocabulary; each endpoint maps it once to its own protocol.

The classes know nothing about HTTP or OPC UA: they say *what* went wrong, and the message
says where. The mappings live in one place per protocol (``server/api/results.py`` for HTTP,
``server/opcua`` for StatusCodes). The table is the contract those mappings implement:

=================  ==========================================  ========  ==========================
class              meaning                                     HTTP      OPC UA StatusCode
=================  ==========================================  ========  ==========================
NotFound           no such identifiable / element / file       404       BadNodeIdUnknown
Conflict           identifier or idShort already exists        409       BadNodeIdExists
InvalidInput       breaks the metamodel or the request         400       BadInvalidArgument
InvalidQuery       a query that is not one of the language,    400       BadInvalidArgument
                   naming the position (an InvalidInput)
NotWritable        device-fed without write-back, or a         403       BadNotWritable
                   structural edit over a device-fed element
WriteRejected      the value does not fit the element, or      422       BadTypeMismatch
                   the device refused it
LimitExceeded      a configured bound (size, count) is hit     413       BadResourceUnavailable
StorageError       the store could not make a change durable   503       BadResourceUnavailable
StorageFull        the store has no room left (disk full)      507       BadResourceUnavailable
PreconditionFailed the identifiable changed since the client    412       BadInvalidState
                   read it (``If-Match`` no longer holds)
TimedOut           a query ran out of its time limit           503       BadTimeout
=================  ==========================================  ========  ==========================
"""

from __future__ import annotations


class TwinError(Exception):
    """Base class: the message says what was wrong and where."""


class NotFound(TwinError):
    """The named identifiable, element or file does not exist."""


class Conflict(TwinError):
    """An identifier or idShort already exists."""


class InvalidInput(TwinError):
    """The input is well-formed but breaks the metamodel or the request's own constraints."""


class InvalidQuery(InvalidInput):
    """A query the language does not define (unknown operator or field, type mismatch, refused
    pattern, too deep); ``position`` names where in the query (a JSON path or a character)."""

    def __init__(self, position: str, text: str) -> None:
        super().__init__(f"query at {position}: {text}")
        self.position = position
        self.text = text


class TimedOut(TwinError):
    """A query (or another bounded computation) ran out of its time limit and was stopped."""


class NotWritable(TwinError):
    """The element is fed by a device and has no write-back, or a structural edit would replace
    or remove a device-fed element (its binding would silently write into a detached object)."""


class WriteRejected(TwinError):
    """The device (or the element's type) refused the written value."""


class LimitExceeded(TwinError):
    """A configured bound was reached (an upload's size, a queue's length)."""


class StorageError(TwinError):
    """The store could not make a change durable; the model in memory is ahead of the store."""


class StorageFull(StorageError):
    """The store ran out of room (disk full, database size limit)."""


class PreconditionFailed(StorageError):
    """The client's ``If-Match`` version is no longer the identifiable's: another write (maybe on
    another instance) came first. Nothing of the request was kept."""
