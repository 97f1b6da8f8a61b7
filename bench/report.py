"""The printed table: every figure next to what it is compared with, and the bars."""

from __future__ import annotations

from typing import Any

from bench.warm import GR4VY_SDK, REQUESTS

WARM_MEDIAN_BAR, WARM_P99_BAR, SDK_BAR = 1.3, 1.5, 2.0
COLD_BAR = 1.25
PEAK_RSS_BAR_MIB, GROWTH_BAR_MIB = 100.0, 2.0
ACCOUNTS_PEAK_RSS_BAR_MIB = 120.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def warm_bars(results: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    bars = []
    for provider, row in results["providers"].items():
        bars.append(
            (
                f"{provider}: ours/floor median",
                row["ratio_median"],
                f"<= {WARM_MEDIAN_BAR}",
                row["ratio_median"] <= WARM_MEDIAN_BAR,
            )
        )
        bars.append(
            (
                f"{provider}: ours/floor p99",
                row["ratio_p99"],
                f"<= {WARM_P99_BAR}",
                row["ratio_p99"] <= WARM_P99_BAR,
            )
        )
        if "ratio_sdk_over_ours" in row:
            value = row["ratio_sdk_over_ours"]
            bars.append((f"{provider}: SDK/ours median", value, f">= {SDK_BAR}", value >= SDK_BAR))
    return bars


def format_warm(results: dict[str, Any]) -> str:
    head = (
        f"{'provider':<13}{'contender':<18}{'median µs':>11}{'p99 µs':>10}"
        f"{'/floor med':>12}{'/floor p99':>12}"
    )
    lines = [
        f"1. Warm call ({results['calls']} interleaved calls, {results['warmup']} warm-up)",
        head,
        "-" * len(head),
    ]
    for provider, row in results["providers"].items():
        floor = row["contenders"]["floor"]
        for name, figures in row["contenders"].items():
            label = {
                "ours": "ours (handler)",
                "floor": "floor (httpx)",
                GR4VY_SDK: "gr4vy SDK",
                REQUESTS: "requests.Session",
            }.get(name, name)
            median, p99 = figures["median"], figures["p99"]
            lines.append(
                f"{provider:<13}{label:<18}{median / 1000:>11.0f}{p99 / 1000:>10.0f}"
                f"{median / floor['median']:>12.2f}{p99 / floor['p99']:>12.2f}"
            )
    return "\n".join(lines)


def format_cold(results: dict[str, Any]) -> str:
    head = (
        f"{'function':<13}{'import ms':>10}{'(base)':>9}{'1st answer ms':>15}{'(base)':>9}"
        f"{'ratio':>7}{'p99 ours':>10}{'modules':>9}"
    )
    lines = [
        f"2. Cold start (median of {results['runs']} fresh interpreters each; base = "
        "bench/baseline_handler.py, same run)",
        head,
        "-" * len(head),
    ]
    for provider, row in results["functions"].items():
        ours, base = row["ours"], row["baseline"]
        lines.append(
            f"{provider:<13}{ours['import_ms']['median']:>10.0f}{base['import_ms']['median']:>9.0f}"
            f"{ours['first_answer_ms']['median']:>15.0f}{base['first_answer_ms']['median']:>9.0f}"
            f"{row['ratio_first_answer']:>7.2f}{ours['first_answer_ms']['p99']:>10.0f}"
            f"{ours['modules_loaded']:>9}"
        )
    lines.append("   ten heaviest imports (-X importtime, cumulative ms, first answer included):")
    for provider, row in results["functions"].items():
        top = ", ".join(f"{i['module']} {i['cumulative_ms']:.0f}" for i in row["heaviest_imports"])
        lines.append(f"   {provider}: {top}")
    return "\n".join(lines)


def format_memory(results: dict[str, Any]) -> str:
    at_mark, at_end = f"RSS@{results['mark']}", f"RSS@{results['calls']}"
    head = f"{'provider':<13}{'peak RSS MiB':>13}{at_mark:>11}{at_end:>11}{'growth MiB':>12}"
    lines = [f"3. Memory (our handler alone, {results['calls']} calls)", head, "-" * len(head)]
    for provider, row in results["providers"].items():
        lines.append(
            f"{provider:<13}{row['peak_rss_mib']:>13.1f}{row['rss_at_mark_mib']:>11.1f}"
            f"{row['rss_at_end_mib']:>11.1f}{row['growth_mib']:>12.2f}"
        )
    return "\n".join(lines)


def format_size(results: dict[str, Any]) -> str:
    if "error" in results:
        return f"4. Package size: {results['error']}"
    head = f"{'artifact':<24}{'unzipped MB':>12}{'zipped MB':>11}{'files':>7}"
    lines = [
        f"4. Package size ({results['build_dir']}, zipped with deflate)",
        head,
        "-" * len(head),
    ]
    for name, row in results["artifacts"].items():
        flag = "  over 10 MB: see README" if row["over_limit"] else ""
        lines.append(
            f"{name:<24}{row['unzipped_mb']:>12.3f}{row['zipped_mb']:>11.3f}{row['files']:>7}{flag}"
        )
    if results.get("layer_packages"):
        top = ", ".join(
            f"{p['package']} {p['zipped_mb']:.1f}" for p in results["layer_packages"][:5]
        )
        lines.append(f"   largest in the layer (zipped MB): {top}")
    return "\n".join(lines)


def all_bars(report: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    bars = warm_bars(report["warm"]) if "warm" in report else []
    for provider, row in report.get("cold", {}).get("functions", {}).items():
        value = row["ratio_first_answer"]
        bars.append(
            (
                f"{provider}: cold first answer ours/baseline",
                value,
                f"<= {COLD_BAR}",
                value <= COLD_BAR,
            )
        )
    for provider, row in report.get("memory", {}).get("providers", {}).items():
        bars.append(
            (
                f"{provider}: peak RSS MiB",
                row["peak_rss_mib"],
                f"<= {PEAK_RSS_BAR_MIB:.0f}",
                row["peak_rss_mib"] <= PEAK_RSS_BAR_MIB,
            )
        )
        bars.append(
            (
                f"{provider}: RSS growth MiB",
                row["growth_mib"],
                f"< {GROWTH_BAR_MIB:.0f}",
                row["growth_mib"] < GROWTH_BAR_MIB,
            )
        )
    if "accounts" in report:
        row, count = report["accounts"]["ours"], report["accounts"]["accounts"]
        bars += [
            (
                f"accounts: Secrets Manager reads for {count} accounts",
                row["secret_reads"],
                f"<= {count}",
                row["secret_reads"] <= count,
            ),
            (
                "accounts: peak RSS MiB",
                row["peak_rss_mib"],
                f"<= {ACCOUNTS_PEAK_RSS_BAR_MIB:.0f}",
                row["peak_rss_mib"] <= ACCOUNTS_PEAK_RSS_BAR_MIB,
            ),
            (
                "accounts: RSS growth MiB",
                row["growth_mib"],
                f"< {GROWTH_BAR_MIB:.0f}",
                row["growth_mib"] < GROWTH_BAR_MIB,
            ),
        ]
    return bars


def format_bars(bars: list[tuple[str, float, str, bool]]) -> str:
    lines = ["Bars (read, not enforced: a noisy machine must not fail CI)"]
    lines += [f"  {verdict(ok)}  {name}: {value:.2f} ({limit})" for name, value, limit, ok in bars]
    return "\n".join(lines)
