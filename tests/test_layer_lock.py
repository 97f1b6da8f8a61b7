"""The layer is built from a lock: every wheel pinned with its hash, nothing resolved at build
time, so a rebuild (a rollback, another machine) ships the same bytes or fails."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LAYER = Path(__file__).resolve().parents[1] / "layers" / "refund_core"
ENTRY = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\]+)\s*\\?\s*--hash=sha256:([0-9a-f]{64})$")
# The Lambda runtime provides these (and the layer must not shadow them: requirements-tracing.txt).
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "six"}


def locked() -> dict[str, str]:
    text = (LAYER / "requirements.lock").read_text(encoding="utf-8")
    entries = [e.strip() for e in re.split(r"\n(?=[A-Za-z0-9])", text) if e and e[0].isalnum()]
    found: dict[str, str] = {}
    for entry in entries:
        match = ENTRY.match(" ".join(entry.split()))
        assert match, f"not pinned with a sha256: {entry!r}"
        found[canonicalize_name(match[1])] = match[2]
    return found


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (LAYER / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            found[canonicalize_name(requirement.name)] = spec.version
    return found


def test_the_build_installs_the_lock_only_with_hashes_and_no_resolution() -> None:
    makefile = (LAYER / "Makefile").read_text(encoding="utf-8")
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    assert installs == [
        "\t$(PYTHON) -m pip install $(PIP_TARGET) --no-deps --require-hashes -r requirements.lock"
    ]


def test_every_direct_pin_is_locked_at_its_version() -> None:
    lock = locked()
    for name in ("requirements.txt", "requirements-tracing.txt"):
        for package, version in pins(name).items():
            assert lock.get(package) == version, (name, package)


def test_the_lock_is_closed_under_the_layers_dependencies() -> None:
    """Each locked package's requirements (for CPython 3.13 on arm64 Linux) are locked too,
    save what the runtime provides: a missing one would be an ImportError in Lambda only."""
    lock = locked()
    environment = default_environment() | {
        "platform_machine": "aarch64",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "python_version": "3.13",
        "implementation_name": "cpython",
    }
    checked = set()
    for package, version in lock.items():
        try:
            installed = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            continue
        if installed.version != version:
            continue  # the dev venv has another version: its metadata says nothing of this one
        checked.add(package)
        for text in installed.requires or []:
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate(environment | {"extra": ""}):
                continue
            name = canonicalize_name(requirement.name)
            if name in RUNTIME_PROVIDED:
                continue
            assert name in lock, f"{package} {version} needs {requirement}, which is not locked"
            assert lock[name] in requirement.specifier, (package, requirement, lock[name])
    # The direct pins at least (their versions are the venv's, pinned in pyproject.toml).
    assert set(pins("requirements.txt")) <= checked
