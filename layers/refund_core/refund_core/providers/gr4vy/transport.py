"""Gr4vy transport and auth: the instance host, the signed bearer token, the merchant header."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, ValidationError, field_validator

from refund_core.credentials import HeaderText, ProviderCredentials
from refund_core.providers.base import ErrorKind
from refund_core.providers.gr4vy.auth import Gr4vyTokenSigner, load_private_key
from refund_core.providers.gr4vy.schema import Gr4vyErrorBody

MERCHANT_ACCOUNT_HEADER = "X-GR4VY-MERCHANT-ACCOUNT-ID"
_KIND_BY_CODE = {
    "not_found": ErrorKind.NOT_FOUND,
    "unauthorized": ErrorKind.AUTH,
    "forbidden": ErrorKind.AUTH,
    # 425: the resource is not ready yet; asking again later is the documented remedy.
    "too_early": ErrorKind.RETRYABLE,
}


class Gr4vyCredentials(ProviderCredentials):
    # Becomes part of the host name, so one DNS label and nothing else.
    instance_id: str = Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
    private_key: SecretStr
    environment: Literal["sandbox", "production"] = "production"
    merchant_account_id: HeaderText | None = None

    @field_validator("private_key")
    @classmethod
    def _is_p521_pem(cls, value: SecretStr) -> SecretStr:
        load_private_key(value.get_secret_value())
        return value

    @property
    def default_base_url(self) -> str:
        sandbox = "sandbox." if self.environment == "sandbox" else ""
        return f"https://api.{sandbox}{self.instance_id}.gr4vy.app"


def build_signer(credentials: Gr4vyCredentials) -> Gr4vyTokenSigner:
    return Gr4vyTokenSigner(load_private_key(credentials.private_key.get_secret_value()))


def build_refund_request(
    client: httpx.Client,
    credentials: Gr4vyCredentials,
    signer: Gr4vyTokenSigner,
    refund_id: str,
) -> httpx.Request:
    headers = {"Authorization": f"Bearer {signer.token()}"}
    if credentials.merchant_account_id:
        headers[MERCHANT_ACCOUNT_HEADER] = credentials.merchant_account_id
    base_url = credentials.base_url or credentials.default_base_url
    return client.build_request("GET", f"{base_url}/refunds/{refund_id}", headers=headers)


def error_kind(status: int, body: Any) -> ErrorKind | None:
    """What `{"type": "error", "code", "status", "message", "details"}` says, if anything."""
    try:
        error = Gr4vyErrorBody.model_validate(body)
    except ValidationError:
        return None
    return _KIND_BY_CODE.get(error.code or "")
