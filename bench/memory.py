"""Memory of a warm process: our handler alone (no comparison clients imported), `calls`
REST calls; RSS after call `mark` and after the last, and the peak (VmHWM).

Child side: `python -m bench.memory JOB OUT`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size now (Linux: /proc/self/statm, second field, in pages)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def peak_rss_bytes() -> int:
    """This process image's high-water RSS (VmHWM). Not ru_maxrss: Linux carries that over
    fork + exec, so a child would report its parent's (moto and the sandboxes) peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_child(spec: dict[str, Any], calls: int, mark: int) -> dict[str, float]:
    from bench.warm import build_ours

    call = build_ours(spec)
    at_mark = 0
    for index in range(1, calls + 1):
        call()
        if index == mark:
            at_mark = rss_bytes()
    at_end = rss_bytes()
    peak = peak_rss_bytes()
    mib = 1024 * 1024
    return {
        "calls": calls,
        "mark": mark,
        "rss_at_mark_mib": at_mark / mib,
        "rss_at_end_mib": at_end / mib,
        "growth_mib": (at_end - at_mark) / mib,
        "peak_rss_mib": peak / mib,
    }


def child_main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    figures = run_child(job["spec"], job["calls"], job["mark"])
    Path(argv[1]).write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
