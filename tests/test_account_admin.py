"""`refund-accounts` (contract section 6): adding, rotating, removing and listing accounts in
moto's Secrets Manager, each credentials file checked against the provider's own schema
before anything is written, and no secret value ever printed."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from refund_core.account_admin import main
from tests.helpers import SECRET_VALUES, pem_body_marker, secret_for

PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def write(tmp_path: Path, secret: Any, name: str = "creds.json") -> str:
    path = tmp_path / name
    path.write_text(secret if isinstance(secret, str) else json.dumps(secret))
    return str(path)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    text = out + err
    for value in (*SECRET_VALUES, pem_body_marker(), "hunter2"):
        assert value not in text, f"a secret value was printed: {argv}"
    return code, text


def stored(secrets: Any, name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    return value


@pytest.mark.parametrize("provider", PROVIDERS)
def test_add_writes_the_checked_secret_where_the_function_reads_it(
    secrets: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: str
) -> None:
    creds = secret_for(provider)
    code, text = cli(capsys, "add", provider, "store-42", "--file", write(tmp_path, creds))
    assert code == 0, text
    assert f"refund-status/{provider}/store-42" in text
    assert stored(secrets, f"refund-status/{provider}/store-42") == creds


@pytest.mark.parametrize(
    ("secret", "named"),
    [
        ("{not json hunter2", "not valid JSON"),
        ('["hunter2"]', "JSON object"),
        ({"api_token": "hunter2", "base_url": "http://plain.example.com"}, "base_url"),
        ({"api_tokn": "hunter2"}, "api_token (missing)"),
    ],
)
def test_add_refuses_bad_credentials_and_writes_nothing(
    secrets: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    secret: Any,
    named: str,
) -> None:
    code, text = cli(capsys, "add", "surecart", "store-42", "--file", write(tmp_path, secret))
    assert code == 2
    assert named in text
    assert secrets.list_secrets()["SecretList"] == []


def test_an_insecure_url_is_accepted_only_when_asked(
    secrets: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = write(tmp_path, secret_for("surecart", base_url="http://host.docker.internal:4571"))
    assert cli(capsys, "add", "surecart", "local", "--file", creds)[0] == 2
    code, text = cli(capsys, "add", "surecart", "local", "--file", creds, "--allow-insecure-url")
    assert code == 0, text


@pytest.mark.parametrize("account", ["Store-42", "-x", "store_42", "a" * 65, "default"])
def test_add_refuses_an_account_id_outside_the_alphabet_or_default(
    secrets: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], account: str
) -> None:
    creds = write(tmp_path, secret_for("surecart"))
    code, _ = cli(capsys, "add", "surecart", "--file", creds, "--", account)
    assert code == 2
    assert secrets.list_secrets()["SecretList"] == []


def test_add_twice_is_refused_and_rotate_replaces(
    secrets: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = secret_for("shoplazza")
    second = first | {"access_token": "sl_rotated_LEAK_0002"}
    assert cli(capsys, "add", "shoplazza", "store-1", "--file", write(tmp_path, first))[0] == 0
    code, text = cli(capsys, "add", "shoplazza", "store-1", "--file", write(tmp_path, second))
    assert code == 1
    assert "rotate" in text
    assert stored(secrets, "refund-status/shoplazza/store-1") == first
    code, text = cli(capsys, "rotate", "shoplazza", "store-1", "--file", write(tmp_path, second))
    assert code == 0, text
    assert "sl_rotated_LEAK_0002" not in text
    assert stored(secrets, "refund-status/shoplazza/store-1") == second


def test_rotate_of_a_missing_account_is_refused(
    secrets: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = write(tmp_path, secret_for("gr4vy"))
    code, text = cli(capsys, "rotate", "gr4vy", "store-9", "--file", creds)
    assert code == 1
    assert "add" in text
    assert secrets.list_secrets()["SecretList"] == []


def test_remove_and_list(secrets: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    creds = write(tmp_path, secret_for("convergegate"))
    for account in ("store-b", "store-a", "store-c"):
        assert cli(capsys, "add", "convergegate", account, "--file", creds)[0] == 0
    secrets.create_secret(Name="refund-status/surecart/store-z", SecretString="{}")
    assert cli(capsys, "list", "convergegate") == (0, "store-a\nstore-b\nstore-c\n")
    assert cli(capsys, "remove", "convergegate", "store-b", "--now")[0] == 0
    assert cli(capsys, "remove", "convergegate", "store-c")[0] == 0  # recovery window
    assert cli(capsys, "list", "convergegate") == (0, "store-a\n")
    assert cli(capsys, "remove", "convergegate", "store-b")[0] == 1


def test_a_custom_prefix_and_stdin(
    secrets: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(secret_for("surecart"))))
    code, text = cli(capsys, "--prefix", "acme-refunds", "add", "surecart", "s1", "--file", "-")
    assert code == 0, text
    assert stored(secrets, "acme-refunds/surecart/s1") == secret_for("surecart")


def test_an_unreadable_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, text = cli(capsys, "add", "surecart", "s1", "--file", str(tmp_path / "missing.json"))
    assert code == 2
    assert "missing.json" in text


def test_check_reads_a_stored_secret_and_names_what_is_wrong(
    secrets: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli(capsys, "add", "surecart", "s1", "--file", write(tmp_path, secret_for("surecart")))[0]
        == 0
    )
    code, text = cli(capsys, "check", "surecart", "s1")
    assert (code, "ok: refund-status/surecart/s1") == (0, text.split(" holds")[0])
    # A fresh stack's own secret is `{}`: check names the missing key, prints no value.
    secrets.create_secret(Name="refund-status/surecart", SecretString='{"note": "hunter2"}')
    code, text = cli(capsys, "check", "surecart", "--secret-id", "refund-status/surecart")
    assert code == 2
    assert "api_token (missing)" in text
    assert cli(capsys, "check", "surecart", "nope")[0] == 1
    assert cli(capsys, "check", "surecart")[0] == 2


def test_add_encrypts_with_the_stacks_key_when_given(
    secrets: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = secrets_kms_key()
    creds = secret_for("gr4vy")
    code, text = cli(
        capsys, "add", "gr4vy", "store-7", "--file", write(tmp_path, creds), "--kms-key-id", key
    )
    assert code == 0, text
    described = secrets.describe_secret(SecretId="refund-status/gr4vy/store-7")
    assert described["KmsKeyId"] == key
    assert stored(secrets, "refund-status/gr4vy/store-7") == creds


def secrets_kms_key() -> str:
    import boto3

    arn: str = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    return arn
