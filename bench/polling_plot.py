"""docs/polling.png: how late the fleet sees a refund become final, against its age then, from
`bench.fleet_sim`'s result (its refunds within budget, in log-spaced age bins), with the
contract's bar max(2 min, 25% of age) and what fixed 1- and 5-minute polling would give.
Drawn with matplotlib's Agg backend (no display)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.env import ROOT

OUTPUT = ROOT / "docs" / "polling.png"


def draw(result: Mapping[str, Any], path: Path = OUTPUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["detection_by_age"]
    ages = [(r["age_from_seconds"] * r["age_to_seconds"]) ** 0.5 / 3600 for r in rows]
    figure, axes = plt.subplots(figsize=(9, 5.5), dpi=110)
    axes.plot(
        ages,
        [r["worst_delay_seconds"] / 60 for r in rows],
        color="tab:blue",
        linewidth=1.8,
        label=f"the fleet: worst of {result['refunds_simulated']:,} refunds",
    )
    axes.plot(
        ages,
        [r["median_delay_seconds"] / 60 for r in rows],
        color="tab:blue",
        linewidth=1,
        linestyle=":",
        label="the fleet: median",
    )
    axes.plot(
        ages,
        [r["bar_seconds_at_middle"] / 60 for r in rows],
        color="tab:red",
        linewidth=1,
        alpha=0.7,
        label="bar: max(2 min, 25% of age)",
    )
    for minutes, style in ((1, "--"), (5, "-.")):
        axes.plot(
            ages,
            [minutes] * len(ages),
            color="tab:gray",
            linestyle=style,
            linewidth=1,
            label=f"fixed {minutes}-minute polling (worst)",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("refund age when it became final (hours, log)")
    axes.set_ylabel("detection delay (minutes, log)")
    axes.set_title("The fleet: how late a final status is seen")
    axes.grid(True, which="both", linewidth=0.3, alpha=0.5)
    axes.legend(loc="upper left", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata, so an unchanged picture is byte-identical (no churn in git).
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
    return path
