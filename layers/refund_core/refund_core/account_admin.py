"""`refund-accounts`: add, rotate, remove and list merchant accounts (contract section 6).

An account is one secret, `{prefix}/{provider}/{account}`, holding section 3's JSON for that
provider. Every command checks the account id and the credentials JSON against the provider's
own schema (the model the function itself parses the secret with) before it writes anything,
and prints names, versions and key names only: never a secret value.

It talks to whatever Secrets Manager boto3 is pointed at: a real AWS account (the usual
profile and region variables), or the local stack (`AWS_ENDPOINT_URL=http://127.0.0.1:4570`).

    refund-accounts add shoplazza store-42 --file store-42.json
    refund-accounts rotate shoplazza store-42 --file store-42-new.json
    refund-accounts remove shoplazza store-42 [--now]
    refund-accounts list shoplazza
    refund-accounts check shoplazza store-42   # or --secret-id <stack>/shoplazza
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from refund_core.accounts import DEFAULT_ACCOUNT, INVALID_ACCOUNT_ID_MESSAGE, is_account_id
from refund_core.errors import ConfigurationError
from refund_core.providers.registry import PROVIDER_NAMES, provider_class
from refund_core.secrets import parse_secret_json

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

DEFAULT_PREFIX = "refund-status"  # the template's AccountSecretPrefix default
RECOVERY_WINDOW_DAYS = 7  # Secrets Manager's minimum: a removal can be undone for a week


class AccountAdminError(Exception):
    """A refused command: the message says why, and never holds a secret value."""

    exit_code = 1


class InvalidInput(AccountAdminError):
    exit_code = 2


@dataclass(frozen=True)
class AccountSecret:
    """Where one account's credentials live."""

    provider: str
    account: str
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if self.provider not in PROVIDER_NAMES:
            raise InvalidInput(
                f"unknown provider {self.provider!r}: one of {', '.join(PROVIDER_NAMES)}"
            )
        if not is_account_id(self.account):
            raise InvalidInput(INVALID_ACCOUNT_ID_MESSAGE)
        if self.account == DEFAULT_ACCOUNT:
            raise InvalidInput(
                "account 'default' is the stack's own secret (PROVIDER_SECRET_ID): write it "
                "with `aws secretsmanager put-secret-value`"
            )

    @property
    def name(self) -> str:
        return f"{self.prefix}/{self.provider}/{self.account}"


def checked_credentials(provider: str, text: str, *, allow_insecure_url: bool) -> str:
    """`text` if it is a valid secret for `provider`, normalized to compact JSON; else
    `InvalidInput` naming the keys at fault (never their values)."""
    try:
        secret = parse_secret_json(text)
        provider_class(provider).credentials_model.from_secret(
            secret, allow_insecure_url=allow_insecure_url
        )
    except ConfigurationError as error:
        raise InvalidInput(f"{provider} credentials refused: {error.message}") from None
    return json.dumps(secret, separators=(",", ":"))


def add_account(
    client: SecretsManagerClient,
    where: AccountSecret,
    text: str,
    *,
    allow_insecure_url: bool,
    kms_key_id: str | None = None,
) -> str:
    """Create the account's secret (encrypted with `kms_key_id`, the stack's SecretsKmsKeyArn,
    when given); refuses one that exists. Returns the version id."""
    value = checked_credentials(where.provider, text, allow_insecure_url=allow_insecure_url)
    errors = client.exceptions
    request: dict[str, Any] = {
        "Name": where.name,
        "SecretString": value,
        "Description": f"refund-status: {where.provider} credentials of account {where.account}",
        "Tags": [
            {"Key": "refund-status:provider", "Value": where.provider},
            {"Key": "refund-status:account", "Value": where.account},
        ],
    }
    if kms_key_id:
        request["KmsKeyId"] = kms_key_id
    try:
        created = client.create_secret(**request)
    except errors.ResourceExistsException:
        raise AccountAdminError(
            f"account {where.account!r} exists at {where.provider}: use `rotate` to replace "
            "its credentials"
        ) from None
    except errors.InvalidRequestException:
        raise AccountAdminError(
            f"{where.name} is scheduled for deletion: restore it with `aws secretsmanager "
            "restore-secret` and `rotate`, or wait until it is gone"
        ) from None
    return created.get("VersionId", "")


def rotate_account(
    client: SecretsManagerClient, where: AccountSecret, text: str, *, allow_insecure_url: bool
) -> str:
    """Replace an existing account's credentials. Returns the new version id.

    Warm functions keep serving the old value until their cache period ends, or at once from
    the first request the provider rejects with it (they read the secret again then).
    """
    value = checked_credentials(where.provider, text, allow_insecure_url=allow_insecure_url)
    try:
        put = client.put_secret_value(SecretId=where.name, SecretString=value)
    except client.exceptions.ResourceNotFoundException:
        raise AccountAdminError(
            f"no account {where.account!r} at {where.provider}: use `add`"
        ) from None
    return put.get("VersionId", "")


def remove_account(client: SecretsManagerClient, where: AccountSecret, *, now: bool) -> str:
    """Delete the account's secret: at once with `now`, else after the recovery window. From
    then on its routes answer 404 account_not_found."""
    options: dict[str, Any] = (
        {"ForceDeleteWithoutRecovery": True}
        if now
        else {"RecoveryWindowInDays": RECOVERY_WINDOW_DAYS}
    )
    try:
        deleted = client.delete_secret(SecretId=where.name, **options)
    except client.exceptions.ResourceNotFoundException:
        raise AccountAdminError(f"no account {where.account!r} at {where.provider}") from None
    return str(deleted.get("DeletionDate", "now"))


