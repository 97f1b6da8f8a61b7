"""A local Lambda runtime: each function runs in its own warm worker process.

A worker is the function's execution environment: its own interpreter, its own os.environ (the
function's resolved environment over a base that points boto3 at the emulator), sys.path =
[CodeUri, layers..., runtime], and the handler imported as Lambda imports it. So two functions
whose modules are both `app` never collide, and module-level caches (clients, secrets,
settings) live and die with the worker, as they do in a Lambda sandbox.

Workers start on first invoke and stay warm. A handler that exceeds its Timeout is killed and
reported as `Sandbox.Timedout`; a worker that dies is reported as `Runtime.ExitError` and
restarted on the next call. Invocations of one function are serialized (one sandbox each).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from devstack.aws import _worker
from devstack.aws.iam_calls import caller_key
from devstack.aws.template import REGION, Function

_WORKER_SCRIPT = Path(_worker.__file__).resolve()
# Variables of the developer's shell that must not reach a function: real credentials, profiles,
# endpoints and Powertools settings would make a local run differ from the template's.
_STRIPPED_PREFIXES = ("AWS_", "POWERTOOLS_", "_X_AMZN", "LAMBDA_", "_HANDLER")
FAKE_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class InvokeResult:
    """What one invocation returned: a JSON payload, or the runtime's error."""

    request_id: str
    payload_json: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    stack_trace: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the handler returned (no function error)."""
        return self.error_type is None

    @property
    def payload(self) -> Any:
        """The handler's return value, decoded from JSON (None for an error)."""
        return None if self.payload_json is None else json.loads(self.payload_json)

    def error_document(self) -> dict[str, Any]:
        """The error body Lambda's Invoke API returns with `X-Amz-Function-Error`."""
        return {
            "errorMessage": self.error_message,
            "errorType": self.error_type,
            "requestId": self.request_id,
            "stackTrace": list(self.stack_trace),
        }

    def response_body(self) -> bytes:
        """The Invoke API response body: the payload, or the error document."""
        text = self.payload_json if self.ok else json.dumps(self.error_document())
        return (text or "null").encode("utf-8")


def _error_result(request_id: str, error: Mapping[str, Any]) -> InvokeResult:
    return InvokeResult(
        request_id=request_id,
        error_type=str(error["errorType"]),
        error_message=str(error["errorMessage"]),
        stack_trace=tuple(error.get("stackTrace") or ()),
    )


