"""Print the summary tables and headline figures of ``docs/results.md`` from the study CSVs.

The ``partialloading study`` commands listed in ``docs/results.md`` write one CSV per sweep
(``docs/figures/*.csv``, plus ``*-gains.csv`` with paired gains). This script only rearranges
those numbers into the Markdown tables of the report and prints the figures its text quotes::

    python benchmarks/results_tables.py                  # every table, then the headline figures
    python benchmarks/results_tables.py --figures DIR    # CSVs elsewhere
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

TIGHTNESS_FAMILIES = {"zoo-heads": "dp", "zoo-lora": "dp", "zoo-freeze": "milp", "zoo-mixed": "milp"}
"""Zoo scenarios of the tightness sweeps and the exact method that gives their optimum."""

TIGHT_VALUES = (0.2, 0.3, 0.4, 0.5)
SWEEPS = (
    ("zoo-freeze-depth", "frozen_fraction"),
    ("zoo-mixed-n_users", "n_users"),
    ("zoo-mixed-bandwidth", "bandwidth_scale"),
    ("zoo-mixed-load-speed", "load_speed_scale"),
)
SHARING = "greedy (sharing)"
BASELINES = ("greedy (no sharing)", "edf (sharing)", "edf (no sharing)")


def read(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def pct(gain: str) -> str:
    return "–" if gain == "" else f"{100 * float(gain):+.0f}%"


class Sweep:
    """The aggregate points and paired gains of one throughput sweep."""

    def __init__(self, folder: Path, name: str) -> None:
        self.points = read(folder, f"throughput-{name}.csv")
        self.gains = read(folder, f"throughput-{name}-gains.csv")

    def values(self) -> list[str]:
        return list(dict.fromkeys(p["value"] for p in self.points))

    def mean(self, value: float, method: str, sharing: bool) -> float:
        return float(self._point(value, method, sharing)["served_mean"])

    def cell(self, value: float, method: str, sharing: bool) -> str:
        p = self._point(value, method, sharing)
        return f"{float(p['served_mean']):.2f} ± {float(p['served_ci95'] or 0):.2f}"

    def gain(self, value: float, baseline: str) -> str:
        for row in self.gains:
            if float(row["value"]) == value and row["variant"] == SHARING and row["baseline"] == baseline:
                return row["gain"]
        raise KeyError((value, baseline))

    def _point(self, value: float, method: str, sharing: bool) -> dict[str, str]:
        for p in self.points:
            if float(p["value"]) == value and p["method"] == method and p["sharing"] == str(sharing):
                return p
        raise KeyError((value, method, sharing))


def baseline_cells(sweep: Sweep, value: float) -> str:
    cells = []
    for baseline, (method, sharing) in zip(BASELINES, (("greedy", False), ("edf", True), ("edf", False)), strict=True):
        cells.append(f"{sweep.cell(value, method, sharing)} ({pct(sweep.gain(value, baseline))})")
    return " | ".join(cells)


def tightness_table(folder: Path) -> None:
    columns = ("optimum, sharing", "greedy, sharing", "greedy, no sharing", "edf, sharing", "edf, no sharing")
    print("| scenario | tightness | " + " | ".join(columns) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for family, exact in TIGHTNESS_FAMILIES.items():
        sweep = Sweep(folder, f"{family}-tightness")
        for v in TIGHT_VALUES:
            print(
                f"| {family} | {v:g} | {sweep.cell(v, exact, True)} | {sweep.cell(v, 'greedy', True)} | "
                f"{baseline_cells(sweep, v)} |"
            )


def sweep_table(folder: Path, name: str, param: str) -> None:
    sweep = Sweep(folder, name)
    print(f"| {param} | greedy, sharing | greedy, no sharing | edf, sharing | edf, no sharing |")
    print("|---:|---:|---:|---:|---:|")
    for raw in sweep.values():
        v = float(raw)
        print(f"| {raw} | {sweep.cell(v, 'greedy', True)} | {baseline_cells(sweep, v)} |")


def headline(folder: Path) -> None:
    print("Gain of greedy with sharing at tightness 0.3, over: " + ", ".join(BASELINES))
    worst = 0.0
    for family, exact in TIGHTNESS_FAMILIES.items():
        sweep = Sweep(folder, f"{family}-tightness")
        print(f"  {family}: " + ", ".join(pct(sweep.gain(0.3, b)) for b in BASELINES))
        for raw in sweep.values():
            v = float(raw)
            worst = max(worst, sweep.mean(v, exact, True) - sweep.mean(v, "greedy", True))
    print(f"Largest mean shortfall of greedy from the optimum over the tightness sweeps: {worst:.2f} tasks")
    gaps = read(folder, "gap-common.csv") + read(folder, "gap-per-user.csv")
    small = [r for r in gaps if r["method"] == "greedy" and int(r["value"]) <= 10]
    large = [r for r in read(folder, "gap-common.csv") if r["method"] == "greedy" and int(r["value"]) > 10]
    print(
        f"Greedy optimal on {sum(int(r['n_optimal']) for r in small)} of {sum(int(r['n']) for r in small)} "
        "instances with at most 10 users"
    )
    print(
        f"Greedy not optimal on {sum(int(r['n']) - int(r['n_optimal']) for r in large)} of "
        f"{sum(int(r['n']) for r in large)} instances with 15-20 users; worst gap "
        f"{100 * max(float(r['max']) for r in large):.1f}%"
    )
    edf = [r for r in gaps if r["method"] == "edf" and r["mean"]]
    print(
        f"edf mean gap per row {100 * min(float(r['mean']) for r in edf):.0f}–"
        f"{100 * max(float(r['mean']) for r in edf):.0f}%, worst {100 * max(float(r['max']) for r in edf):.0f}%"
    )


ONLINE = (("zoo-heads", "20", "100"), ("zoo-freeze", "40", "160"), ("zoo-mixed", "10", "100"), ("zoo-lora", "2", "20"))
"""The serving sweeps of section 5 and the lightest and heaviest rates the table quotes."""


def _paired(gains: list[dict[str, str]], value: str, baseline: str) -> str:
    row = next(r for r in gains if r["value"] == value and r["baseline"] == baseline)
    mean, ci = float(row["diff_mean"]), float(row["diff_ci95"])
    return "0" if mean == 0 and ci == 0 else f"{100 * mean:+.1f} ± {100 * ci:.1f} pts"


def online_table(folder: Path) -> None:
    """Section 5's table: greedy's on-time fraction and its paired gains, lightest and heaviest load."""
    print("| scenario | rate (req/s) | greedy on time | − no sharing | − edf | − fifo |")
    print("|---|---:|---:|---:|---:|---:|")
    for family, *values in ONLINE:
        means, gains = read(folder, f"online-{family}-rate.csv"), read(folder, f"online-{family}-rate-gains.csv")
        for value in values:
            greedy = next(r for r in means if r["value"] == value and r["policy"] == "greedy")
            cells = [_paired(gains, value, b) for b in ("greedy/no-sharing", "edf", "fifo")]
            print(f"| `{family}` | {value} | {100 * float(greedy['on_time_mean']):.1f}% | " + " | ".join(cells) + " |")


def online_headline(folder: Path) -> None:
    """The figures section 5's text quotes: burstiness and planning time."""
    cv = read(folder, "online-zoo-heads-cv.csv")
    for policy in ("greedy", "edf", "fifo"):
        rows = {r["value"]: float(r["on_time_mean"]) for r in cv if r["policy"] == policy}
        print(f"zoo-heads at 60/s, {policy} on time: CV 0.5 {100 * rows['0.5']:.1f}%, CV 4 {100 * rows['4']:.1f}%")
    gains = read(folder, "online-zoo-heads-cv-gains.csv")
    for baseline in ("edf", "fifo"):
        low, high = (_paired(gains, v, baseline) for v in ("0.5", "4"))
        print(f"  greedy's lead over {baseline}: CV 0.5 {low}, CV 4 {high}")
    for family, *_values in ONLINE:
        for row in read(folder, f"online-{family}-rate.csv"):
            if row["policy"] == "greedy":
                print(
                    f"{family} at {row['value']}/s: greedy plans in {float(row['planning_mean_ms']):.1f} ms "
                    f"on average (max {float(row['planning_max_ms']):.0f} ms), GPU busy "
                    f"{100 * float(row['gpu_busy_mean']):.0f}%"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent.parent / "docs" / "figures"
    parser.add_argument("--figures", type=Path, default=default, help="folder of the study CSVs")
    args = parser.parse_args()
    tightness_table(args.figures)
    for name, param in SWEEPS:
        print()
        sweep_table(args.figures, name, param)
    print()
    headline(args.figures)
    print()
    online_table(args.figures)
    print()
    online_headline(args.figures)


if __name__ == "__main__":
    main()
