"""Provider names and their client classes, imported only when asked for."""

from __future__ import annotations

import importlib
from typing import Any

from refund_core.providers.base import RefundProvider

PROVIDER_NAMES = ("convergegate", "surecart", "gr4vy", "shoplazza")


def provider_class(name: str) -> type[RefundProvider[Any, Any]]:
    """The client class for `name`. Lazy, so a function imports only its own provider."""
    if name not in PROVIDER_NAMES:
        raise KeyError(name)
    module = importlib.import_module(f"refund_core.providers.{name}.provider")
    cls: type[RefundProvider[Any, Any]] = module.PROVIDER
    return cls
