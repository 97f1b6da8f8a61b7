"""Field types shared by the providers' native schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr


def _empty_is_none(value: Any) -> Any:
    # Contract section 4: an empty string from the provider is the same as no value.
    return None if value == "" else value


OptionalText = Annotated[StrictStr | None, BeforeValidator(_empty_is_none)]
OptionalInt = Annotated[StrictInt | None, BeforeValidator(_empty_is_none)]
OptionalBool = Annotated[StrictBool | None, BeforeValidator(_empty_is_none)]
# Epoch seconds, with a fraction where the provider keeps one.
OptionalEpoch = Annotated[StrictInt | StrictFloat | None, BeforeValidator(_empty_is_none)]
# The provider's status word. The key must be there (an object without it is not a refund),
# but a null or empty word is a refund whose status nobody said: `unknown`, never an error.
StatusWord = OptionalText

# Native schemas are strict (a "1450" is not 1450, a "true" not True: a provider changing a
# type is a shape change we report) and ignore fields they do not know (providers add fields).
NATIVE_MODEL_CONFIG = ConfigDict(strict=True, extra="ignore", frozen=True)
