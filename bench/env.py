"""The loopback stage every measurement runs against: four provider sandboxes and moto.

The sandboxes and moto's Secrets Manager run here, in the parent process; the code being
measured runs in child processes (`python -m bench.<module> ...`), so the client side and the
server side do not share one GIL, and every child starts with a clean interpreter.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from devstack.sandboxes import Sandbox, start_sandbox

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")
REGION = "us-east-1"
# One pending refund per provider: a pending status never advances, so every call reads the
# same answer and no call pays for a state change the others do not.
PENDING = {
    "convergegate": "pending",
    "surecart": "pending",
    "gr4vy": "processing",
    "shoplazza": "processing",
}


@dataclass(frozen=True)
class Target:
    """What a child needs to call one provider: our function's env and the floor's request."""

    provider: str
    refund_id: str
    refund_url: str
    auth_headers: dict[str, str]
    credentials: dict[str, str]
    env: dict[str, str]

    def spec(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "refund_id": self.refund_id,
            "refund_url": self.refund_url,
            "auth_headers": self.auth_headers,
            "credentials": self.credentials,
        }


def fake_aws_env(endpoint_url: str) -> dict[str, str]:
    """Fake credentials and the emulator's endpoint, for boto3 in a child process."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


class BenchEnv:
    """Context manager: moto server + the four sandboxes, a secret and a refund per provider."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self.sandboxes: dict[str, Sandbox] = {}
        self.targets: dict[str, Target] = {}
        self.endpoint_url = ""

    def __enter__(self) -> BenchEnv:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _start(self) -> None:
        # werkzeug logs every request moto serves; thousands of lines would bury the table.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        self._stack.callback(moto.stop)
        host, port = moto.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        aws_env = fake_aws_env(self.endpoint_url)
        secrets = self.secrets_client()
        for provider in PROVIDERS:
            sandbox = self._stack.enter_context(start_sandbox(provider))
            self.sandboxes[provider] = sandbox
            refund_id = sandbox.create_refund(life=PENDING[provider])
            secret_id = f"refund-status/bench/{provider}"
            secrets.create_secret(Name=secret_id, SecretString=json.dumps(sandbox.credentials))
            env = {
                **aws_env,
                "PROVIDER_SECRET_ID": secret_id,
                # The sandboxes speak http on loopback; deployed functions refuse http URLs.
                "ALLOW_INSECURE_PROVIDER_URL": "true",
                # X-Ray's daemon is not reachable here: tracing off, as in events/env.json.
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_SERVICE_NAME": "refund-status",
                "POWERTOOLS_METRICS_NAMESPACE": "RefundStatus",
            }
            self.targets[provider] = Target(
                provider=provider,
                refund_id=refund_id,
                refund_url=sandbox.refund_url(refund_id),
                # Gr4vy: one token minted here and reused, as our client reuses its token.
                auth_headers=sandbox.auth_headers(),
                credentials=dict(sandbox.credentials),
                env=env,
            )
        # moto builds its Secrets Manager backend on the first request: pay that here, not in
        # the first child's cold start.
        secrets.get_secret_value(SecretId=self.targets[PROVIDERS[0]].env["PROVIDER_SECRET_ID"])

    def secrets_client(self) -> Any:
        """boto3's Secrets Manager client on the bench's moto."""
        return boto3.client(
            "secretsmanager",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        )

    def child_env(self, provider: str, **extra: str) -> dict[str, str]:
        """os.environ for a child measuring `provider`, minus anything pointing at real AWS."""
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "POWERTOOLS_", "PROVIDER_"))
        }
        return {**base, **self.targets[provider].env, **extra}
