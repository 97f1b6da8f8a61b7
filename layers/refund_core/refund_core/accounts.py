"""Merchant accounts (contract section 6): the id's alphabet and where an account's secret is."""

from __future__ import annotations

import re

from refund_core.errors import AccountNotFound, InvalidAccountId

# The account of every route without `/accounts/{account}` and of every record written before
# accounts existed: the secret named by PROVIDER_SECRET_ID.
DEFAULT_ACCOUNT = "default"
ACCOUNT_ID_MAX_LENGTH = 64
# No `_`, `#`, `/` or upper case: an account id goes into a secret name, a record key
# (`provider#account#refund_id`) and an execution name (where `_` ends it), unescaped.
_ACCOUNT_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
INVALID_ACCOUNT_ID_MESSAGE = (
    "account must be 1 to 64 characters of a-z, 0-9 or '-', neither starting nor ending with '-'"
)


def is_account_id(value: object) -> bool:
    return isinstance(value, str) and _ACCOUNT_ID.fullmatch(value) is not None


def validate_account_id(value: object, *, provider: str | None = None) -> str:
    """Return `value` if it is a valid account id, else raise `InvalidAccountId` (400)."""
    if isinstance(value, str) and _ACCOUNT_ID.fullmatch(value):
        return value
    raise InvalidAccountId(INVALID_ACCOUNT_ID_MESSAGE, provider=provider)


def account_secret_id(account: str, *, default_secret_id: str, prefix: str | None) -> str | None:
    """The secret of `account`: PROVIDER_SECRET_ID for `default`, else `{prefix}{account}`
    (prefix `{AccountSecretPrefix}/{provider}/`); None when no prefix is configured."""
    if account == DEFAULT_ACCOUNT:
        return default_secret_id
    return None if not prefix else f"{prefix}{account}"


def account_not_found(account: str, *, provider: str) -> AccountNotFound:
    """The 404 of an account without a secret. It names the account asked for and nothing
    else: not the secret's name, nor whether any other account exists."""
    return AccountNotFound(
        f"no account {account!r} at this provider: write its secret to add it",
        provider=provider,
        account=account,
    )
