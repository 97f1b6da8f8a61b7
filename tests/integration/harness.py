"""What the integration tests share: invoking a real handler, reading its answer, leak checks."""

from __future__ import annotations

import base64
import importlib
import json
import re
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

from devstack.sandboxes import Sandbox
from tests.helpers import FakeLambdaContext, load_event

PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")
ERROR_KEYS = {"code", "message", "provider", "account", "retryable"}
REFUND_KEYS = [
    "provider", "account", "refund_id", "status", "terminal", "provider_status", "amount",
    "currency", "reason", "failure_reason", "payment_id", "created_at", "updated_at",
    "completed_at", "live_mode", "fetched_at",
]  # fmt: skip
RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
# Credential keys of contract section 3 whose values are secret.
SECRET_KEYS = ("secret_key", "api_token", "access_token")
# Too short to be distinctive: the last line of a PEM body can be a few characters.
MIN_PEM_LINE = 16


@dataclass(frozen=True)
class Answer:
    """One handler result, decoded."""

    status: int
    headers: dict[str, str]
    body: Any
    raw: dict[str, Any]
    seconds: float

    def error(self) -> dict[str, Any]:
        assert set(self.body) == {"error"}, self.body
        error: dict[str, Any] = self.body["error"]
        assert set(error) == ERROR_KEYS, error
        return error


@dataclass
class Deployment:
    """A provider function wired to a sandbox: its secret in (moto) Secrets Manager."""

    provider: str
    sandbox: Sandbox
    secrets_manager: Any
    monkeypatch: pytest.MonkeyPatch
    answers: list[Answer] = field(default_factory=list)
    # Every credential value this test put anywhere: none may ever come back out.
    secret_values: set[str] = field(default_factory=set)
    leak_checked: bool = False
    _secret_name: str | None = None

    def deploy(self, secret: Mapping[str, Any] | None = None) -> None:
        """Store `secret` (default: the sandbox's own credentials) as the function's secret."""
        secret = dict(self.sandbox.credentials if secret is None else secret)
        self.secret_values |= secret_values_of(secret)
        text = json.dumps(secret)
        if self._secret_name is None:
            # Unique per test: moto's Secrets Manager lives as long as the test module.
            self._secret_name = f"refund-status/{self.provider}/{uuid.uuid4()}"
            self.secrets_manager.create_secret(Name=self._secret_name, SecretString=text)
        else:
            self.secrets_manager.put_secret_value(SecretId=self._secret_name, SecretString=text)
            # Deployed anew: the function must not answer from the value it cached.
            secrets_provider = DEFAULT_PROVIDERS.get("secrets")
            if secrets_provider is not None:
                secrets_provider.clear_cache()
        self.monkeypatch.setenv("PROVIDER_SECRET_ID", self._secret_name)

    def get(self, refund_id: str) -> Answer:
        """`GET /refunds/{provider}/{refund_id}` through the real `lambda_handler`."""
        event = load_event(self.provider, "get_refund")
        event["path"] = f"/refunds/{self.provider}/{refund_id}"
        event["requestContext"]["path"] = f"/v1/refunds/{self.provider}/{refund_id}"
        event["pathParameters"] = {"refund_id": refund_id}
        return self.invoke(event)

    def invoke(self, event: dict[str, Any]) -> Answer:
        handler = importlib.import_module(f"functions.{self.provider}.app").lambda_handler
        started = time.perf_counter()
        result = handler(event, FakeLambdaContext())
        seconds = time.perf_counter() - started
        headers = {k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()}
        headers.update(result.get("headers") or {})
        answer = Answer(result["statusCode"], headers, json.loads(result["body"]), result, seconds)
        self.answers.append(answer)
        return answer


def secret_values_of(secret: Mapping[str, Any]) -> set[str]:
    """The values in a provider secret that must never be seen again, and their wire forms."""
    values: set[str] = set()
    for key in SECRET_KEYS:
        value = secret.get(key)
        if isinstance(value, str) and value:
            values.add(value)
            if key == "secret_key":  # ConvergeGate sends it as HTTP Basic `key:`
                values.add(base64.b64encode(f"{value}:".encode()).decode())
    pem = secret.get("private_key")
    if isinstance(pem, str):
        values |= {
            line.strip()
            for line in pem.splitlines()
            if len(line.strip()) >= MIN_PEM_LINE and not line.startswith("-----")
        }
    return values


def assert_nothing_secret_leaked(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], *extra: str
) -> None:
    """No credential value (nor a signed Gr4vy token) in any response, stdout or stderr."""
    captured = capsys.readouterr()
    # Give the output back, so a failing test still shows its logs.
    sys.stdout.write(captured.out)
    sys.stderr.write(captured.err)
    assert deployment.answers, "nothing was invoked: the leak check would be vacuous"
    assert '"level":' in captured.out, "no log line captured: the leak check would be vacuous"
    haystacks = {
        "stdout": captured.out,
        "stderr": captured.err,
        **{f"response {i}": json.dumps(a.raw) for i, a in enumerate(deployment.answers)},
    }
    needles = {*deployment.secret_values, *extra, "Bearer ey"}
    assert deployment.secret_values, "no secret values known: the leak check would be vacuous"
    for where, text in haystacks.items():
        for needle in needles:
            assert needle not in text, f"{needle[:10]}… leaked into {where}"
    deployment.leak_checked = True


# --- assertions on answers -------------------------------------------------------------------


def assert_json(answer: Answer) -> None:
    assert answer.headers.get("Content-Type") == "application/json", answer.headers


def assert_error(
    answer: Answer,
    status: int,
    code: str,
    *,
    provider: str,
    retryable: bool,
    account: str | None = "default",
) -> dict[str, Any]:
    """The contract's error shape with this status, code, retryable flag and account."""
    assert (answer.status, answer.body.get("error", {}).get("code")) == (status, code), answer.body
    assert_json(answer)
    error = answer.error()
    assert error["provider"] == provider
    assert error["account"] == account
    assert error["retryable"] is retryable
    assert isinstance(error["message"], str)
    assert error["message"]
    assert "Traceback" not in json.dumps(answer.raw)
    return error


def assert_refund(answer: Answer, provider: str, refund_id: str) -> dict[str, Any]:
    """A 200 with the normalized refund's keys, in order, and well-formed timestamps."""
    assert answer.status == 200, answer.body
    assert_json(answer)
    body: dict[str, Any] = answer.body
    assert list(body) == REFUND_KEYS
    assert body["provider"] == provider
    assert body["refund_id"] == refund_id
    assert body["terminal"] is (body["status"] in {"succeeded", "failed", "canceled"})
    for key in ("created_at", "updated_at", "completed_at", "fetched_at"):
        assert body[key] is None or RFC3339_Z.match(body[key]), (key, body[key])
    assert body["fetched_at"] is not None
    return body


def parse_z(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- the sandbox, seen as a client ----------------------------------------------------------


def provider_object(sandbox: Sandbox, refund_id: str) -> dict[str, Any]:
    """The refund object exactly as the sandbox renders it (advances a read-driven life)."""
    response = httpx.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if sandbox.name == "shoplazza":
        return dict(body["data"]["refund_order"])
    return body


def authorizations(sandbox: Sandbox, refund_id: str) -> list[str]:
    """The Authorization headers the sandbox recorded on requests for `refund_id`."""
    return [
        {k.lower(): v for k, v in r.headers.items()}.get("authorization", "")
        for r in sandbox.recent_requests
        if r.path.endswith("/" + refund_id)
    ]
