"""The account budget through the provider function (contract section 8): the API's GETs and
the retry after a credentials rotation each take a turn, and a spent budget is 503 before any
provider call.

(Its own module: the rate tests' module-scoped moto would outlive each deployment's own.)
"""

from __future__ import annotations

import json

import boto3
import pytest
import respx

from tests.helpers import create_records_table, secret_for
from tests.test_accounts import DEFAULT_URL, Deployment, store_url, surecart_refund


def test_the_apis_gets_share_the_budget_and_a_spent_one_is_503_without_calling_the_provider(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (The deployment fixture's moto is the one these clients reach.)
    table = create_records_table(boto3.client("dynamodb", region_name="us-east-1"))
    monkeypatch.setenv("RECORDS_TABLE_NAME", table)
    monkeypatch.setenv("ACCOUNT_RATE_PER_SECOND", "0.5")
    deployment.add_store("store-a")
    with respx.mock(assert_all_called=True) as mock:
        default = mock.get(f"{DEFAULT_URL}/v1/refunds/re_1").respond(
            200, json=surecart_refund("re_1", "pending")
        )
        store = mock.get(f"{store_url('store-a')}/v1/refunds/re_1").respond(
            200, json=surecart_refund("re_1", "pending")
        )
        first, _ = deployment.get("re_1")
        second, body = deployment.get("re_1")
        other, _ = deployment.get("re_1", account="store-a")

    assert (first, second, other) == (200, 503, 200)
    assert body["error"]["code"] == "provider_rate_limited"
    assert body["error"]["retryable"] is True
    assert body["error"]["account"] == "default"
    assert default.call_count == 1  # the refused GET never reached the provider
    assert store.call_count == 1


def test_the_retry_after_a_rotation_takes_its_own_turn(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401, a re-read secret, a second provider call: two calls, so two turns. At a budget
    of one call in two seconds the second turn is too far: 503, and no second provider call."""
    # (The deployment fixture's moto is the one these clients reach.)
    table = create_records_table(boto3.client("dynamodb", region_name="us-east-1"))
    monkeypatch.setenv("RECORDS_TABLE_NAME", table)
    monkeypatch.setenv("ACCOUNT_RATE_PER_SECOND", "0.5")
    deployment.add_store("store-a")
    deployment.clients.get("store-a")  # the old secret, cached (no provider call)
    with respx.mock(assert_all_called=True) as mock:
        provider = mock.get(f"{store_url('store-a')}/v1/refunds/re_1").respond(
            401, json={"http_status": "unauthorized", "type": "unauthorized"}
        )
        deployment.secrets.put_secret_value(
            SecretId="refund-status/surecart/store-a",
            SecretString=json.dumps(
                secret_for("surecart", base_url=store_url("store-a"))
                | {"api_token": "st_rotated_token_2"}
            ),
        )
        status, body = deployment.get("re_1", account="store-a")

    assert status == 503
    assert body["error"]["code"] == "provider_rate_limited"
    assert provider.call_count == 1
