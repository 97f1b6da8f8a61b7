"""Every AWS call the template's functions, its state machine and its pipe make locally, as IAM
would see it: who called, which action, on which resource ARN, with which condition keys.

The local endpoint (moto's server) runs behind `CallRecorder`, a WSGI middleware. The caller is
read from the request's SigV4 credential: each function's worker and each pipe signs with an
access key naming its own logical id (`caller_key`), and moto's Step Functions interpreter with
its own ("ak"), so a call is the template's resource's or nobody's (the tests' own clients are
not recorded). `devstack.iam_check` evaluates the records against the roles of SAM's transform.

With REFUND_IAM_CALL_LOG set to a directory, each process appends its distinct calls there
(`<pid>.jsonl`), so a whole test run, end-to-end tests and `make demo` are checked together.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, unquote

CALL_LOG_ENV: Final = "REFUND_IAM_CALL_LOG"
_KEY_PREFIX: Final = "LOCALCALLER"
# moto's Step Functions interpreter signs its tasks' calls with this access key.
STATE_MACHINE_KEY: Final = "ak"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


def caller_key(logical_id: str) -> str:
    """The access key a template resource signs its local calls with."""
    return f"{_KEY_PREFIX}{logical_id}"


def caller_of(access_key: str) -> str | None:
    if access_key == STATE_MACHINE_KEY:
        return STATE_MACHINE_KEY
    return access_key.removeprefix(_KEY_PREFIX) if access_key.startswith(_KEY_PREFIX) else None


@dataclass(frozen=True)
class Call:
    """One authorization IAM would make: `caller` (a logical id of the template, or "ak" for
    a state machine's task), `action`, `resource` (an ARN), condition keys it brings."""

    caller: str
    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def key(self) -> str:
        return json.dumps(asdict(self) | {"context": dict(self.context)}, sort_keys=True)


SecretArnLookup = Callable[[str], str]  # a secret's name -> its ARN (moto's backend)


@dataclass
class _Scope:
    region: str
    account: str
    secret_arn: SecretArnLookup
    streams: dict[str, str] = field(default_factory=dict)  # caller -> last stream ARN read


class CallRecorder:
    """WSGI middleware around moto's app: records, then lets the request through unchanged."""

    def __init__(self, app: Any, *, region: str, account: str, secret_arn: SecretArnLookup) -> None:
        self._app = app
        self._scope = _Scope(region, account, secret_arn)
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self.calls: list[Call] = []
        directory = os.environ.get(CALL_LOG_ENV)
        self._log = Path(directory) / f"{os.getpid()}.jsonl" if directory else None
        if self._log is not None:
            self._log.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        caller = caller_of(match[1]) if match else None
        if caller is not None:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(size) if size else b""
            environ["wsgi.input"] = io.BytesIO(body)
            # A request this module cannot read is not checked; moto answers it as ever.
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.record(describe(caller, environ, body, self._scope))
        return self._app(environ, start_response)

    def record(self, calls: Iterable[Call]) -> None:
        with self._lock:
            for call in calls:
                key = call.key()
                if key in self._seen:
                    continue
                self._seen.add(key)
                self.calls.append(call)
                if self._log is not None:
                    with self._log.open("a", encoding="utf-8") as log:
                        log.write(key + "\n")


def describe(caller: str, environ: Mapping[str, Any], body: bytes, scope: _Scope) -> list[Call]:
    """The authorizations one request needs (a transaction needs one per item)."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    path = str(environ.get("PATH_INFO", ""))
    invoke = _INVOKE_PATH.match(path)
    if invoke:
        qualifier = parse_qs(str(environ.get("QUERY_STRING", ""))).get("Qualifier", [None])[0]
        function = _function_arn(unquote(invoke[1]), scope)
        if qualifier and function.count(":") == 6:
            function = f"{function}:{qualifier}"
        return [Call(caller, "lambda:InvokeFunction", function)]
    if "." not in target:
        return []
    service, operation = target.split(".", 1)
    request = json.loads(body or b"{}")
    if service.startswith("DynamoDBStreams"):
        return _streams(caller, operation, request, scope)
    if service.startswith("DynamoDB"):
        return _dynamodb(caller, operation, request, scope)
    if service == "secretsmanager":
        secret = str(request["SecretId"])
        arn = secret if secret.startswith("arn:") else scope.secret_arn(secret)
        return [Call(caller, f"secretsmanager:{operation}", arn)]
    if service == "AWSStepFunctions":
        # SendTask* name a token, and IAM gives them no resource type: "*".
        arn = request.get("stateMachineArn") or request.get("executionArn") or "*"
        return [Call(caller, f"states:{operation}", str(arn))]
    if service == "AWSEvents" and operation == "PutEvents":
        return [
            Call(
                caller,
                "events:PutEvents",
                _bus_arn(str(entry.get("EventBusName", "default")), scope),
            )
            for entry in request["Entries"]
        ]
    if service == "AmazonSQS":
        return [Call(caller, f"sqs:{operation}", _queue_arn(str(request["QueueUrl"]), scope))]
    return []


def _table_arn(name: str, scope: _Scope) -> str:
    return (
        name
        if name.startswith("arn:")
        else (f"arn:aws:dynamodb:{scope.region}:{scope.account}:table/{name}")
    )


def _leading_keys(keys: Mapping[str, Any]) -> tuple[str, ...]:
    # The table's key is `pk` (template.yaml); a string's partition key value.
    return tuple(str(value["S"]) for value in keys.values() if "S" in value)[:1]


def _dynamodb(caller: str, operation: str, request: Mapping[str, Any], scope: _Scope) -> list[Call]:
    if operation == "TransactWriteItems":
        calls = []
        for item in request["TransactItems"]:
            ((kind, spec),) = item.items()
            action = {"Update": "UpdateItem", "Put": "PutItem", "Delete": "DeleteItem"}.get(
                kind, "ConditionCheckItem"
            )
            keys = spec.get("Key") or {"pk": spec.get("Item", {}).get("pk", {})}
            calls.append(
                Call(
                    caller,
                    f"dynamodb:{action}",
                    _table_arn(str(spec["TableName"]), scope),
                    {"dynamodb:LeadingKeys": _leading_keys(keys)},
                )
            )
        return calls
    if operation == "BatchGetItem":
        # One authorization per table, with the leading key of every item it reads.
        calls = []
        for name, spec in request["RequestItems"].items():
            leading = tuple(k for key in spec["Keys"] for k in _leading_keys(key))
            context = {"dynamodb:LeadingKeys": leading}
            calls.append(Call(caller, "dynamodb:BatchGetItem", _table_arn(name, scope), context))
        return calls
    table = _table_arn(str(request["TableName"]), scope)
    if operation == "Query":
        # IAM's LeadingKeys of a query: the partition key value its key condition names
        # (the index's partition key for a query on an index).
        where = f"{table}/index/{request['IndexName']}" if request.get("IndexName") else table
        return [Call(caller, "dynamodb:Query", where, _query_leading_keys(request))]
    context = {"dynamodb:LeadingKeys": _leading_keys(request["Key"])} if "Key" in request else {}
    return [Call(caller, f"dynamodb:{operation}", table, context)]


def _query_leading_keys(request: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    match = re.match(r"\s*(#?\w+)\s*=\s*(:\w+)", str(request.get("KeyConditionExpression", "")))
    value = (request.get("ExpressionAttributeValues") or {}).get(match.group(2)) if match else None
    if not isinstance(value, Mapping) or "S" not in value:
        return {}
    return {"dynamodb:LeadingKeys": (str(value["S"]),)}


def _streams(caller: str, operation: str, request: Mapping[str, Any], scope: _Scope) -> list[Call]:
    if operation == "ListStreams":
        return [Call(caller, "dynamodb:ListStreams", "*")]
    if "StreamArn" in request:
        scope.streams[caller] = str(request["StreamArn"])
    # GetRecords names a shard iterator only: the stream is the one this caller opened it on.
    return [Call(caller, f"dynamodb:{operation}", scope.streams[caller])]


def _function_arn(name: str, scope: _Scope) -> str:
    return (
        name
        if name.startswith("arn:")
        else (f"arn:aws:lambda:{scope.region}:{scope.account}:function:{name}")
    )


def _bus_arn(name: str, scope: _Scope) -> str:
    return (
        name
        if name.startswith("arn:")
        else (f"arn:aws:events:{scope.region}:{scope.account}:event-bus/{name}")
    )


def _queue_arn(url: str, scope: _Scope) -> str:
    # http(s)://host/<account>/<name>
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{scope.region}:{account}:{name}"


def read_log(directory: Path) -> list[Call]:
    """Every distinct call the processes that logged to `directory` recorded."""
    calls: dict[str, Call] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            raw = json.loads(line)
            context = {k: tuple(v) for k, v in raw.get("context", {}).items()}
            call = Call(raw["caller"], raw["action"], raw["resource"], context)
            calls[call.key()] = call
    return list(calls.values())
