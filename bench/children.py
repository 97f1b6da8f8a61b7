"""Running a measurement child: `python -m bench.<module>` with a job file in, JSON out."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.env import ROOT


def run_child(
    module: str,
    job: dict[str, Any],
    env: dict[str, str],
    *,
    python: str = sys.executable,
    timeout: float = 300,
) -> Any:
    """Run `python -m module JOB OUT`; its stdout (the function's logs and EMF) is discarded,
    as CloudWatch would take it; its stderr is shown only when it fails."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job_path.write_text(json.dumps(job))
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [python, "-m", module, str(job_path), str(out_path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{module} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return json.loads(out_path.read_text())
