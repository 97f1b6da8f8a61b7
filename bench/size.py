"""Package sizes: each function's code and the layer as `sam build` leaves them in
.aws-sam/build/<LogicalId>/, zipped in memory (deflate, as `sam deploy` uploads them)."""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from bench.env import ROOT

BUILD_DIR = ROOT / ".aws-sam" / "build"
LIMIT_ZIPPED_MB = 10.0  # over this, the README says why


def zipped_size(directory: Path) -> tuple[int, int, int]:
    """(bytes on disk, bytes zipped, files) for everything under `directory`."""
    buffer = io.BytesIO()
    raw = files = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, names in os.walk(directory):
            dirs.sort()
            for name in sorted(names):
                path = Path(root) / name
                raw += path.stat().st_size
                files += 1
                archive.write(path, path.relative_to(directory))
    return raw, len(buffer.getvalue()), files


def sam_build() -> None:
    """The Makefile's `make build` (same flags, fake credentials), when nothing is built yet."""
    subprocess.run(["make", "--no-print-directory", "build"], cwd=ROOT, check=True)  # noqa: S607


def measure(*, build_if_missing: bool = True) -> dict[str, Any]:
    if not BUILD_DIR.is_dir() and build_if_missing:
        sam_build()
    if not BUILD_DIR.is_dir():
        return {"error": f"{BUILD_DIR} is missing: run `make build`"}
    artifacts: dict[str, Any] = {}
    for directory in sorted(p for p in BUILD_DIR.iterdir() if p.is_dir()):
        raw, zipped, files = zipped_size(directory)
        artifacts[directory.name] = {
            "unzipped_mb": raw / 1e6,
            "zipped_mb": zipped / 1e6,
            "files": files,
            "over_limit": zipped / 1e6 > LIMIT_ZIPPED_MB,
        }
    layer = BUILD_DIR / "RefundCoreLayer" / "python"
    biggest: list[dict[str, Any]] = []
    if layer.is_dir():
        for entry in layer.iterdir():
            if entry.is_dir() and not entry.name.endswith((".dist-info", ".data")):
                raw, zipped, _ = zipped_size(entry)
                biggest.append(
                    {"package": entry.name, "unzipped_mb": raw / 1e6, "zipped_mb": zipped / 1e6}
                )
        biggest.sort(key=lambda row: -row["zipped_mb"])
    return {
        "build_dir": str(BUILD_DIR.relative_to(ROOT)),
        "artifacts": artifacts,
        "layer_packages": biggest[:8],
    }
