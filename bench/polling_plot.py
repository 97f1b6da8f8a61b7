"""docs/polling.png: worst detection delay against refund age, our schedule vs fixed polling,
with the contract's bar max(2 min, 25% of age). Points from
`bench.poller_cost.detection_delay_series`; drawn with matplotlib's Agg backend (no display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.env import ROOT
from bench.poller_cost import (
    BAR_DELAY_AGE_FRACTION,
    BAR_DELAY_FLOOR_SECONDS,
    DAY,
    STRATEGIES,
    detection_delay_series,
)

OUTPUT = ROOT / "docs" / "polling.png"
STYLE = {
    "schedule": ("tab:blue", "-"),
    "fixed_1min": ("tab:orange", "--"),
    "fixed_5min": ("tab:green", ":"),
}


def draw(path: Path = OUTPUT, *, points: int = 240, runs: int = 20) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ages = np.geomspace(30, 30 * DAY, points)
    figure, axes = plt.subplots(figsize=(9, 5.5), dpi=110)
    for strategy in STRATEGIES:
        series = detection_delay_series(strategy, ages, runs=runs)
        color, line = STYLE.get(strategy.key, ("black", "-"))
        axes.plot(
            [age / 3600 for age, _ in series],
            [delay / 60 for _, delay in series],
            color=color,
            linestyle=line,
            linewidth=1.6,
            label=strategy.label
            + (f" (worst of {runs} jittered runs)" if strategy.jittered else ""),
        )
    bar = np.maximum(BAR_DELAY_FLOOR_SECONDS, BAR_DELAY_AGE_FRACTION * ages)
    axes.plot(
        ages / 3600,
        bar / 60,
        color="tab:red",
        linewidth=1,
        alpha=0.7,
        label="bar: max(2 min, 25% of age)",
    )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("refund age when its status changes (hours, log)")
    axes.set_ylabel("worst detection delay (minutes, log)")
    axes.set_title("Refund poller: how late a status change is seen")
    axes.set_ylim(bottom=0.5)
    axes.grid(True, which="both", linewidth=0.3, alpha=0.5)
    axes.legend(loc="upper left", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fixed metadata, so an unchanged picture is byte-identical (no churn in git).
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
    return path
