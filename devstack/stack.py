"""The whole service on one machine: AWS emulated from template.yaml, the provider sandboxes,
and an API Gateway on loopback, in one process tree.

Everything comes from the same `template.yaml`, handlers and ASL that deploy to AWS: the
functions run in their own worker processes (devstack.aws), the state machine in moto's
Step Functions, and each provider function's secret points at that provider's sandbox.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.aws.emulator import LocalAws
from devstack.aws.template import Function
from devstack.event_tap import TAP_QUEUE, EventTap
from devstack.gateway import LocalApiGateway
from devstack.sandboxes import Sandbox, start_sandbox

REPO = Path(__file__).resolve().parent.parent
PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")
DEFAULT_GATEWAY_PORT = 3000  # as `sam local start-api`
DEFAULT_AWS_PORT = 4570  # events/env.json points `sam local` here
DEFAULT_SANDBOX_PORT = 8101  # convergegate, then +1 per provider
# The local stack lowers the floors of a caller's schedule overrides (10 s and 60 s deployed),
# so the demo and a developer's curl can poll a refund every second, and raises each account's
# request rate (the sandboxes have no limit) so the demo's dozen polls a second are not
# deferred; the limits themselves are tested in tests/test_rate_limit.py.
FAST_POLL_FLOORS = {
    "PollMinFirstCheckSeconds": 1,
    "PollMinIntervalSeconds": 1,
    # The fleet's batches end in seconds, so the tick can come every second (FLEET_TICK).
    "FleetBatchSeconds": 5,
    "FleetTickSeconds": 1,
    **{
        f"{provider}AccountRatePerSecond": 200
        for provider in ("ConvergeGate", "SureCart", "Gr4vy", "Shoplazza")
    },
}
# The fleet's tick, driven faster than the template's schedule (a minute): a refund falls due
# and is checked within about a second, as the demo's one-second schedules want.
FLEET_TICK_SECONDS = 1.0
# Two merchant accounts at each provider (contract section 6), each a sandbox of its own with
# its own credentials, added the way a user adds one: `refund-accounts add`'s own code.
ACCOUNTS = ("store-a", "store-b")
# One refund id both accounts hold, each with its own status (`make up` seeds it).
SHARED_REFUND_ID = "order-1001-refund"


@dataclass(frozen=True)
class StackPorts:
    """0 for any free port."""

    gateway: int = DEFAULT_GATEWAY_PORT
    aws: int = DEFAULT_AWS_PORT
    sandbox: int = DEFAULT_SANDBOX_PORT

    def sandbox_port(self, index: int) -> int:
        return self.sandbox + index if self.sandbox else 0


@dataclass
class LocalStack:
    """`with LocalStack() as stack:` everything runs; leaving the block stops it all."""

    ports: StackPorts = field(default_factory=StackPorts)
    template_path: Path = REPO / "template.yaml"
    host: str = "127.0.0.1"
    # Quiet: the functions log warnings only and publish no metrics (the demo's own output
    # is the point); otherwise their Powertools JSON logs stream to the terminal.
    quiet: bool = False
    # For `sam local` (functions in Docker): moto and the sandboxes listen on every interface
    # and the secrets name the sandboxes by the Docker host's name. The local gateway's own
    # workers cannot resolve that name, so in this mode call the functions with `sam local`.
    docker_host: str | None = None
    sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    # (provider, account) → that account's own sandbox.
    account_sandboxes: dict[tuple[str, str], Sandbox] = field(default_factory=dict)
    aws: LocalAws | None = None
    gateway: LocalApiGateway | None = None
    # A consumer's queue subscribed to every refund event on the stack's bus.
    event_tap: EventTap | None = None

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        listen = "0.0.0.0" if self.docker_host else self.host  # noqa: S104 - asked for
        for index, provider in enumerate(PROVIDERS):
            port = self.ports.sandbox_port(index)
            try:
                self.sandboxes[provider] = start_sandbox(provider, port=port, host=listen)
            except OSError:
                raise OSError(f"port {port} is already in use (the {provider} sandbox)") from None
        for index, (provider, account) in enumerate(
            (provider, account) for account in ACCOUNTS for provider in PROVIDERS
        ):
            port = self.ports.sandbox_port(len(PROVIDERS) + index)
            try:
                sandbox = start_sandbox(provider, port=port, host=listen)
            except OSError:
                raise OSError(f"port {port} is already in use ({provider} {account})") from None
            self.account_sandboxes[provider, account] = sandbox
        # moto logs every Fail state at ERROR; here they are expected outcomes (not found…).
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        # Quiet (the demo): a late failure's warning is one of the scripted outcomes.
        quiet_env = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
        self.aws = LocalAws(
            self.template_path,
            parameter_overrides=FAST_POLL_FLOORS,
            port=self.ports.aws,
            host=listen,
            env_overrides=quiet_env if self.quiet else None,
            schedule_period_seconds=FLEET_TICK_SECONDS,
        )
        self.aws.start()
        self.event_tap = EventTap.attach(self.aws)
        for provider, function in self.provider_functions().items():
            secret_id = function.environment["PROVIDER_SECRET_ID"]
            self.aws.put_secret(secret_id, self.secret_for(provider))
            self._add_accounts(provider, function)
        api = self.aws.template.api
        if api is None:
            raise RuntimeError(f"{self.template_path.name} declares no API")
        runtime = self.aws.lambdas
        self.gateway = LocalApiGateway(
            api, lambda function, event: runtime.invoke(function, event), host=self.host,
            port=self.ports.gateway,
        )  # fmt: skip
        self.gateway.start()

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self.aws is not None:
            with contextlib.suppress(Exception):
                self.aws.stop()
            self.aws = None
        for sandbox in [*self.sandboxes.values(), *self.account_sandboxes.values()]:
            sandbox.stop()
        self.sandboxes.clear()
        self.account_sandboxes.clear()

    def _running_aws(self) -> LocalAws:
        if self.aws is None:
            raise RuntimeError("the local stack is not running")
        return self.aws

    def _add_accounts(self, provider: str, function: Function) -> None:
        """Each demo account's secret, where the function's ACCOUNT_SECRET_PREFIX says."""
        from refund_core.account_admin import AccountSecret, add_account

        secrets = self._running_aws().client("secretsmanager")
        prefix = function.environment["ACCOUNT_SECRET_PREFIX"].removesuffix(f"/{provider}/")
        for account in ACCOUNTS:
            secret = json.dumps(self.secret_for(provider, account))
            add_account(
                secrets, AccountSecret(provider, account, prefix), secret, allow_insecure_url=True
            )

    def secret_for(self, provider: str, account: str | None = None) -> dict[str, str]:
        """The secret of the provider's default account (or `account`), pointing at its
        sandbox as the functions will reach it."""
        sandbox = (
            self.sandboxes[provider]
            if account is None
            else self.account_sandboxes[provider, account]
        )
        secret = dict(sandbox.credentials)
        if self.docker_host:
            secret["base_url"] = f"http://{self.docker_host}:{sandbox.port}"
        return secret

    def provider_functions(self) -> dict[str, Function]:
        """Each provider's function, known by the secret it reads and the code it runs."""
        found = {}
        for function in self._running_aws().template.functions.values():
            provider = function.code_dir.name
            if provider in PROVIDERS and "PROVIDER_SECRET_ID" in function.environment:
                found[provider] = function
        return found

    @property
    def aws_port(self) -> int:
        return self._running_aws().port

    @property
    def url(self) -> str:
        if self.gateway is None:
            raise RuntimeError("the local stack is not running")
        return self.gateway.url

    def seed(self) -> dict[str, dict[str, str]]:
        """Refunds whose statuses change over a couple of minutes, for trying the API by hand."""
        lives: dict[str, dict[str, Any]] = {
            "convergegate": {"pending": [(0, "pending"), (60, "succeeded")], "failed": "failed"},
            "surecart": {"pending": [(0, "pending"), (60, "succeeded")], "failed": "failed"},
            "gr4vy": {"pending": [(0, "processing"), (60, "succeeded")], "failed": "declined"},
            "shoplazza": {"pending": [(0, "processing"), (60, "succeeded")], "failed": "failed"},
        }
        seeded: dict[str, dict[str, str]] = {}
        for provider, by_name in lives.items():
            sandbox = self.sandboxes[provider]
            currency = "JPY" if provider == "shoplazza" else "USD"
            seeded[provider] = {
                name: sandbox.create_refund(amount=1450, currency=currency, life=life)
                for name, life in by_name.items()
            }
            # The same id at both accounts: store-a's succeeds after 60 s, store-b's failed.
            for account, life in zip(
                ACCOUNTS, (by_name["pending"], by_name["failed"]), strict=True
            ):
                self.account_sandboxes[provider, account].create_refund(
                    amount=990, currency=currency, life=life, refund_id=SHARED_REFUND_ID
                )
        return seeded

    def banner(self, seeded: dict[str, dict[str, str]]) -> str:
        aws = self._running_aws()
        lines = [
            "refund status service, running locally",
            f"  API (as API Gateway, SigV4 not checked): {self.url}",
            f"  AWS emulator (moto: DynamoDB, Secrets Manager, Step Functions): {aws.endpoint_url}",
        ]
        lines += [f"  {p} sandbox: {s.base_url}" for p, s in self.sandboxes.items()]
        lines.append("  seeded refunds (pending turns succeeded after 60 s):")
        for provider, ids in seeded.items():
            lines.append(f"    {provider:13} " + "  ".join(f"{k}={v}" for k, v in ids.items()))
        example = seeded["gr4vy"]["pending"]
        lines += [
            "  try:",
            f"    curl -s {self.url}/refunds/gr4vy/{example}",
            f"    curl -s -X POST {self.url}/refunds/gr4vy/{example}/watch",
            f"    curl -s {self.url}/refunds/gr4vy/{example}/watch",
            f"    curl -s {self.url}/refunds/surecart/no-such-refund",
            f"    curl -s '{self.url}/refunds?status=pending&limit=5'",
            f"  accounts {' and '.join(ACCOUNTS)} at each provider (secrets "
            f"refund-status/<provider>/<account>), both holding refund {SHARED_REFUND_ID}:",
            *(
                f"    curl -s {self.url}/accounts/{account}/refunds/{provider}/{SHARED_REFUND_ID}"
                for provider in PROVIDERS
                for account in ACCOUNTS
            ),
            f"    curl -s {self.url}/accounts/store-z/refunds/gr4vy/{SHARED_REFUND_ID}"
            "   # 404 account_not_found",
            f"    AWS_ENDPOINT_URL={aws.endpoint_url} .venv/bin/refund-accounts list gr4vy",
            "  refund events (every status change, on the stack's bus), as they arrive:",
            f"    .venv/bin/python -m devstack events --aws-port {self.aws_port}",
            f"    AWS_ENDPOINT_URL={aws.endpoint_url} aws sqs receive-message --queue-url "
            f"{aws.endpoint_url}/{aws.template.account_id}/{TAP_QUEUE}",
            "  Ctrl-C stops everything.",
        ]
        return "\n".join(lines)
