"""Field types shared by the providers' native schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, StrictStr


def _empty_is_none(value: Any) -> Any:
    # Contract section 4: an empty string from the provider is the same as no value.
    return None if value == "" else value


OptionalText = Annotated[StrictStr | None, BeforeValidator(_empty_is_none)]

# Native schemas are strict (a "1450" is not 1450, a "true" not True: a provider changing a
# type is a shape change we report) and ignore fields they do not know (providers add fields).
NATIVE_MODEL_CONFIG = ConfigDict(strict=True, extra="ignore", frozen=True)
