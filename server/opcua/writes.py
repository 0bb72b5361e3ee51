"""Client writes to mirrored values go through the twin's single write path.

asyncua would store a client's value straight into the node. This attribute service
intercepts writes to the mirror's value nodes: it checks the user's rights, the Variant's
type and the element's writability, then awaits ``Twin.write_value`` (device write-back or a stored
value change, so REST sees it at once). Only when the twin accepted the value does the node change.
Writes to any other node keep asyncua's own rules.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from asyncua import ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AddressSpace, AttributeService

from twinbridge.aas.errors import NotFound, NotWritable, TwinError, WriteRejected
from twinbridge.aas.events import Origin
from twinbridge.aas.live import LiveElement
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.builder import ValueNode
from twinbridge.server.opcua.datatypes import status
from twinbridge.server.opcua.security import Rights

_log = logging.getLogger(__name__)
S = ua.StatusCodes

Echo = Callable[[ValueNode, LiveElement], Awaitable[None]]


class TwinAttributeService(AttributeService):
    def __init__(self, aspace: AddressSpace, twin: Twin, values: dict[ua.NodeId, ValueNode], rights: Rights,
                 echo: Echo) -> None:
        super().__init__(aspace)
        self._twin = twin
        self._values = values
        self._rights = rights
        self._echo = echo

    async def write(self, params: ua.WriteParameters, user: User = User(role=UserRole.Admin)) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for item in params.NodesToWrite:
            entry = self._values.get(item.NodeId) if item.AttributeId == ua.AttributeIds.Value else None
            if entry is None or user.role is UserRole.Admin:
                results.extend(await super().write(ua.WriteParameters(NodesToWrite=[item]), user))
            else:
                results.append(await self._write_value(entry, item, user))
        return results

    async def _write_value(self, entry: ValueNode, item: ua.WriteValue, user: User) -> ua.StatusCode:
        if not self._rights.may_write(user):
            return status(S.BadUserAccessDenied)
        codec = entry.codec
        if not entry.writable or codec is None:
            return status(S.BadNotWritable)
        if item.IndexRange:
            return status(S.BadWriteNotSupported)
        variant = item.Value.Value if item.Value is not None else None
        if variant is None or variant.Value is None or variant.is_array \
                or variant.VariantType != codec.variant_type:
            return status(S.BadTypeMismatch)
        try:
            value = codec.from_ua(variant.Value)
        except TypeError:
            return status(S.BadTypeMismatch)
        except (ValueError, OverflowError, ArithmeticError):
            return status(S.BadOutOfRange)
        try:
            handle = self._twin.live(entry.submodel_id, entry.path)
            await self._twin.write_value(handle, value, origin=Origin(user.name or user.role.name, "opcua"))
            await self._twin.persisted()
        except NotFound:
            return status(S.BadNodeIdUnknown)
        except NotWritable:
            return status(S.BadNotWritable)
        except WriteRejected:
            return status(S.BadTypeMismatch)
        except TwinError:
            return status(S.BadOutOfRange)
        except Exception:
            _log.exception("device write-back of %s#%s failed", entry.submodel_id, entry.path)
            return status(S.BadDeviceFailure)
        await self._echo(entry, handle)
        return status(S.Good)
