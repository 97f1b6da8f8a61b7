"""`LocalAws`: the stack of template.yaml on one machine (moto server + local Lambda workers).

    with LocalAws("template.yaml", parameter_overrides={"LogLevel": "DEBUG"}) as aws:
        sfn = aws.client("stepfunctions")
        ...

On entry it starts moto's server on 127.0.0.1, turns on real ASL execution and Docker-free
Lambda, installs `moto_patches`, and creates every resource of the template: secrets (with their
initial SecretString), DynamoDB tables (keys, indexes, TTL, point-in-time recovery, streams,
encryption), log groups (with their retention), state machines (definitions with their
substitutions, logging and tracing), and the functions, registered in a
`LambdaRuntime` whose workers call back into this endpoint. On exit it stops running
executions, the workers and the server.

moto keeps its state per process, so one `LocalAws` runs at a time in a process (each starts
from a reset moto).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request
import warnings
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Self, overload

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from devstack.aws import moto_patches
from devstack.aws.errors import LocalAwsError, PortInUse
from devstack.aws.iam_calls import Call, CallRecorder, caller_key
from devstack.aws.lambdas import FAKE_CREDENTIALS, LambdaRuntime
from devstack.aws.pipes import LocalPipe, PipeDefinition
from devstack.aws.schedules import LocalSchedule, ScheduleDefinition
from devstack.aws.template import (
    ACCOUNT_ID,
    ALARM,
    ARCHIVE,
    DEFAULT_STACK_NAME,
    EVENT_BUS,
    MONITORING_TYPES,
    PIPE,
    QUEUE,
    REGION,
    RULE,
    SCHEDULE,
    SUBSCRIPTION,
    TOPIC,
    Template,
    load_template,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_stepfunctions.client import SFNClient
    from mypy_boto3_stepfunctions.type_defs import DescribeExecutionOutputTypeDef

MOTO_CONFIG: Final = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
# moto does not check roles; AWS would want the template's generated role here.
STATE_MACHINE_ROLE: Final = "arn:aws:iam::123456789012:role/local-stepfunctions"

_active_lock = threading.Lock()
_active: LocalAws | None = None


class _QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without werkzeug's access log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _MotoServer(ThreadedMotoServer):
    """ThreadedMotoServer that binds in the caller's thread, so a bind error is raised here,
    and records each call the template's resources make (iam_calls.CallRecorder).

    (The stock start() binds inside its thread: a taken port leaves start() waiting forever,
    after werkzeug has printed its advice and called sys.exit in that thread.)
    """

    def __init__(self, *, ip_address: str, port: int, verbose: bool, region: str) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=verbose)
        self.recorder = CallRecorder(
            DomainDispatcherApplication(create_backend_app),
            region=region,
            account=ACCOUNT_ID,
            secret_arn=lambda name: _secret_arn(name, region),
        )

    def start(self) -> None:
        if self._port and not _port_free(self._ip_address, self._port):
            raise PortInUse(self._ip_address, self._port)
        try:
            self._server = make_server(
                self._ip_address,
                self._port,
                self.recorder,
                True,
                request_handler=MotoRequestHandler if self._verbose else _QuietRequestHandler,
            )
        except (OSError, SystemExit) as exc:  # werkzeug exits on a bind error
            raise PortInUse(self._ip_address, self._port) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()


def _secret_arn(name: str, region: str) -> str:
    """A secret's ARN, from moto's own store (a missing one: the ARN it would have)."""
    from moto.secretsmanager.models import secretsmanager_backends

    secrets = secretsmanager_backends[ACCOUNT_ID][region].secrets
    if name in secrets:
        return str(secrets[name].arn)
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{name}-000000"


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class LocalAws:
    """The template's AWS resources, served by moto on one local endpoint."""

    def __init__(
        self,
        template_path: str | Path = "template.yaml",
        parameter_overrides: Mapping[str, str | int | float] | None = None,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        stack_name: str = DEFAULT_STACK_NAME,
        env_overrides: Mapping[str, str] | None = None,
        verbose: bool = False,
        schedule_period_seconds: float | None = None,
    ) -> None:
        """`port=0` picks a free port. `env_overrides` win over every function's environment.

        `schedule_period_seconds` fires every schedule that often instead of its expression's
        period (the fleet's tick driven faster); 0 fires none on its own (tests fire them).

        `verbose` logs every request the server answers (werkzeug's access log).
        """
        self.verbose = verbose
        self.template_path = Path(template_path)
        self.parameter_overrides = dict(parameter_overrides or {})
        self.host = host
        self.port = port
        self.stack_name = stack_name
        self._env_overrides = dict(env_overrides or {})
        self._server: _MotoServer | None = None
        self._runtime: LambdaRuntime | None = None
        self._template: Template | None = None
        self._previous_moto_port: str | None = None
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._clients_lock = threading.Lock()
        self._pipes: dict[str, LocalPipe] = {}
        self._schedules: dict[str, LocalSchedule] = {}
        self.schedule_period_seconds = schedule_period_seconds
        self._session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and create every resource of the template."""
        global _active
        # Read the template first: a template error should not leave a server behind.
        draft = self._load()
        with _active_lock:
            if _active is not None:
                raise LocalAwsError(
                    "another LocalAws is running in this process (moto's state is per process)"
                )
            _active = self
        try:
            server = _MotoServer(
                ip_address=self.host, port=self.port, verbose=self.verbose, region=draft.region
            )
            server.start()
            self._server = server
            self.port = server.get_host_and_port()[1]
            # moto's Step Functions interpreter calls Lambda and Step Functions back through
            # localhost:$MOTO_PORT.
            self._previous_moto_port = os.environ.get("MOTO_PORT")
            os.environ["MOTO_PORT"] = str(self.port)
            moto_patches.install()
            self._post("/moto-api/reset", {})
            self._post("/moto-api/config", MOTO_CONFIG)
            self._runtime = LambdaRuntime(
                endpoint_url=self.endpoint_url,
                region=draft.region,
                env_overrides=self._env_overrides,
            )
            moto_patches.set_runtime(self._runtime)
            self._create(draft)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop running executions, the workers and the server (safe to call twice)."""
        global _active
        for pipe in self._pipes.values():
            pipe.stop()
        self._pipes.clear()
        for schedule in self._schedules.values():
            schedule.stop()
        self._schedules.clear()
        if self._server is not None:
            try:
                self._stop_executions()
            except Exception as exc:  # stopping must go on: workers and the server still run
                warnings.warn(f"LocalAws could not stop running executions: {exc}", stacklevel=2)
        if self._runtime is not None:
            if moto_patches.active_runtime() is self._runtime:
                moto_patches.set_runtime(None)
            self._runtime.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
            if self._previous_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._previous_moto_port
        with _active_lock:
            if _active is self:
                _active = None

    def _stop_executions(self) -> None:
        # An execution still waiting would otherwise wake up later and call the functions of
        # whichever stack then owns $MOTO_PORT.
        if self._template is None:
            return
        sfn = self.client("stepfunctions")
        for machine in self._template.state_machines.values():
            try:
                running = sfn.list_executions(stateMachineArn=machine.arn, statusFilter="RUNNING")[
                    "executions"
                ]
            except sfn.exceptions.StateMachineDoesNotExist:
                continue
            for execution in running:
                sfn.stop_execution(executionArn=execution["executionArn"], cause="LocalAws stopped")

    # ------------------------------------------------------------------ resources

    def _load(self, physical_ids: Mapping[str, str] | None = None) -> Template:
        return load_template(
            self.template_path,
            self.parameter_overrides,
            stack_name=self.stack_name,
            physical_ids=physical_ids,
        )

    def _create(self, draft: Template) -> None:
        secrets = self.client("secretsmanager")
        arns: dict[str, str] = {}
        for secret in draft.secrets.values():
            kwargs: dict[str, Any] = {"Name": secret.name}
            if secret.secret_string is not None:
                kwargs["SecretString"] = secret.secret_string
            if secret.description:
                kwargs["Description"] = secret.description
            arns[secret.logical_id] = secrets.create_secret(**kwargs)["ARN"]
        # Again with the secrets' real ARNs, so `!Ref Secret` in environments is what moto knows.
        template = self._template = self._load(physical_ids=arns)

        dynamodb = self.client("dynamodb")
        for table in template.tables.values():
            dynamodb.create_table(**table.create_table_kwargs())
            if table.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )
            if table.point_in_time_recovery:
                dynamodb.update_continuous_backups(
                    TableName=table.name,
                    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
                )

        logs = self.client("logs")
        for group in template.log_groups.values():
            logs.create_log_group(logGroupName=group.name)
            if group.retention_in_days is not None:
                logs.put_retention_policy(
                    logGroupName=group.name, retentionInDays=group.retention_in_days
                )

        sfn = self.client("stepfunctions")
        for machine in template.state_machines.values():
            created = sfn.create_state_machine(
                **machine.create_state_machine_kwargs(STATE_MACHINE_ROLE)
            )["stateMachineArn"]
            if created != machine.arn:
                raise LocalAwsError(
                    f"{machine.logical_id}: moto named it {created}, not {machine.arn}"
                )

        self._create_monitoring(template)
        for function in template.functions.values():
            self.lambdas.register(function)
        self._create_events(template)

    def _create_monitoring(self, template: Template) -> None:
        """The alarm topic and its subscriptions, the alarms and the dashboard, as declared
        (moto keeps them; nothing evaluates an alarm locally)."""
        sns, cloudwatch = self.client("sns"), self.client("cloudwatch")
        for kind in MONITORING_TYPES:
            for monitoring in template.monitoring.values():
                if monitoring.resource_type != kind:
                    continue
                props = dict(monitoring.properties)
                if kind == TOPIC:
                    sns.create_topic(Name=monitoring.name)
                elif kind == SUBSCRIPTION:
                    sns.subscribe(**props)
                elif kind == ALARM:
                    cloudwatch.put_metric_alarm(**alarm_kwargs(monitoring.name, props))
                else:
                    cloudwatch.put_dashboard(
                        DashboardName=monitoring.name, DashboardBody=props["DashboardBody"]
                    )

    def _create_events(self, template: Template) -> None:
        """Queues, buses, archives and rules in moto as declared; each pipe run locally."""
        sqs, events = self.client("sqs"), self.client("events")
        for resource in template.events.values():
            props = dict(resource.properties)
            kind = resource.resource_type
            if kind == QUEUE:
                attributes = {
                    key: json.dumps(value) if isinstance(value, bool) else str(value)
                    for key, value in props.items()
                    if key != "QueueName"
                }
                sqs.create_queue(QueueName=resource.name, Attributes=attributes)
            elif kind == EVENT_BUS:
                events.create_event_bus(Name=resource.name)
            elif kind == ARCHIVE:
                events.create_archive(
                    ArchiveName=resource.name,
                    EventSourceArn=props["SourceArn"],
                    Description=props.get("Description", ""),
                    EventPattern=json.dumps(props.get("EventPattern", {})),
                    RetentionDays=int(props.get("RetentionDays", 0)),
                )
            elif kind == RULE:
                bus = str(props.get("EventBusName", "default"))
                events.put_rule(
                    Name=resource.name,
                    EventBusName=bus,
                    EventPattern=json.dumps(props["EventPattern"]),
                    State=props.get("State", "ENABLED"),
                    Description=props.get("Description", ""),
                )
                if props.get("Targets"):
                    events.put_targets(
                        Rule=resource.name, EventBusName=bus, Targets=props["Targets"]
                    )
            elif kind == PIPE:
                pipe = LocalPipe(
                    PipeDefinition.from_resource(resource),
                    **self.pipe_clients(resource.logical_id),
                    invoke=partial(self._invoke_for_pipe, resource.logical_id),
                )
                self._pipes[resource.logical_id] = pipe
                pipe.start()
            elif kind == SCHEDULE:
                definition = ScheduleDefinition.from_properties(
                    resource.logical_id, resource.name, props
                )
                self.client("scheduler").create_schedule(**definition.create_kwargs(props))
                schedule = LocalSchedule(
                    definition,
                    starter=self.client_as("stepfunctions", resource.logical_id),
                    watcher=self.client("stepfunctions"),
                    period=self.schedule_period_seconds,
                )
                self._schedules[resource.logical_id] = schedule
                schedule.start()

    def pipe_clients(self, logical_id: str) -> dict[str, Any]:
        """The clients a pipe reads, publishes and dead-letters with, signed as that pipe (its
        calls are checked against its role: iam_calls)."""
        return {
            # (Not signed as the pipe: DescribeTable maps the template's stream to moto's
            # label, a lookup of the emulator's, not a call AWS Pipes makes.)
            "dynamodb": self.client("dynamodb"),
            "streams": self.client_as("dynamodbstreams", logical_id),
            "events": self.client_as("events", logical_id),
            "sqs": self.client_as("sqs", logical_id),
        }

    def _invoke_for_pipe(self, pipe: str, function_arn: str, event: Any) -> Any:
        # (Invoked in-process, not over the endpoint: recorded here as the pipe's call.)
        self.recorded.record([Call(pipe, "lambda:InvokeFunction", function_arn)])
        result = self.lambdas.invoke(function_arn, event)
        if not result.ok:
            raise LocalAwsError(f"{result.error_type}: {result.error_message}")
        return result.payload

    def schedule(self, logical_id: str) -> LocalSchedule:
        """The local schedule of the template's `logical_id` (`fire()` runs it once now)."""
        return self._schedules[logical_id]

    def pipe(self, logical_id: str) -> LocalPipe:
        """The running local pipe of the template's `logical_id`."""
        return self._pipes[logical_id]

    def wait_for_pipes(self, timeout: float = 15.0) -> bool:
        """True once every pipe has carried what the stream held when this was called."""
        deadline = time.monotonic() + timeout
        return all(
            pipe.wait_idle(max(0.0, deadline - time.monotonic())) for pipe in self._pipes.values()
        )

    def _post(self, path: str, body: Mapping[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - our own loopback endpoint
            self.endpoint_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    # ------------------------------------------------------------------ access

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:<port>`: point any AWS SDK here."""
        if self._server is None:
            raise LocalAwsError("LocalAws is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def template(self) -> Template:
        """The template as created (secret references resolved to the real ARNs)."""
        if self._template is None:
            raise LocalAwsError("LocalAws is not running")
        return self._template

    @property
    def lambdas(self) -> LambdaRuntime:
        """The runtime the functions run in."""
        if self._runtime is None:
            raise LocalAwsError("LocalAws is not running")
        return self._runtime

    @overload
    def client(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["stepfunctions"]) -> SFNClient: ...
    @overload
    def client(self, service: Literal["secretsmanager"]) -> SecretsManagerClient: ...
    @overload
    def client(self, service: Literal["lambda"]) -> LambdaClient: ...
    @overload
    def client(self, service: str) -> Any: ...

    def client(self, service: str) -> Any:
        """A boto3 client bound to the emulator (one per service, shared: clients are
        thread-safe once made)."""
        return self._client(service, None)

    def client_as(self, service: str, logical_id: str) -> Any:
        """A client that signs as the template's resource `logical_id` (iam_calls.caller_key),
        so what it calls is recorded as that resource's and checked against its role."""
        return self._client(service, logical_id)

    def _client(self, service: str, caller: str | None) -> Any:
        endpoint_url = self.endpoint_url
        with self._clients_lock:
            key = (service, endpoint_url, caller)
            if key not in self._clients:
                session = self._session
                if caller is not None:
                    session = boto3.session.Session(
                        aws_access_key_id=caller_key(caller),
                        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    )
                region = self._template.region if self._template else REGION
                self._clients[key] = session.client(  # type: ignore[call-overload]
                    service, endpoint_url=endpoint_url, region_name=region
                )
            return self._clients[key]

    @property
    def recorded(self) -> CallRecorder:
        """The calls of the template's resources so far (iam_calls)."""
        if self._server is None:
            raise LocalAwsError("the emulator is not running")
        return self._server.recorder

    def put_secret(self, logical_id_or_name: str, value: Mapping[str, Any] | str) -> None:
        """Store a new value (a dict is stored as JSON) in one of the template's secrets.

        Warm functions may still hold the old value in their cache; `lambdas.stop()` makes
        the next call a cold start.
        """
        secret = self.template.secret(logical_id_or_name)
        text = value if isinstance(value, str) else json.dumps(value)
        self.client("secretsmanager").put_secret_value(SecretId=secret.arn, SecretString=text)

    def run_execution(
        self,
        state_machine: str,
        execution_input: Mapping[str, Any],
        *,
        name: str | None = None,
        timeout: float = 60.0,
    ) -> DescribeExecutionOutputTypeDef:
        """Start an execution of a state machine (logical id, name or ARN) and wait for its end.

        Returns DescribeExecution's answer; raises TimeoutError if it still runs after `timeout`.
        """
        arn = next(
            (
                m.arn
                for m in self.template.state_machines.values()
                if state_machine in (m.logical_id, m.name, m.arn)
            ),
            state_machine,
        )
        sfn = self.client("stepfunctions")
        kwargs: dict[str, Any] = {"stateMachineArn": arn, "input": json.dumps(execution_input)}
        if name is not None:
            kwargs["name"] = name
        execution_arn = sfn.start_execution(**kwargs)["executionArn"]
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")
            time.sleep(0.05)


def alarm_kwargs(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """PutMetricAlarm's arguments from an alarm's CloudFormation properties (the same names;
    numbers come from parameters as strings)."""
    kwargs = {**props, "AlarmName": name}
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
    if "Threshold" in kwargs:
        kwargs["Threshold"] = float(kwargs["Threshold"])
    kwargs["Metrics"] = [
        {
            **query,
            "MetricStat": {**query["MetricStat"], "Period": int(query["MetricStat"]["Period"])},
        }
        if "MetricStat" in query
        else query
        for query in kwargs.get("Metrics", [])
    ]
    if not kwargs["Metrics"]:
        del kwargs["Metrics"]
    return kwargs