def check_secret(
    client: SecretsManagerClient, provider: str, secret_id: str, *, allow_insecure_url: bool
) -> None:
    """Read a secret and check it against the provider's schema, printing nothing of it:
    `InvalidInput` naming the keys at fault, `AccountAdminError` when it does not exist."""
    try:
        value = client.get_secret_value(SecretId=secret_id)
    except client.exceptions.ResourceNotFoundException:
        raise AccountAdminError(f"no secret {secret_id}") from None
    if "SecretString" not in value:
        raise InvalidInput(f"{secret_id} is binary: a provider secret is a JSON string")
    checked_credentials(provider, value["SecretString"], allow_insecure_url=allow_insecure_url)


def list_accounts(client: SecretsManagerClient, provider: str, prefix: str) -> list[str]:
    """The accounts that have a secret at `provider`, sorted (not those being deleted)."""
    start = f"{prefix}/{provider}/"
    accounts: list[str] = []
    for page in client.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [start]}]
    ):
        for secret in page.get("SecretList", []):
            name = secret.get("Name", "")
            account = name.removeprefix(start)
            if name.startswith(start) and is_account_id(account) and "DeletedDate" not in secret:
                accounts.append(account)
    return sorted(accounts)


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refund-accounts",
        description="Add, rotate, remove and list the merchant accounts of a refund-status "
        "deployment (one secret each). Uses the usual AWS credentials and region; set "
        "AWS_ENDPOINT_URL for the local stack.",
    )
    parser.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"the stack's AccountSecretPrefix parameter (default {DEFAULT_PREFIX})",
    )
    parser.add_argument("--region", help="AWS region (default: the configured one)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in (
        ("add", "create an account's secret from a credentials JSON file"),
        ("rotate", "replace an existing account's credentials"),
    ):
        command = commands.add_parser(name, help=summary)
        command.add_argument("provider", choices=PROVIDER_NAMES)
        command.add_argument("account")
        command.add_argument(
            "--file", required=True, help="the credentials JSON (contract section 3), or -"
        )
        command.add_argument(
            "--allow-insecure-url",
            action="store_true",
            help="accept an http:// base_url on a non-loopback host (sandboxes reached from "
            "`sam local`'s containers; deployed functions refuse it)",
        )
        if name == "add":
            command.add_argument(
                "--kms-key-id",
                help="the stack's SecretsKmsKeyArn, when it has one (default: Secrets Manager's "
                "own key)",
            )
    remove = commands.add_parser("remove", help="delete an account's secret")
    remove.add_argument("provider", choices=PROVIDER_NAMES)
    remove.add_argument("account")
    remove.add_argument(
        "--now",
        action="store_true",
        help=f"no {RECOVERY_WINDOW_DAYS}-day recovery window: delete it at once",
    )
    listing = commands.add_parser("list", help="the accounts of one provider")
    listing.add_argument("provider", choices=PROVIDER_NAMES)
    check = commands.add_parser(
        "check", help="check a stored secret against the provider's schema (prints no value)"
    )
    check.add_argument("provider", choices=PROVIDER_NAMES)
    check.add_argument("account", nargs="?", help="an account (or give --secret-id)")
    check.add_argument("--secret-id", help="any secret, e.g. the stack's own <stack>/<provider>")
    check.add_argument("--allow-insecure-url", action="store_true")
    return parser


def _read(path: str, stdin: TextIO) -> str:
    if path == "-":
        return stdin.read()
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None


def run(
    argv: Sequence[str],
    *,
    client: SecretsManagerClient | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> None:
    """One command; raises `AccountAdminError` when refused (`main` prints it)."""
    args = _parser().parse_args(argv)
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    if client is None:
        import boto3

        client = boto3.client("secretsmanager", region_name=args.region)
    if args.command == "list":
        for account in list_accounts(client, args.provider, args.prefix):
            print(account, file=stdout)
        return
    if args.command == "check":
        secret_id = args.secret_id
        if secret_id is None:
            if args.account is None:
                raise InvalidInput("check needs an account or --secret-id")
            secret_id = AccountSecret(args.provider, args.account, args.prefix).name
        check_secret(client, args.provider, secret_id, allow_insecure_url=args.allow_insecure_url)
        print(f"ok: {secret_id} holds valid {args.provider} credentials", file=stdout)
        return
    where = AccountSecret(args.provider, args.account, args.prefix)
    if args.command == "remove":
        when = remove_account(client, where, now=args.now)
        print(f"removed account {where.account} at {where.provider} ({where.name}, "
              f"deleted {'now' if args.now else 'on ' + when})", file=stdout)  # fmt: skip
        return
    text = _read(args.file, stdin)
    if args.command == "add":
        version = add_account(
            client,
            where,
            text,
            allow_insecure_url=args.allow_insecure_url,
            kms_key_id=args.kms_key_id,
        )
    else:
        version = rotate_account(client, where, text, allow_insecure_url=args.allow_insecure_url)
    done = "added" if args.command == "add" else "rotated"
    print(f"{done} account {where.account} at {where.provider}: secret {where.name}, "
          f"version {version}", file=stdout)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        run(sys.argv[1:] if argv is None else argv)
    except AccountAdminError as error:
        sys.stderr.write(f"refund-accounts: {error}\n")
        return error.exit_code
    except (ClientError, BotoCoreError) as error:
        # AWS's own words (access denied, no region...): names and codes, no secret values.
        sys.stderr.write(f"refund-accounts: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
