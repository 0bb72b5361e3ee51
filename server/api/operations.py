"""Operation invocation: ``.../submodel-elements/{idShortPath}/invoke`` (sync, async, ValueOnly).

Implementations come from the app's ``Services.operations`` (``aas.operations.OperationRegistry``): they
receive the input and in-out variables by idShort (a Property as its Python value, any other
element as its ValueOnly JSON) and return the output and in-out values by idShort. Declared
input variables that carry a value act as defaults. An Operation without an implementation is
answered 404 (the status Part 2 lists for InvokeOperation when the target cannot be found),
with a text saying that the element exists but nothing executes it.

``clientTimeoutDuration`` (xs:duration) bounds the execution: past it the result is
``executionState: Timeout``. Async invocations run as asyncio tasks; their status and results
stay queryable by handle (the most recent ``_KEPT_JOBS``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import orjson
from basyx.aas import model
from fastapi import Request
from fastapi.responses import Response

from twinbridge.aas import compat_basyx
from twinbridge.aas.documents import to_jsonable
from twinbridge.aas.errors import InvalidInput, NotFound
from twinbridge.aas.operations import OperationImpl
from twinbridge.aas.value_only import apply_value, parse_property_value, to_value
from twinbridge.server.api.auth import ReadAccess, WriteAccess
from twinbridge.server.api.bodies import json_response, load_json, parse_body
from twinbridge.server.api.ids import encode_id
from twinbridge.server.api.results import ApiError, timestamp
from twinbridge.server.api.scope import Scope, ScopeDep, ScopedRoutes
from twinbridge.server.api.services import services_of

scoped = ScopedRoutes("Submodel API: operations")
routers = scoped.routers

_OPERATION = "/submodel-elements/{idShortPath}"
_KEPT_JOBS = 1000
_REQUEST_FIELDS = ("inputArguments", "inoutputArguments", "clientTimeoutDuration")
_SECONDS = {"years": 365 * 86400, "months": 30 * 86400, "days": 86400, "hours": 3600, "minutes": 60,
            "seconds": 1, "microseconds": 1e-6}


@dataclass
class Invocation:
    """A validated request: inputs for the implementation, how long it may take, how to answer."""

    operation: model.Operation
    implementation: OperationImpl
    inputs: dict[str, Any]
    timeout: float | None


@dataclass
class Outcome:
    state: str = "Running"
    outputs: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.state != "Running"


@dataclass
class Job:
    submodel_id: str
    path: str
    invocation: Invocation
    outcome: Outcome = field(default_factory=Outcome)
    task: asyncio.Task[None] | None = None


# ----------------------------------------------------------- request side
def _operation(scope: Scope, path: str) -> model.Operation:
    twin, submodel_id = scope
    element = twin.element(submodel_id, path)
    if not isinstance(element, model.Operation):
        raise ApiError(400, f"{path} is a {type(element).__name__}, not an Operation")
    return element


def _implementation(request: Request, submodel_id: str, path: str, operation: model.Operation) -> OperationImpl:
    registry = services_of(request).operations
    implementation = registry.find(submodel_id, path, operation)
    if implementation is None:
        raise NotFound(f"the Operation {path} exists but this server has no implementation registered for it")
    return implementation


def _timeout(raw: Any) -> float | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidInput("clientTimeoutDuration must be an xs:duration string such as 'PT30S'")
    try:
        duration = model.datatypes.from_xsd(raw, model.datatypes.Duration)
    except ValueError:
        raise InvalidInput(f"clientTimeoutDuration {raw!r} is not an xs:duration (e.g. 'PT30S')") from None
    seconds = sum(getattr(duration, unit) * factor for unit, factor in _SECONDS.items())
    if seconds <= 0:
        raise InvalidInput(f"clientTimeoutDuration {raw!r} must be positive")
    return float(seconds)


def _declared(operation: model.Operation) -> dict[str, model.SubmodelElement]:
    variables = {**{v.id_short: v for v in operation.input_variable},
                 **{v.id_short: v for v in operation.in_output_variable}}
    return {name: variable for name, variable in variables.items() if name is not None}


def _argument_value(element: model.SubmodelElement) -> Any:
    return element.value if isinstance(element, model.Property) else to_value(element, with_blob=True)


def _full_arguments(data: dict[str, Any], declared: dict[str, model.SubmodelElement]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for key in ("inputArguments", "inoutputArguments"):
        variables = data.get(key, [])
        if not isinstance(variables, list):
            raise InvalidInput(f"{key} must be an array of OperationVariables ({{\"value\": SubmodelElement}})")
        for index, variable in enumerate(variables):
            if not isinstance(variable, dict) or "value" not in variable:
                raise InvalidInput(f"{key}[{index}] must be an OperationVariable: {{\"value\": SubmodelElement}}")
            try:
                element = parse_body(orjson.dumps(variable["value"]), model.SubmodelElement)  # type: ignore[type-abstract]
            except ApiError as error:
                raise InvalidInput(f"{key}[{index}]: {error.text}") from None
            name = element.id_short or ""
            expected = declared.get(name)
            if expected is None:
                raise InvalidInput(f"{key}[{index}]: the operation has no input variable {name!r}")
            if type(expected) is not type(element):
                raise InvalidInput(f"{key}[{index}]: {name} is declared as {type(expected).__name__}, "
                                   f"got a {type(element).__name__}")
            if isinstance(expected, model.Property) and isinstance(element, model.Property) \
                    and expected.value_type is not element.value_type:
                raise InvalidInput(f"{key}[{index}]: {name} is declared with another valueType")
            inputs[name] = _argument_value(element)
    return inputs


def _value_only_arguments(data: dict[str, Any], declared: dict[str, model.SubmodelElement]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for key in ("inputArguments", "inoutputArguments"):
        values = data.get(key, {})
        if not isinstance(values, dict):
            raise InvalidInput(f"{key} must be an object of values by idShort")
        for name, value in values.items():
            expected = declared.get(name)
            if expected is None:
                raise InvalidInput(f"{key}: the operation has no input variable {name!r}")
            if isinstance(expected, model.Property):
                inputs[name] = parse_property_value(value, expected.value_type, f"{key}.{name}")
            else:
                apply_value(_fresh(expected), value, f"{key}.{name}")  # validates the shape only
                inputs[name] = value
    return inputs


def _invocation(request: Request, scope: Scope, path: str, body: bytes, value_only: bool) -> Invocation:
    operation = _operation(scope, path)
    implementation = _implementation(request, scope.submodel_id, path, operation)
    data = load_json(body, "an OperationRequest") if body.strip() else {}
    if not isinstance(data, dict):
        raise InvalidInput("the body must be an OperationRequest JSON object")
    unknown = sorted(set(data) - set(_REQUEST_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown OperationRequest field(s) {unknown}; the fields are {list(_REQUEST_FIELDS)}")
    declared = _declared(operation)
    given = _value_only_arguments(data, declared) if value_only else _full_arguments(data, declared)
    inputs: dict[str, Any] = {}
    for name, variable in declared.items():
        if name in given:
            inputs[name] = given[name]
        elif isinstance(variable, model.Property) and variable.value is not None:
            inputs[name] = variable.value
        elif not isinstance(variable, model.Property):
            inputs[name] = to_value(variable, with_blob=True)
        else:
            raise InvalidInput(f"input variable {name!r} is required (it has no default value)")
    return Invocation(operation, implementation, inputs, _timeout(data.get("clientTimeoutDuration")))


# ----------------------------------------------------------- execution
async def _execute(invocation: Invocation, outcome: Outcome) -> None:
    try:
        returned = await asyncio.wait_for(invocation.implementation(dict(invocation.inputs)), invocation.timeout)
        if not isinstance(returned, dict):
            raise TypeError(f"the implementation returned {type(returned).__name__}, not a dict by idShort")
        outcome.outputs = returned
        outcome.state = "Completed"
    except TimeoutError:
        outcome.state = "Timeout"
        outcome.messages.append(_message("Error", f"the operation did not finish within {invocation.timeout} s"))
    except Exception as error:  # the implementation's failure is reported to the client, not raised
        outcome.state = "Failed"
        outcome.messages.append(_message("Error", f"{type(error).__name__}: {error}"))


def _message(kind: str, text: str) -> dict[str, str]:
    return {"messageType": kind, "text": text, "timestamp": timestamp()}


def _fresh(variable: model.SubmodelElement) -> model.SubmodelElement:
    """A parentless copy of a declared variable, to carry an output value."""
    copy: model.SubmodelElement = json.loads(json.dumps(to_jsonable(variable)), cls=compat_basyx.StrictDecoder)
    return copy


def _output(variable: model.SubmodelElement, value: Any, value_only: bool) -> Any:
    element = _fresh(variable)
    where = f"output {variable.id_short}"
    if isinstance(element, model.Property):
        already_typed = isinstance(value, element.value_type) and (
            element.value_type is bool or not isinstance(value, bool))
        element.value = value if already_typed else parse_property_value(value, element.value_type, where)
    else:
        apply_value(element, value, where)
    return to_value(element, with_blob=True) if value_only else {"value": to_jsonable(element)}


def _result(invocation: Invocation, outcome: Outcome, value_only: bool) -> dict[str, Any]:
    operation = invocation.operation
    outputs: Any = {} if value_only else []
    inoutputs: Any = {} if value_only else []
    messages = list(outcome.messages)
    success = outcome.state == "Completed"
    if success:
        try:
            for variables, target in ((operation.output_variable, outputs),
                                      (operation.in_output_variable, inoutputs)):
                for variable in variables:
                    if variable.id_short not in outcome.outputs:
                        continue
                    rendered = _output(variable, outcome.outputs[variable.id_short], value_only)
                    if value_only:
                        target[variable.id_short] = rendered
                    else:
                        target.append(rendered)
            known = {v.id_short for v in operation.output_variable} | {v.id_short for v in operation.in_output_variable}
            unknown = sorted(set(outcome.outputs) - known)
            if unknown:
                raise InvalidInput(f"the implementation returned undeclared outputs {unknown}")
        except InvalidInput as error:
            success = False
            messages.append(_message("Error", f"the implementation's result is invalid: {error}"))
            outputs, inoutputs = ({}, {}) if value_only else ([], [])
    state = outcome.state if success or outcome.state != "Completed" else "Failed"
    return {"executionState": state, "success": success, "messages": messages,
            "outputArguments": outputs, "inoutputArguments": inoutputs}


# ---------------------------------------------------------------- routes
def _jobs(request: Request) -> OrderedDict[str, Job]:
    return services_of(request).jobs


async def _invoke(request: Request, scope: Scope, path: str, value_only: bool) -> Response:
    invocation = _invocation(request, scope, path, await request.body(), value_only)
    outcome = Outcome()
    await _execute(invocation, outcome)
    return json_response(_result(invocation, outcome, value_only))


async def _invoke_async(request: Request, scope: Scope, path: str, value_only: bool) -> Response:
    invocation = _invocation(request, scope, path, await request.body(), value_only)
    job = Job(scope.submodel_id, path, invocation)
    job.task = asyncio.get_running_loop().create_task(_execute(invocation, job.outcome))
    jobs = _jobs(request)
    handle = secrets.token_urlsafe(12)
    jobs[handle] = job
    while len(jobs) > _KEPT_JOBS:
        oldest = next(iter(jobs))
        if not jobs[oldest].outcome.done:
            break
        del jobs[oldest]
    location = f"{request.url.path.rsplit('/invoke-async', 1)[0]}/operation-status/{handle}"
    return json_response({"handleId": handle}, 202, headers={"Location": location})


def _job(request: Request, scope: Scope, path: str, handle: str) -> Job:
    job = _jobs(request).get(handle)
    if job is None or job.submodel_id != scope.submodel_id or job.path != path:
        raise NotFound(f"no invocation {handle!r} of {path} in submodel {encode_id(scope.submodel_id)}")
    return job


@scoped.route(_OPERATION + "/invoke", ["POST"], dependencies=[WriteAccess])
async def invoke(request: Request, scope: ScopeDep, idShortPath: str) -> Response:
    return await _invoke(request, scope, idShortPath, value_only=False)


@scoped.route(_OPERATION + "/invoke/$value", ["POST"], dependencies=[WriteAccess])
async def invoke_value(request: Request, scope: ScopeDep, idShortPath: str) -> Response:
    return await _invoke(request, scope, idShortPath, value_only=True)


@scoped.route(_OPERATION + "/invoke-async", ["POST"], status_code=202, dependencies=[WriteAccess])
async def invoke_async(request: Request, scope: ScopeDep, idShortPath: str) -> Response:
    return await _invoke_async(request, scope, idShortPath, value_only=False)


@scoped.route(_OPERATION + "/invoke-async/$value", ["POST"], status_code=202, dependencies=[WriteAccess])
async def invoke_async_value(request: Request, scope: ScopeDep, idShortPath: str) -> Response:
    return await _invoke_async(request, scope, idShortPath, value_only=True)


@scoped.route(_OPERATION + "/operation-status/{handleId}", ["GET"], dependencies=[ReadAccess])
async def operation_status(request: Request, scope: ScopeDep, idShortPath: str, handleId: str) -> Response:
    """The state of an async invocation (200 with the state, also once it is done)."""
    outcome = _job(request, scope, idShortPath, handleId).outcome
    body: dict[str, Any] = {"executionState": outcome.state, "messages": list(outcome.messages)}
    if outcome.done:
        body["success"] = outcome.state == "Completed"
    return json_response(body)


@scoped.route(_OPERATION + "/operation-results/{handleId}", ["GET"], dependencies=[ReadAccess])
async def operation_results(request: Request, scope: ScopeDep, idShortPath: str, handleId: str) -> Response:
    job = _job(request, scope, idShortPath, handleId)
    return json_response(_result(job.invocation, job.outcome, value_only=False))


@scoped.route(_OPERATION + "/operation-results/{handleId}/$value", ["GET"], dependencies=[ReadAccess])
async def operation_results_value(request: Request, scope: ScopeDep, idShortPath: str, handleId: str) -> Response:
    job = _job(request, scope, idShortPath, handleId)
    return json_response(_result(job.invocation, job.outcome, value_only=True))
