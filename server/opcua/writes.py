"""Client writes to mirrored values go through the twin's single write path.

asyncua would store a client's value straight into the node. This attribute service
intercepts writes to the Value of the mirror's computed Variables: it checks the user's
rights, the element's writability and the Variant's type, then awaits ``Twin.write_value``
(device write-back or a stored value change, so REST sees it at once) and its durability, so a
Good answer means the value survives a crash. The node shows the value when the twin holds it:
reads are computed from the twin. Errors answer from the one table in
``status_codes``. Writes to any other node keep asyncua's own rules.

Reads of ``UserAccessLevel`` and ``UserExecutable`` tell the session's user its real rights:
a user who may not write (anonymous, or ``rights: read``) sees no CurrentWrite bit and no
executable Method, instead of being offered a write that is then refused.
"""

from __future__ import annotations

import logging

from asyncua import ua
from asyncua.crypto.permission_rules import User, UserRole

from twinbridge.aas.errors import TwinError
from twinbridge.aas.events import Origin
from twinbridge.aas.twin import Twin
from twinbridge.server.opcua.compat_asyncua import AddressSpace, AttributeService
from twinbridge.server.opcua.datatypes import status
from twinbridge.server.opcua.element_nodes import ElementNodes, Slot
from twinbridge.server.opcua.ids import ParsedId
from twinbridge.server.opcua.methods import current_caller
from twinbridge.server.opcua.security import Rights
from twinbridge.server.opcua.status_codes import status_of

_log = logging.getLogger(__name__)
S = ua.StatusCodes


class TwinAttributeService(AttributeService):
    def __init__(self, aspace: AddressSpace, twin: Twin, elements: ElementNodes, rights: Rights) -> None:
        super().__init__(aspace)
        self._twin = twin
        self._elements = elements
        self._rights = rights
        self._origins: dict[str | None, Origin] = {}

    def _origin(self, user: User) -> Origin:
        """One Origin per user name (the event bus keeps them; a write must not allocate one)."""
        origin = self._origins.get(user.name)
        if origin is None:
            origin = self._origins[user.name] = Origin(user.name or user.role.name, "opcua")
        return origin

    def read(self, params: ua.ReadParameters) -> list[ua.DataValue]:
        results = super().read(params)
        user = current_caller()
        if user is None or self._rights.may_write(user):  # a server-side read, or a user who may write
            return results
        for index, item in enumerate(params.NodesToRead):
            found = results[index]
            if found.Value is None or found.Value.Value is None:
                continue
            if item.AttributeId == ua.AttributeIds.UserAccessLevel:
                level = int(found.Value.Value) & ~ua.AccessLevel.CurrentWrite.mask
                results[index] = ua.DataValue(ua.Variant(level, ua.VariantType.Byte), StatusCode=found.StatusCode)
            elif item.AttributeId == ua.AttributeIds.UserExecutable:
                results[index] = ua.DataValue(ua.Variant(False, ua.VariantType.Boolean), StatusCode=found.StatusCode)
        return results

    async def write(self, params: ua.WriteParameters, user: User = User(role=UserRole.Admin)) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for item in params.NodesToWrite:
            target = self._elements.value_slot(item.NodeId) \
                if item.AttributeId == ua.AttributeIds.Value and user.role is not UserRole.Admin else None
            if target is None:
                results.extend(await super().write(ua.WriteParameters(NodesToWrite=[item]), user))
            else:
                results.append(await self._write_value(*target, item, user))
        return results

    async def _write_value(self, where: ParsedId, slot: Slot, item: ua.WriteValue, user: User) -> ua.StatusCode:
        if not self._rights.may_write(user):
            return status(S.BadUserAccessDenied)
        codec = slot.codec
        if codec is None or where.shell:
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
            handle = self._twin.live(where.identifier, where.path)
            await self._twin.write_value(handle, value, origin=self._origin(user))
            await self._twin.persisted()
        except TwinError as error:
            return status_of(error)
        except Exception:
            _log.exception("device write-back of %s#%s failed", where.identifier, where.path)
            return status(S.BadDeviceFailure)
        return status(S.Good)
