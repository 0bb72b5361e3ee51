"""The twin's errors as OPC UA StatusCodes: the one table writes and Methods answer from.

The REST side has its own one table (``server/api/results.py``); both implement the contract
in ``twinbridge.aas.errors``. A subclass without its own row gets its nearest base class's code,
so a new error class is never a crash, only a less precise code until it gets a row.
"""

from __future__ import annotations

from asyncua import ua

from twinbridge.aas import errors

S = ua.StatusCodes

STATUS_OF_ERROR: dict[type[errors.TwinError], int] = {
    errors.NotFound: S.BadNodeIdUnknown,
    errors.Conflict: S.BadNodeIdExists,
    errors.InvalidInput: S.BadInvalidArgument,
    errors.NotWritable: S.BadNotWritable,
    errors.WriteRejected: S.BadTypeMismatch,
    errors.LimitExceeded: S.BadResourceUnavailable,
    errors.StorageError: S.BadResourceUnavailable,
    errors.PreconditionFailed: S.BadInvalidState,
    errors.TimedOut: S.BadTimeout,
    errors.TwinError: S.BadInternalError,
}
"""TwinError class → StatusCode. WriteRejected: the value does not fit or the device refused it.
StorageError (and StorageFull): the value is in memory but could not be made durable; the
server cannot take writes until the store recovers, so the resource, not the request, is bad."""


def status_of(error: errors.TwinError) -> ua.StatusCode:
    """The StatusCode of ``error``: its class's row, else its nearest base class's."""
    for cls in type(error).__mro__:
        code = STATUS_OF_ERROR.get(cls)  # type: ignore[call-overload]
        if code is not None:
            return ua.StatusCode(code)  # type: ignore[arg-type]
    return ua.StatusCode(S.BadInternalError)  # type: ignore[arg-type]