class _Worker:
    """One function's execution environment (a subprocess) and the channel to it."""

    def __init__(self, function: Function, env: Mapping[str, str], init_timeout: float) -> None:
        self.function = function
        self._env = dict(env)
        self._init_timeout = init_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self.lock = threading.Lock()
        self.starts = 0

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _start(self, request_id: str) -> InvokeResult | None:
        """Start the process and import the handler; an error result if init failed."""
        parent, child = socket.socketpair()
        f = self.function
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
                [sys.executable, str(_WORKER_SCRIPT), str(child.fileno())],
                env=self._env,
                cwd=f.code_dir,
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                # Its own session: a Ctrl-C in the terminal reaches the stack, which stops workers,
                # instead of interrupting handlers mid-call.
                start_new_session=True,
            )
        except OSError:  # e.g. a CodeUri that does not exist: say so, leak nothing
            parent.close()
            raise
        finally:
            child.close()
        self._sock = parent
        self.starts += 1
        try:
            _worker.send(
                parent,
                {
                    "handler": f.handler,
                    "code_dir": str(f.code_dir),
                    "layer_dirs": [str(d) for d in f.layer_dirs],
                    "function_name": f.name,
                    "function_arn": f.arn,
                    "memory_mb": f.memory_mb,
                    "timeout": f.timeout,
                    "log_group_name": f"/aws/lambda/{f.name}",
                    "log_stream_name": f"local/{self.starts}",
                },
            )
            ready = self._recv(time.monotonic() + self._init_timeout)
        except TimeoutError:
            self.stop()
            return InvokeResult(
                request_id=request_id,
                error_type="Sandbox.Timedout",
                error_message=f"Init phase timed out after {self._init_timeout:.2f} seconds",
            )
        except OSError:
            return self._exited(request_id)
        if ready["init_error"] is not None:
            self.stop()
            return _error_result(request_id, ready["init_error"])
        return None

    def invoke(self, event_json: str) -> InvokeResult:
        """Run one invocation (callers hold `lock`)."""
        request_id = str(uuid.uuid4())
        if not self.alive:
            self.stop()
            failed = self._start(request_id)
            if failed is not None:
                return failed
        timeout = float(self.function.timeout)
        try:
            _worker.send(self._channel(), {"request_id": request_id, "event": event_json})
            reply = self._recv(time.monotonic() + timeout)
        except TimeoutError:
            self.stop()
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            return InvokeResult(
                request_id=request_id,
                error_type="Sandbox.Timedout",
                error_message=f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds",
            )
        except OSError:  # the worker died mid-call (or was killed by close())
            return self._exited(request_id)
        if "error" in reply:
            return _error_result(request_id, reply["error"])
        return InvokeResult(request_id=request_id, payload_json=reply["payload"])

    def _exited(self, request_id: str) -> InvokeResult:
        code = self._process.wait(timeout=5) if self._process is not None else None
        self.stop()
        status = f"signal: {-code}" if code is not None and code < 0 else f"exit status {code}"
        return InvokeResult(
            request_id=request_id,
            error_type="Runtime.ExitError",
            error_message=f"RequestId: {request_id} Error: Runtime exited with error: {status}",
        )

    def _channel(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionError("worker not running")
        return self._sock

    def _recv(self, deadline: float) -> dict[str, Any]:
        header = self._read_exact(_worker._HEADER.size, deadline)
        body = self._read_exact(_worker._HEADER.unpack(header)[0], deadline)
        message: dict[str, Any] = json.loads(body)
        return message

    def _read_exact(self, size: int, deadline: float) -> bytes:
        sock = self._channel()
        data = bytearray()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("worker closed the channel")
            data.extend(chunk)
        return bytes(data)

    def kill(self) -> None:
        """Kill the process now, even mid-call (the caller then sees Runtime.ExitError)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def stop(self) -> None:
        """Kill the process (if any) and close the channel (callers hold `lock`)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None


class LambdaRuntime:
    """Runs registered functions in their own worker processes."""

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str = REGION,
        env_overrides: Mapping[str, str] | None = None,
        init_timeout: float = 30.0,
    ) -> None:
        """`endpoint_url`: where the functions' boto3 clients go (the emulator), if anywhere.

        `env_overrides` win over every function's template environment (like
        `sam local --env-vars`). `init_timeout` bounds a cold start's imports; it is longer
        than Lambda's 10 s because a busy test machine imports slowly.
        """
        self.endpoint_url = endpoint_url
        self.region = region
        self._env_overrides = dict(env_overrides or {})
        self._init_timeout = init_timeout
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ registry

    def register(self, function: Function) -> None:
        """Make `function` invokable (by logical id, name or ARN); replaces a previous one."""
        with self._lock:
            old = self._workers.pop(function.name, None)
            self._workers[function.name] = _Worker(
                function, self.environment_for(function), self._init_timeout
            )
        if old is not None:
            with old.lock:
                old.stop()

    @property
    def functions(self) -> dict[str, Function]:
        """Registered functions by physical name."""
        with self._lock:
            return {name: worker.function for name, worker in self._workers.items()}

    def lookup(self, function_name_or_arn: str) -> Function | None:
        """The registered function a name, logical id, full or partial ARN refers to."""
        return worker.function if (worker := self._worker(function_name_or_arn)) else None

    def _worker(self, key: str) -> _Worker | None:
        name = _short_name(key)
        with self._lock:
            if name in self._workers:
                return self._workers[name]
            return next((w for w in self._workers.values() if w.function.logical_id == name), None)

    def environment_for(self, function: Function) -> dict[str, str]:
        """The os.environ a function's worker starts with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_STRIPPED_PREFIXES)}
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        env.update(function.environment)
        env.update(self._env_overrides)
        # What Lambda itself sets (a template cannot override these reserved variables). The
        # access key names the function, so its calls are checked against its role (iam_calls).
        env.update(FAKE_CREDENTIALS)
        env["AWS_ACCESS_KEY_ID"] = caller_key(function.logical_id)
        env.update(
            {
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
                "LAMBDA_TASK_ROOT": str(function.code_dir),
                "_HANDLER": function.handler,
                "TZ": ":UTC",
                "PYTHONUNBUFFERED": "1",
                # Never the developer's ~/.aws: its region or endpoint settings would leak in.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        if self.endpoint_url:
            # The template may point a service at real AWS (AWS_ENDPOINT_URL_<SERVICE>, which
            # beats AWS_ENDPOINT_URL); locally every client must reach the emulator.
            for key in env:
                if key.startswith("AWS_ENDPOINT_URL_"):
                    env[key] = self.endpoint_url
        # No X-Ray daemon runs here; the template turns tracing on for AWS.
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
        return env

    # ------------------------------------------------------------------ invoking

    def invoke(self, function_name_or_arn: str, event: Any = None) -> InvokeResult:
        """Invoke a function with a JSON-serializable event and wait for its answer."""
        return self.invoke_json(function_name_or_arn, json.dumps({} if event is None else event))

    def invoke_json(self, function_name_or_arn: str, event_json: str) -> InvokeResult:
        """Invoke with an event already serialized (what the Invoke API receives)."""
        worker = self._worker(function_name_or_arn)
        if worker is None:
            raise KeyError(f"function not registered: {function_name_or_arn}")
        with worker.lock:
            return worker.invoke(event_json)

    def cold_starts(self, function_name_or_arn: str) -> int:
        """How many times the function's worker has been started."""
        worker = self._worker(function_name_or_arn)
        if worker is None:
            raise KeyError(f"function not registered: {function_name_or_arn}")
        return worker.starts

    def stop(self, function_name_or_arn: str | None = None) -> None:
        """Stop one function's worker (or all): the next call is a cold start."""
        with self._lock:
            workers = list(self._workers.values())
        target = None
        if function_name_or_arn is not None:
            target = self._worker(function_name_or_arn)
            if target is None:
                raise KeyError(f"function not registered: {function_name_or_arn}")
        for worker in workers:
            if target is None or worker is target:
                worker.kill()  # first, so a call in progress does not hold the lock till timeout
                with worker.lock:
                    worker.stop()

    def close(self) -> None:
        """Stop every worker."""
        self.stop()


def _short_name(function_name: str) -> str:
    """`name`, `name:qualifier`, `arn:...:function:name[:qualifier]`, `acct:function:name`."""
    parts = function_name.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]
