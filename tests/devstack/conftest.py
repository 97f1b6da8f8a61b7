"""Helpers for the local AWS stack's tests: tiny functions and templates written to tmp_path."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.aws.lambdas import LambdaRuntime
from devstack.aws.template import Function

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"


def write_function(root: Path, directory: str, source: str) -> Path:
    """Write `source` as `<root>/<directory>/app.py`; the code directory."""
    code_dir = root / directory
    code_dir.mkdir(parents=True, exist_ok=True)
    (code_dir / "app.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return code_dir


def make_function(
    code_dir: Path, name: str, *, timeout: int = 5, environment: dict[str, str] | None = None
) -> Function:
    """A function model as the template loader would build it."""
    return Function(
        logical_id=name,
        name=f"test-{name}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:test-{name}",
        code_dir=code_dir,
        handler="app.lambda_handler",
        runtime="python3.13",
        timeout=timeout,
        memory_mb=128,
        environment=environment or {},
    )


def decoded_template() -> dict[str, Any]:
    """The real template.yaml as plain data (intrinsics in their long form)."""
    from devstack.aws.template import read_raw

    return read_raw(TEMPLATE)


def write_template_copy(tmp_path: Path, template: dict[str, Any]) -> Path:
    """Write a (modified) template next to links to the real code, so paths still resolve."""
    for directory in ("functions", "layers", "statemachine"):
        (tmp_path / directory).symlink_to(REPO / directory)
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps(template, indent=2), encoding="utf-8")  # JSON is YAML
    return path


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    """A Lambda runtime whose workers are stopped after the test."""
    with LambdaRuntime() as lambdas:
        yield lambdas
