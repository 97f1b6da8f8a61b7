"""Merchant accounts end to end (contract section 6): the local gateway's account routes, each
account's own sandbox and secret, and `refund-accounts` run against the local stack's Secrets
Manager as a user would run it (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from devstack.stack import ACCOUNTS, PROVIDERS, SHARED_REFUND_ID, LocalStack
from refund_core.account_admin import main as refund_accounts


@pytest.mark.parametrize("provider", PROVIDERS)
def test_two_accounts_answer_one_refund_id_each_from_its_own_sandbox(
    stack: LocalStack, api: httpx.Client, provider: str
) -> None:
    refund_id = f"e2e-shared-{provider}"
    lives = {"store-a": "succeeded", "store-b": "failed"}
    for account, status in lives.items():
        stack.account_sandboxes[provider, account].create_refund(life=status, refund_id=refund_id)
    for account, status in lives.items():
        answer = api.get(f"/accounts/{account}/refunds/{provider}/{refund_id}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["account"], body["status"], body["refund_id"]) == (account, status, refund_id)
    # The default account's sandbox never heard of it.
    assert api.get(f"/refunds/{provider}/{refund_id}").json()["error"]["code"] == (
        "refund_not_found"
    )


def test_watches_of_two_accounts_keep_separate_records(
    stack: LocalStack, api: httpx.Client
) -> None:
    refund_id = "e2e-watched-shared"
    for account, life in zip(ACCOUNTS, ("succeeded", "failed"), strict=True):
        stack.account_sandboxes["surecart", account].create_refund(life=life, refund_id=refund_id)
        fast = {"first_check_seconds": 1, "max_interval_seconds": 1, "budget_seconds": 30}
        started = api.post(f"/accounts/{account}/refunds/surecart/{refund_id}/watch", json=fast)
        assert started.status_code == 202, started.text
    records = {}
    for _ in range(60):
        records = {
            account: api.get(f"/accounts/{account}/refunds/surecart/{refund_id}/watch").json()
            for account in ACCOUNTS
        }
        if all(r.get("polling_state") == "settled" for r in records.values()):
            break
        time.sleep(0.5)
    assert {a: (r["account"], r["status"]) for a, r in records.items()} == {
        "store-a": ("store-a", "succeeded"),
        "store-b": ("store-b", "failed"),
    }
    assert api.get(f"/refunds/surecart/{refund_id}/watch").status_code == 404


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (f"/accounts/store-z/refunds/gr4vy/{SHARED_REFUND_ID}", 404, "account_not_found"),
        (f"/accounts/Store-A/refunds/gr4vy/{SHARED_REFUND_ID}", 400, "invalid_account_id"),
        (f"/accounts/store_a/refunds/gr4vy/{SHARED_REFUND_ID}/watch", 400, "invalid_account_id"),
        (f"/accounts/store-a/refunds/stripe/{SHARED_REFUND_ID}/watch", 404, "route_not_found"),
    ],
)
def test_account_errors_through_the_gateway(
    api: httpx.Client, path: str, status: int, code: str
) -> None:
    answer = api.get(path)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


def test_refund_accounts_adds_an_account_to_the_local_stack(
    stack: LocalStack,
    api: httpx.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert stack.aws is not None
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.aws.endpoint_url)
    sandbox = stack.account_sandboxes["shoplazza", "store-a"]
    refund_id = sandbox.create_refund(life="succeeded")
    path = f"/accounts/store-new/refunds/shoplazza/{refund_id}"
    assert api.get(path).json()["error"]["code"] == "account_not_found"
    creds = tmp_path / "store-new.json"
    creds.write_text(json.dumps(stack.secret_for("shoplazza", "store-a")))
    assert refund_accounts(["add", "shoplazza", "store-new", "--file", str(creds)]) == 0
    assert refund_accounts(["list", "shoplazza"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-3:] == ["store-a", "store-b", "store-new"]
    assert stack.secret_for("shoplazza", "store-a")["access_token"] not in out
    answer = api.get(path)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["account"], answer.json()["status"]) == ("store-new", "succeeded")
