"""`python -m bench [--quick] [--only warm,cold,memory,size,fleet,accounts]`: every figure of the
benchmarks, each next to its comparison measured in the same run; a table on stdout, the
figures in bench/results/latest.json, the fleet's in bench/results/fleet.json and its picture
in docs/polling.png.

--quick (what CI runs) takes few samples, only to prove the benchmarks still run: its figures
mean nothing, and its picture goes to bench/results/ so the committed one is not replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bench import accounts, cold, report, size
from bench.children import run_child
from bench.env import PROVIDERS, ROOT, BenchEnv
from bench.runtime_venv import runtime_env, runtime_python
from bench.stats import summary

RESULTS = ROOT / "bench" / "results"
PARTS = ("warm", "cold", "memory", "size", "fleet", "accounts")


def settings(quick: bool) -> dict[str, int]:
    if quick:
        return {
            "warm_calls": 60,
            "warmup": 10,
            "cold_runs": 2,
            "memory_calls": 300,
            "memory_mark": 50,
            "accounts": 100,
            "account_calls": 300,
            "account_mark": 150,
        }
    return {
        "warm_calls": 1000,
        "warmup": 100,
        "cold_runs": 15,
        "memory_calls": 2000,
        "memory_mark": 200,
        "accounts": 1000,
        "account_calls": 20000,
        "account_mark": 2000,
    }


def measure_warm(env: BenchEnv, calls: int, warmup: int) -> dict[str, Any]:
    providers: dict[str, Any] = {}
    for provider in PROVIDERS:
        target = env.targets[provider]
        job = {"spec": target.spec(), "calls": calls, "warmup": warmup}
        samples = run_child("bench.warm", job, env.child_env(provider))
        contenders = {name: summary(values) for name, values in samples.items()}
        ours, floor = contenders["ours"], contenders["floor"]
        row: dict[str, Any] = {
            "contenders": contenders,
            "ratio_median": ours["median"] / floor["median"],
            "ratio_p99": ours["p99"] / floor["p99"],
        }
        if "gr4vy_sdk" in contenders:
            row["ratio_sdk_over_ours"] = contenders["gr4vy_sdk"]["median"] / ours["median"]
        if "requests" in contenders:
            row["ratio_requests_over_ours"] = contenders["requests"]["median"] / ours["median"]
        providers[provider] = row
    return {"calls": calls, "warmup": warmup, "unit": "ns", "providers": providers}


def measure_memory(env: BenchEnv, calls: int, mark: int) -> dict[str, Any]:
    # On the function's own packages: the dev venv's extras would add to the RSS.
    python = runtime_python()
    providers = {
        provider: run_child(
            "bench.memory",
            {"spec": env.targets[provider].spec(), "calls": calls, "mark": mark},
            runtime_env(env.child_env(provider)),
            python=python,
        )
        for provider in PROVIDERS
    }
    return {"calls": calls, "mark": mark, "providers": providers}


def measure_fleet(quick: bool) -> tuple[dict[str, Any], str]:
    from bench import fleet_cost, fleet_sim

    result = fleet_sim.measure(quick=quick)
    written = fleet_sim.write(result, quick=quick)
    text = "\n".join(
        [
            "5. The fleet (bench/fleet_sim.py): "
            + ", ".join(str(p.relative_to(ROOT)) for p in written),
            fleet_cost.format_report(result),
        ]
    )
    return result, text


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                "",
            )
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": model,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few samples: proves it runs")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma list of {PARTS}")
    parser.add_argument("--out", default=str(RESULTS / "latest.json"))
    args = parser.parse_args(argv)
    parts = [p for p in args.only.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}")
    conf = settings(args.quick)
    started = time.monotonic()
    out: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": conf,
    }
    sections: list[str] = []
    if {"warm", "cold", "memory", "accounts"} & set(parts):
        with BenchEnv() as env:
            if "warm" in parts:
                out["warm"] = measure_warm(env, conf["warm_calls"], conf["warmup"])
                sections.append(report.format_warm(out["warm"]))
            if "cold" in parts:
                out["cold"] = cold.measure(env, conf["cold_runs"])
                sections.append(report.format_cold(out["cold"]))
            if "memory" in parts:
                out["memory"] = measure_memory(env, conf["memory_calls"], conf["memory_mark"])
                sections.append(report.format_memory(out["memory"]))
            if "accounts" in parts:
                out["accounts"] = accounts.measure(
                    env, conf["accounts"], conf["account_calls"], conf["account_mark"]
                )
                sections.append(accounts.format_accounts(out["accounts"]))
    if "size" in parts:
        out["size"] = size.measure()
        sections.append(report.format_size(out["size"]))
    if "fleet" in parts:
        out["fleet"], text = measure_fleet(args.quick)
        sections.append(text)
    bars = report.all_bars(out)
    if "fleet" in out:
        from bench import fleet_sim

        bars += fleet_sim.bars(out["fleet"])
    out["bars"] = [{"name": n, "value": v, "limit": lim, "passed": ok} for n, v, lim, ok in bars]
    out["seconds"] = round(time.monotonic() - started, 1)
    m = out["machine"]
    print(
        f"Benchmarks ({out['mode']}): {m['cpu'] or m['machine']}, {m['cpus']} CPUs, "
        f"Python {m['python']}, load {m['load_average'][0]:.2f}, {out['seconds']} s"
    )
    if args.quick:
        print("QUICK MODE: few samples; these figures prove the benchmarks run, nothing more.")
    for section in sections:
        print()
        print(section)
    if bars:
        print()
        print(report.format_bars(bars))
    path = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        json.dump(out, file, indent=2)
        file.write("\n")
    print(f"\nwrote {os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
