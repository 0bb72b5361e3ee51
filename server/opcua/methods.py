"""AAS Operations as OPC UA Methods: each Operation node has an ``Invoke`` Method.

Arguments are the Operation's input (and in-out) variables in order, typed like the
Properties they are; outputs are the output (and in-out) variables. The implementation is
looked up in the shared ``OperationRegistry`` at call time, so REST ``/invoke`` and OPC UA
run the same code. Like REST ``/invoke``, calling needs write rights. The Method node itself
is computed with the Operation's node (``element_nodes``); this module makes its callable.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from asyncua import ua
from asyncua.crypto.permission_rules import User, UserRole
from basyx.aas import model

from twinbridge.aas.errors import TwinError
from twinbridge.aas.operations import OperationRegistry
from twinbridge.server.opcua.compat_asyncua import InternalServer, InternalSession, set_session_factory
from twinbridge.server.opcua.datatypes import Unrepresentable, codec_for, node_id, status, to_variant_value
from twinbridge.server.opcua.security import Rights
from twinbridge.server.opcua.status_codes import status_of

_log = logging.getLogger(__name__)
S = ua.StatusCodes
_BASE_DATA_TYPE = node_id(ua.ObjectIds.BaseDataType)
_CALLER: ContextVar[User | None] = ContextVar("opcua_method_caller", default=None)


class CallerSession(InternalSession):
    """A client session that makes its user known to Method callbacks and to the attribute
    service's reads (``UserAccessLevel`` is per user); asyncua passes it to neither."""

    async def call(self, params: list[ua.CallMethodRequest]) -> list[ua.CallMethodResult]:
        token = _CALLER.set(self.user)
        try:
            return await super().call(params)
        finally:
            _CALLER.reset(token)

    async def read(self, params: ua.ReadParameters) -> list[ua.DataValue]:
        token = _CALLER.set(self.user)
        try:
            return await super().read(params)
        finally:
            _CALLER.reset(token)


def current_caller() -> User | None:
    """The user of the session whose Method call or Read is running (None outside a client's request)."""
    return _CALLER.get()


def install_caller_sessions(iserver: InternalServer) -> None:
    """Create client sessions as ``CallerSession``s."""

    def create_session(name: str, user: User = User(role=UserRole.Anonymous),
                       external: bool = False) -> InternalSession:
        return CallerSession(iserver, iserver.aspace, iserver.subscription_service, name, user=user,
                             external=external)

    set_session_factory(iserver, create_session)


def inputs_of(operation: model.Operation) -> list[model.SubmodelElement]:
    return [*operation.input_variable, *operation.in_output_variable]


def outputs_of(operation: model.Operation) -> list[model.SubmodelElement]:
    return [*operation.output_variable, *operation.in_output_variable]


def argument(variable: model.SubmodelElement) -> ua.Argument:
    argument = ua.Argument()
    argument.Name = variable.id_short or ""
    argument.DataType = codec_for(variable.value_type).data_type if isinstance(variable, model.Property) \
        else _BASE_DATA_TYPE
    argument.ValueRank = -1
    argument.ArrayDimensions = []
    argument.Description = ua.LocalizedText(variable.id_short or "")
    return argument


class OperationMethod:
    """The callable behind one ``Invoke`` Method (a coroutine function: asyncua runs others in threads)."""

    def __init__(self, submodel_id: str, path: str, operation: model.Operation, registry: OperationRegistry | None,
                 rights: Rights) -> None:
        self._submodel_id = submodel_id
        self._path = path
        self._operation = operation
        self._registry = registry
        self._rights = rights
        self.inputs = inputs_of(operation)
        self.outputs = outputs_of(operation)

    async def invoke(self, _parent: ua.NodeId, *arguments: ua.Variant) -> ua.CallMethodResult | list[ua.Variant]:
        caller = _CALLER.get()
        if caller is not None and not self._rights.may_write(caller):
            return _failure(S.BadUserAccessDenied)
        implementation = self._registry.find(self._submodel_id, self._path, self._operation) \
            if self._registry is not None else None
        if implementation is None:
            return _failure(S.BadNotExecutable)
        if len(arguments) < len(self.inputs):
            return _failure(S.BadArgumentsMissing)
        if len(arguments) > len(self.inputs):
            return _failure(S.BadTooManyArguments)
        values, results = {}, []
        for variable, argument in zip(self.inputs, arguments, strict=True):
            code, value = _decode(variable, argument)
            results.append(status(code))
            values[variable.id_short or ""] = value
        if any(not result.is_good() for result in results):
            failure = _failure(S.BadInvalidArgument)
            failure.InputArgumentResults = results
            return failure
        try:
            produced = await implementation(values)
        except TwinError as error:
            _log.info("operation %s#%s refused: %s", self._submodel_id, self._path, error)
            return _failure(status_of(error).value)
        except Exception:
            _log.exception("operation %s#%s failed", self._submodel_id, self._path)
            return _failure(S.BadInternalError)
        outputs = []
        for variable in self.outputs:
            value = produced.get(variable.id_short or "")
            if isinstance(variable, model.Property):
                codec = codec_for(variable.value_type)
                try:
                    payload = to_variant_value(codec, value)
                except Unrepresentable:
                    return _failure(S.BadOutOfRange)
                outputs.append(ua.Variant(payload, codec.variant_type) if payload is not None else ua.Variant())
            else:
                outputs.append(ua.Variant(None if value is None else str(value), ua.VariantType.String))
        return outputs


def _decode(variable: model.SubmodelElement, argument: ua.Variant) -> tuple[int, Any]:
    if not isinstance(variable, model.Property):
        return S.Good, argument.Value
    codec = codec_for(variable.value_type)
    if argument.VariantType != codec.variant_type or argument.is_array:
        return S.BadTypeMismatch, None
    try:
        return S.Good, codec.from_ua(argument.Value)
    except TypeError:
        return S.BadTypeMismatch, None
    except (ValueError, OverflowError, ArithmeticError):
        return S.BadOutOfRange, None


def _failure(code: int) -> ua.CallMethodResult:
    result = ua.CallMethodResult()
    result.StatusCode = status(code)
    return result
