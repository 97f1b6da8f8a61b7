"""The official Gr4vy SDK as an oracle: its tokens, models and client against the sandbox."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from gr4vy import Gr4vy, errors, models
from gr4vy.auth import get_token, with_token
from gr4vy.types import UNSET
from gr4vy.utils import BackoffStrategy, RetryConfig

from devstack.sandboxes import Sandbox
from devstack.sandboxes.gr4vy_jwt import generate_private_key_pem

Start = Callable[..., Sandbox]
STATUSES = ["processing", "succeeded", "declined", "failed", "voided"]


def _get(client: httpx.Client, sandbox: Sandbox, refund_id: str, token: str) -> httpx.Response:
    return client.get(sandbox.refund_url(refund_id), headers={"Authorization": f"Bearer {token}"})


def test_sdk_token_with_transactions_read_is_accepted(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    token = get_token(sandbox.credentials["private_key"], scopes=["transactions.read"])
    assert _get(client, sandbox, sandbox.create_refund(), token).status_code == 200


def test_sdk_default_token_reads_via_star_read(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    token = get_token(sandbox.credentials["private_key"])  # the SDK asks for *.read, *.write
    assert _get(client, sandbox, sandbox.create_refund(), token).status_code == 200


def test_sdk_token_with_unrelated_scope_is_forbidden(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    token = get_token(sandbox.credentials["private_key"], scopes=["buyers.read"])
    response = _get(client, sandbox, sandbox.create_refund(), token)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_sdk_token_from_another_key_is_unauthorized(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    token = get_token(generate_private_key_pem(), scopes=["transactions.read"])
    assert _get(client, sandbox, sandbox.create_refund(), token).status_code == 401


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_parses_with_the_sdk_model(
    start: Start, client: httpx.Client, status: str
) -> None:
    sandbox = start("gr4vy")
    refund_id = sandbox.create_refund(1299, "USD", status)
    response = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    refund = models.Refund.model_validate_json(response.content)
    assert (refund.id, refund.status, refund.amount, refund.currency) == (
        refund_id,
        status,
        1299,
        "USD",
    )
    assert refund.created_at.tzinfo is not None
    assert refund.TYPE == "refund"
    assert refund.error_code is not UNSET  # sent explicitly, null or not


def test_unknown_status_and_extra_fields_still_parse(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    refund_id = sandbox.create_refund()
    sandbox.add_fault("unknown_status", value="pending_review")
    sandbox.add_fault("extra_fields")
    response = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    refund = models.Refund.model_validate_json(response.content)
    assert refund.status == "pending_review"


def _sdk(sandbox: Sandbox, **kwargs: object) -> Gr4vy:
    return Gr4vy(
        bearer_auth=with_token(sandbox.credentials["private_key"], ["transactions.read"]),
        server_url=sandbox.base_url,
        **kwargs,  # type: ignore[arg-type]
    )


def test_sdk_client_gets_refunds_through_a_life(start: Start) -> None:
    sandbox = start("gr4vy")
    refund_id = sandbox.create_refund(500, "GBP", ["processing", "succeeded"])
    with _sdk(sandbox) as sdk:
        first = sdk.refunds.get(refund_id=refund_id)
        second = sdk.refunds.get(refund_id=refund_id)
    assert (first.status, second.status) == ("processing", "succeeded")
    assert second.updated_at >= first.updated_at
    assert first.currency == "GBP"
    assert sandbox.requests_for(refund_id) == 2


def test_sdk_client_sends_the_merchant_account(start: Start) -> None:
    sandbox = start("gr4vy", merchant_account_id="acme")
    refund_id = sandbox.create_refund()
    with _sdk(sandbox, merchant_account_id="acme") as sdk:
        assert sdk.refunds.get(refund_id=refund_id).id == refund_id
    with _sdk(sandbox) as sdk, pytest.raises(errors.Error403):
        sdk.refunds.get(refund_id=refund_id)


def test_sdk_client_reads_sandbox_errors(start: Start) -> None:
    sandbox = start("gr4vy")
    refund_id = sandbox.create_refund()
    no_retries = RetryConfig("none", BackoffStrategy(1, 1, 1, 1), False)
    with _sdk(sandbox, retry_config=no_retries) as sdk:
        with pytest.raises(errors.Error404) as not_found:
            sdk.refunds.get(refund_id="00000000-0000-4000-8000-000000000000")
        assert not_found.value.data.code == "not_found"
        sandbox.add_fault("rate_limited", times=1, retry_after=1)
        with pytest.raises(errors.Error429):
            sdk.refunds.get(refund_id=refund_id)
        sandbox.add_fault("bad_gateway", times=1)
        with pytest.raises(errors.Error502):
            sdk.refunds.get(refund_id=refund_id)
        sandbox.add_fault("unauthorized", times=1)
        with pytest.raises(errors.Error401):
            sdk.refunds.get(refund_id=refund_id)


def test_sdk_retries_a_5xx_once_and_succeeds(start: Start) -> None:
    sandbox = start("gr4vy")
    refund_id = sandbox.create_refund()
    sandbox.add_fault("server_error", refund_id=refund_id, times=1)
    retries = RetryConfig("backoff", BackoffStrategy(10, 50, 1.5, 2000), False)
    with _sdk(sandbox, retry_config=retries) as sdk:
        assert sdk.refunds.get(refund_id=refund_id).id == refund_id
    assert sandbox.requests_for(refund_id) == 2
