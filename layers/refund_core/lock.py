"""Write requirements.lock: every wheel of the layer, pinned, with its sha256 (`make lock`).

The inputs are requirements.txt (resolved with dependencies) and requirements-tracing.txt
(without: see there), for the layer's platform (arm64 Linux, CPython 3.13, wheels only). The
build installs the lock with `--require-hashes --no-deps`, so a rebuild (a rollback, another
machine) ships the same bytes or fails; nothing resolves at build time.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLATFORM = [
    "--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.13",
    "--only-binary=:all:", "--disable-pip-version-check", "--quiet",
]  # fmt: skip


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        for requirements, extra in (
            ("requirements.txt", []),
            ("requirements-tracing.txt", ["--no-deps"]),
        ):
            subprocess.run(  # noqa: S603 - our own pip, our own files
                [sys.executable, "-m", "pip", "download", *PLATFORM, *extra, "-d", scratch,
                 "-r", str(HERE / requirements)],
                check=True,
            )  # fmt: skip
        lines = []
        for wheel in sorted(Path(scratch).glob("*.whl"), key=lambda p: p.name.lower()):
            name, version = wheel.name.split("-")[:2]
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            lines.append(
                f"{name.replace('_', '-').lower()}=={version} \\\n    --hash=sha256:{digest}"
            )
    header = (
        "# The layer's wheels, pinned with their hashes, written by `make -C layers/refund_core\n"
        "# lock` from requirements.txt and requirements-tracing.txt (arm64 Linux, CPython 3.13).\n"
        "# Do not edit: change those files, then run it again.\n"
    )
    (HERE / "requirements.lock").write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote requirements.lock: {len(lines)} wheels\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
