"""One Lambda execution environment: imports one handler and runs the invocations it is sent.

Started by `devstack.aws.lambdas` as `python _worker.py <fd>`, with the function's environment
already in os.environ. It speaks length-prefixed JSON frames over the inherited socket `fd`, so
stdout and stderr stay the function's own (logs go straight to the terminal). Standard library
only, and it removes its own directory from sys.path, so nothing of the dev tooling is
importable by the handler that a deployed function would not see either.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct(">I")
Handler = Callable[[Any, Any], Any]


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    """Write one frame."""
    data = json.dumps(message).encode("utf-8")
    sock.sendall(_HEADER.pack(len(data)) + data)


def recv(sock: socket.socket) -> dict[str, Any] | None:
    """Read one frame; None when the other side has closed the socket."""
    header = _read_exact(sock, _HEADER.size)
    if header is None:
        return None
    body = _read_exact(sock, _HEADER.unpack(header)[0])
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks.extend(chunk)
    return bytes(chunks)


class LambdaContext:
    """The context object the AWS Python runtime passes to a handler."""

    def __init__(self, init: dict[str, Any], request_id: str, deadline: float) -> None:
        self.function_name: str = init["function_name"]
        self.function_version: str = "$LATEST"
        self.invoked_function_arn: str = init["function_arn"]
        self.memory_limit_in_mb: int = int(init["memory_mb"])
        self.aws_request_id = request_id
        self.log_group_name: str = init["log_group_name"]
        self.log_stream_name: str = init["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's Timeout, as Lambda counts them."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(
    exc: BaseException, error_type: str | None = None, message: str | None = None, skip: int = 0
) -> dict[str, Any]:
    # The shape (and errorType = the exception class name) of the AWS Python runtime's answer;
    # `skip` drops this module's own frames so the trace starts in the user's code.
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc) if message is None else message,
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[skip:]),
    }


def load_handler(spec: str) -> tuple[Handler | None, dict[str, Any] | None]:
    """Import `module.function` as the Lambda runtime does: (handler, None) or (None, error)."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError:
        return None, {
            "errorType": "Runtime.MalformedHandlerName",
            "errorMessage": f"Bad handler '{spec}': not enough values to unpack",
            "stackTrace": [],
        }
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, _error(
            exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    except SyntaxError as exc:
        return None, _error(
            exc, "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        )
    except Exception as exc:  # what the runtime reports for any other failure at import time
        return None, _error(exc)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, {
            "errorType": "Runtime.HandlerNotFound",
            "errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
            "stackTrace": [],
        }
    return handler, None


def _decimal_default(value: Any) -> Any:
    # The AWS runtime serializes Decimal (what boto3's DynamoDB types give) as a number.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def run_invocation(
    handler: Handler, init: dict[str, Any], message: dict[str, Any]
) -> dict[str, Any]:
    """Run one invocation; the reply frame."""
    deadline = time.monotonic() + float(init["timeout"])
    context = LambdaContext(init, message["request_id"], deadline)
    try:
        event = json.loads(message["event"]) if message["event"] else {}
        result = handler(event, context)
    except Exception as exc:
        return {"error": _error(exc, skip=1)}
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        return {"payload": json.dumps(result, default=_decimal_default)}
    except (TypeError, ValueError) as exc:
        return {"error": _error(exc, "Runtime.MarshalError", f"Unable to marshal response: {exc}")}


def main() -> None:
    """Serve invocations until the parent closes the socket."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    init = recv(sock)
    if init is None:
        return
    # Lambda's import path: the function's code (/var/task), its layers (/opt/python), then the
    # runtime's own; this script's directory is dropped so dev modules never shadow user ones.
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if p and os.path.abspath(p) != here]
    sys.path[:] = [init["code_dir"], *init["layer_dirs"], *rest]
    handler, init_error = load_handler(init["handler"])
    send(sock, {"init_error": init_error})
    if handler is None:
        return  # Lambda throws away a sandbox whose init failed; the next call starts afresh
    while (message := recv(sock)) is not None:
        send(sock, run_invocation(handler, init, message))


if __name__ == "__main__":
    main()
