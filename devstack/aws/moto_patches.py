"""Three patches that make moto run this project's workflows. Written against moto 5.2.5.

Both replace methods on moto classes (process-wide, so they work for `mock_aws` and for a
`ThreadedMotoServer` in this process alike). `install()` is idempotent and refuses any other
moto version: the patched methods are internals that change between releases, so re-check
both patches (tests/devstack exercises each) before moving the pin.

1. Lambda invocations run the real handlers.
   With `{"lambda": {"use_docker": False}}` moto serves Invoke from
   `moto.awslambda_simple.models.LambdaSimpleBackend.invoke`, which only echoes the payload.
   The patch sends the call to the active `LambdaRuntime` instead. Both ways Step Functions calls
   Lambda end in that method (a boto3 Invoke through localhost:$MOTO_PORT):
   `"Resource": "arn:aws:states:::lambda:invoke"` with `Parameters.FunctionName`, and a function
   ARN as the Resource. A function error answers like Lambda: header
   `X-Amz-Function-Error: Unhandled` and body `{errorMessage, errorType, requestId, stackTrace}`,
   which moto's interpreter turns into the state's error name = `errorType` (so Retry/Catch on a
   handler's exception class name work). A name the runtime does not know is a 404
   ResourceNotFoundException, as on AWS (never moto's silent echo).

2. `arn:aws:states:::states:startExecution(.sync|.sync:2)` works.
   moto's `StateTaskServiceSfn` hands the ASL's PascalCase Parameters straight to boto3 (which
   wants `stateMachineArn`, `input`, `name`) and boto3's camelCase answers (with `datetime`
   values) back to the ASL, so the task fails with `States.Runtime` ('StateMachineArn'). The
   patch translates both ways: parameter keys get a lower-case first letter, answer keys an
   upper-case one, datetimes become epoch milliseconds as AWS returns them. Only top-level keys:
   `Input`/`Output` are the child's own JSON and keep their keys.

3. `SendTaskFailure` keeps its `cause`.
   `moto.stepfunctions.responses.StepFunctionResponse.send_task_failure` passes the error and
   drops the cause, so a callback task's execution fails with `cause: ""` where AWS shows the
   cause sent (the refund poller's fixed sentence per named failure). The patch passes both.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, Final

import moto
from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.responses import EmptyResult
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (  # noqa: E501
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.responses import StepFunctionResponse

from devstack.aws.errors import LocalAwsError
from devstack.aws.lambdas import LambdaRuntime

MOTO_VERSION: Final = "5.2.5"

_lock = threading.Lock()
_installed = False
_runtime: LambdaRuntime | None = None
_original_invoke: Final = LambdaSimpleBackend.invoke


def install() -> None:
    """Apply the patches once (later calls do nothing)."""
    global _installed
    with _lock:
        if _installed:
            return
        if moto.__version__ != MOTO_VERSION:
            raise LocalAwsError(
                f"devstack.aws.moto_patches was written against moto {MOTO_VERSION} and this "
                f"environment has moto {moto.__version__}: install moto[server]=={MOTO_VERSION} "
                "or re-check the patches (see the module docstring) before changing the pin"
            )
        setattr(LambdaSimpleBackend, "invoke", _invoke)  # noqa: B010 - mypy forbids method assignment
        setattr(StateTaskServiceSfn, "_normalise_parameters", _normalise_parameters)  # noqa: B010
        setattr(StateTaskServiceSfn, "_normalise_response", _normalise_response)  # noqa: B010
        setattr(StateTaskServiceSfn, "_eval_service_task", _eval_service_task)  # noqa: B010
        setattr(StepFunctionResponse, "send_task_failure", _send_task_failure)  # noqa: B010
        _installed = True


def set_runtime(runtime: LambdaRuntime | None) -> None:
    """Route Lambda invocations to `runtime` (None: back to moto's echo)."""
    global _runtime
    _runtime = runtime


def active_runtime() -> LambdaRuntime | None:
    """The runtime invocations currently go to."""
    return _runtime


# ---------------------------------------------------------------------- 1. Lambda


def _invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    runtime = _runtime
    if runtime is None:
        return _original_invoke(self, function_name, qualifier, body, headers, response_headers)
    if runtime.lookup(function_name) is None:
        raise UnknownFunctionException(function_name)
    event_json = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
    invocation_type = headers.get("X-Amz-Invocation-Type") if headers else None
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        # Asynchronous invoke: Lambda accepts (202) and runs it later.
        threading.Thread(
            target=runtime.invoke_json, args=(function_name, event_json), daemon=True
        ).start()
        return b""
    result = runtime.invoke_json(function_name, event_json)
    if not result.ok:
        response_headers["x-amz-function-error"] = "Unhandled"
    return result.response_body()


# ---------------------------------------------------------------------- 2. Step Functions


def _lower_first(key: str) -> str:
    return key[:1].lower() + key[1:]


def _upper_first(key: str) -> str:
    return key[:1].upper() + key[1:]


def _millis(value: Any) -> Any:
    return int(value.timestamp() * 1000) if isinstance(value, dt.datetime) else value


def _to_asl(response: dict[str, Any]) -> dict[str, Any]:
    return {_upper_first(key): _millis(value) for key, value in response.items()}


def _normalise_parameters(
    self: StateTaskServiceSfn,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    # moto's own step first: it turns a JSON Input into the string StartExecution takes.
    _ORIGINAL_SFN["_normalise_parameters"](self, parameters, boto_service_name, service_action_name)
    for key in list(parameters):
        parameters[_lower_first(key)] = parameters.pop(key)


def _normalise_response(
    self: StateTaskServiceSfn,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    if isinstance(response, dict):
        converted = _to_asl(response)
        response.clear()
        response.update(converted)


def _eval_service_task(
    self: StateTaskServiceSfn,
    env: Any,
    resource_runtime_part: Any,
    normalised_parameters: dict[str, Any],
    state_credentials: Any,
) -> None:
    client = boto_client_for(
        region=resource_runtime_part.region,
        service=self._get_boto_service_name(),
        state_credentials=state_credentials,
    )
    response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
    response.pop("ResponseMetadata", None)
    # The .sync:2 resolver reads `ExecutionArn` from this answer, so it must be ASL-cased too.
    env.stack.append(_to_asl(response))


_ORIGINAL_SFN: Final[dict[str, Any]] = {
    name: getattr(StateTaskServiceSfn, name)
    for name in ("_normalise_parameters", "_normalise_response", "_eval_service_task")
}


def _send_task_failure(self: StepFunctionResponse) -> Any:
    # (The parser backend's method takes the cause; moto's stub types do not say so.)
    backend: Any = self.stepfunction_backend
    backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()
