"""Cold starts: each sample a fresh interpreter (`python -m bench._cold`), ours and the
baseline (bench/baseline_handler.py) alternating, so a noisy moment hits both.

Figures per function: time to import the handler module, and time to the first answer
(import + the first Secrets Manager fetch from moto + the first provider call). Plus, from one
more run under `-X importtime`, the ten heaviest imports (cumulative) of our function's cold
start, first answer included.

Both run on `.bench-venv` (bench/runtime_venv.py): the packages a deployed function has, not
the dev venv's.
"""

from __future__ import annotations

import json
import marshal
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.env import PROVIDERS, ROOT, BenchEnv
from bench.lambda_stub import rest_event
from bench.runtime_venv import runtime_env, runtime_python
from bench.stats import summary

KINDS = ("ours", "baseline")
_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _run(
    env: BenchEnv, kind: str, provider: str, event_path: Path, tmp: Path, *flags: str
) -> tuple[dict[str, Any], str]:
    out = tmp / f"{kind}.json"
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [runtime_python(), *flags, "-m", "bench._cold", kind, provider, str(event_path), str(out)],
        cwd=ROOT,
        env=runtime_env(env.child_env(provider, BASELINE_PROVIDER=provider)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start of {kind}/{provider} failed:\n{done.stderr[-4000:]}")
    return json.loads(out.read_text()), done.stderr


def heaviest_imports(stderr: str, count: int = 10) -> list[dict[str, Any]]:
    """The `count` top-level-ish imports with the largest cumulative time, nested ones left
    out when their parent is already listed (so the list is ten different costs)."""
    rows = []
    for match in _IMPORTTIME.finditer(stderr):
        self_us, cumulative_us, indent, name = match.groups()
        rows.append((int(cumulative_us), int(self_us), len(indent) // 2, name))
    rows.sort(reverse=True)
    chosen: list[tuple[int, int, int, str]] = []
    for row in rows:
        if any(row[3].startswith(parent[3] + ".") for parent in chosen):
            continue
        chosen.append(row)
        if len(chosen) == count:
            break
    return [{"module": n, "cumulative_ms": c / 1000, "self_ms": s / 1000} for c, s, _, n in chosen]


def measure(env: BenchEnv, runs: int, providers: tuple[str, ...] = PROVIDERS) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp_name:
        tmp = Path(tmp_name)
        for provider in providers:
            event_path = tmp / f"{provider}.event"
            event_path.write_bytes(
                marshal.dumps(rest_event(provider, env.targets[provider].refund_id))
            )
            samples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
            for run in range(runs):
                # Alternate which goes first: the second of a pair finds warmer OS caches.
                order = KINDS if run % 2 == 0 else KINDS[::-1]
                for kind in order:
                    figures, _ = _run(env, kind, provider, event_path, tmp)
                    samples[kind].append(figures)
            _, importtime = _run(env, "ours", provider, event_path, tmp, "-X", "importtime")
            results[provider] = {
                kind: {
                    "import_ms": summary([s["import_s"] * 1000 for s in samples[kind]]),
                    "first_answer_ms": summary([s["first_answer_s"] * 1000 for s in samples[kind]]),
                    "modules_loaded": samples[kind][0]["modules"],
                }
                for kind in KINDS
            }
            results[provider]["heaviest_imports"] = heaviest_imports(importtime)
            ours = results[provider]["ours"]["first_answer_ms"]["median"]
            base = results[provider]["baseline"]["first_answer_ms"]["median"]
            results[provider]["ratio_first_answer"] = ours / base
    return {"runs": runs, "functions": results}
