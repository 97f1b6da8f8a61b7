"""template.yaml through SAM's own transform: samtranslator, what `sam deploy` and
CloudFormation's SAM macro run. The local stack, the deploy check and the IAM call check all
read its output, so each sees the resources AWS would create: Globals applied, policy
templates expanded, the generated roles, `Events` turned into API routes and permissions.

Local code paths become the S3 locations `sam package` would upload them to: bucket
`LOCAL_CODE_BUCKET`, the key being the path as the template gives it (relative to the
template), so the local stack can read the code back from the transformed resource.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from devstack.aws.errors import TemplateError

LOCAL_CODE_BUCKET: Final = "local-code"
# SAM's local-path properties, by SAM resource type (they hold a directory or a file).
_CODE_PATHS: Final = ("CodeUri", "ContentUri", "DefinitionUri")


def transformed_template(
    path: Path, parameter_values: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`path` through SAM's transform (a fresh copy: callers may change it)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise TemplateError(f"template not found: {path}")
    stat = path.stat()
    values = tuple(sorted((k, str(v)) for k, v in (parameter_values or {}).items()))
    return copy.deepcopy(_transform(path, stat.st_mtime_ns, stat.st_size, values))


def local_path(template: Path, s3_key: Any, where: str) -> Path:
    """The local directory or file a transformed code location (`S3Key`/`Key`) points at."""
    if not isinstance(s3_key, str) or not s3_key:
        raise TemplateError(f"{where}: the local stack needs a local path, got {s3_key!r}")
    return (template.parent / s3_key).resolve()


@functools.lru_cache(maxsize=16)
def _transform(
    path: Path, _mtime_ns: int, _size: int, parameter_values: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    # SAM's translator asks boto3 for a region for its pseudo parameters; any one will do.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.model.exceptions import (  # type: ignore[import-untyped]
        InvalidDocumentException,
    )
    from samtranslator.translator.transform import transform  # type: ignore[import-untyped]
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

    # (Its notes on feature toggles and unpublished metrics are about SAM's own telemetry.)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)

    template: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    for resource in (template.get("Resources") or {}).values():
        properties = resource.get("Properties") or {}
        for key in _CODE_PATHS:
            value = properties.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                properties[key] = f"s3://{LOCAL_CODE_BUCKET}/{value}"

    class NoManagedPolicies:
        """SAM asks IAM for the managed policies' ARNs; the template names none by name."""

        def load(self) -> dict[str, str]:
            return {}

    try:
        transformed: dict[str, Any] = transform(
            template, dict(parameter_values), NoManagedPolicies()
        )
    except InvalidDocumentException as error:
        causes = "; ".join(getattr(cause, "message", str(cause)) for cause in error.causes)
        raise TemplateError(f"SAM's transform refused {path.name}: {causes}") from None
    return transformed
