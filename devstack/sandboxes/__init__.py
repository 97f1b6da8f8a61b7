"""Local HTTP sandboxes of the four providers' refund GET endpoints (dev and test only).

Example::

    with start_sandbox("gr4vy") as sandbox:
        refund_id = sandbox.create_refund(1299, "USD", ["processing", "succeeded"])
        secret = sandbox.credentials  # the provider's Secrets Manager JSON, base_url included
"""

from __future__ import annotations

from typing import Any

from .base import Provider
from .convergegate import ConvergeGate
from .faults import COMMON_FAULTS, Fault
from .gr4vy import Gr4vy
from .gr4vy_jwt import mint_token
from .server import ADMIN_PREFIX, RecordedRequest, Sandbox
from .shoplazza import Shoplazza
from .surecart import SureCart

PROVIDERS: dict[str, type[Provider]] = {
    "convergegate": ConvergeGate,
    "surecart": SureCart,
    "gr4vy": Gr4vy,
    "shoplazza": Shoplazza,
}


def start_sandbox(
    provider: str,
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    not_found_fault: str = "not_found",
    **options: Any,
) -> Sandbox:
    """Start ``provider``'s sandbox on ``host:port`` (0 = any free port) and return it.

    ``options`` go to the provider: ``secret_key`` (convergegate), ``api_token`` (surecart),
    ``private_key_pem``/``merchant_account_id``/``instance_id``/``clock_skew`` (gr4vy),
    ``access_token``/``store_domain``/``api_version``/``omit_completed_at_while_processing``
    (shoplazza). ``not_found_fault`` picks how never-created ids are answered (e.g. SureCart's
    ``"not_found_422"``).
    """
    try:
        provider_class = PROVIDERS[provider]
    except KeyError:
        raise ValueError(f"unknown provider {provider!r}; known: {sorted(PROVIDERS)}") from None
    return Sandbox(provider_class(**options), host=host, port=port, not_found_fault=not_found_fault)


def fault_names(provider: str) -> frozenset[str]:
    """Every fault name ``provider``'s sandbox accepts."""
    return PROVIDERS[provider].fault_names()


__all__ = [
    "ADMIN_PREFIX",
    "COMMON_FAULTS",
    "PROVIDERS",
    "Fault",
    "RecordedRequest",
    "Sandbox",
    "fault_names",
    "mint_token",
    "start_sandbox",
]
