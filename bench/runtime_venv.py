"""An interpreter holding what a deployed function has, and nothing else: for cold starts and
memory, where every extra package shows.

The dev `.venv` also holds the dev tools, and aws-sam-cli brings awscrt and pyOpenSSL there,
which botocore and urllib3 import whenever they are installed: about 45 ms of a cold start and
some memory that no deployed function pays, in ours and the baseline alike, which would make
our ratio look better than it is. This venv (`.bench-venv`) holds the layer's requirements
(requirements.txt and requirements-tracing.txt) plus boto3 and botocore at the versions the
dev venv pins, standing in for the Lambda runtime's own. The `refund_core` package and the
function code come from PYTHONPATH, as /opt/python and the task root do on Lambda.

Built with pip from PyPI the first time `make bench` needs it (a few seconds from pip's cache)
and again whenever those requirements change.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from functools import cache
from importlib.metadata import version

from bench.env import ROOT

VENV = ROOT / ".bench-venv"
LAYER = ROOT / "layers" / "refund_core"
REQUIREMENTS = LAYER / "requirements.txt"
TRACING = LAYER / "requirements-tracing.txt"  # installed --no-deps, as the layer's Makefile does
STAMP = VENV / ".requirements-sha256"


def runtime_pins() -> list[str]:
    """boto3 and botocore as the dev venv pins them (the Lambda runtime provides its own)."""
    return [f"boto3=={version('boto3')}", f"botocore=={version('botocore')}"]


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, TRACING):
        digest.update(path.read_bytes())
    digest.update(" ".join(runtime_pins()).encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()


@cache  # checked once per bench run, not once per cold-start child
def runtime_python() -> str:
    """The venv's interpreter, built or rebuilt first when it is missing or out of date."""
    python = VENV / "bin" / "python"
    fingerprint = _fingerprint()
    if python.exists() and STAMP.exists() and STAMP.read_text() == fingerprint:
        return str(python)
    shutil.rmtree(VENV, ignore_errors=True)
    print(f"building {VENV.name} (the layer's requirements, as a function has them)", flush=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for command in (
        [sys.executable, "-m", "venv", str(VENV)],
        [*pip, "-r", str(REQUIREMENTS), *runtime_pins()],
        [*pip, "--no-deps", "-r", str(TRACING)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    STAMP.write_text(fingerprint)
    return str(python)


def runtime_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for a child on the runtime venv: the layer's package and this repo importable."""
    return {**env, "PYTHONPATH": f"{LAYER}:{ROOT}", "PYTHONNOUSERSITE": "1"}
