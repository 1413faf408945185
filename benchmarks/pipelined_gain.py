"""How much pipelining adds over frame timing on the zoo scenarios (the tables of docs/results.md).

For each zoo family, two sweeps of ``study throughput`` with greedy (sharing and no sharing):
``timing`` swept over frame and pipelined at each deadline tightness, and at each uplink
bandwidth scale. Prints one Markdown table per sweep (tasks served, mean over seeds, and the
gain of pipelined over frame) and draws ``docs/figures/pipelined-gain.png``. Results are stored in
SQLite databases under ``--out`` and resumed when the script runs again.

Run::

    python benchmarks/pipelined_gain.py                      # 4 families, 10 seeds (~15 min on 2 cores)
    python benchmarks/pipelined_gain.py --seeds 2 --families zoo-heads   # quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from partialloading.study import Sweep, run_sweep
from partialloading.study.store import ResultStore

FAMILIES = ("zoo-heads", "zoo-freeze", "zoo-lora", "zoo-mixed")
TIGHTNESS = (0.2, 0.3, 0.5)
BANDWIDTH = (0.25, 1.0, 4.0)


def mean_served(db: Path, sweep: Sweep) -> dict[tuple[float, str, bool], float]:
    """Mean tasks served per (swept value, timing, sharing)."""
    with ResultStore(db) as store:
        rows = store.rows(t.key for t in sweep.tasks())
    cells: dict[tuple[float, str, bool], list[float]] = {}
    for row in rows:
        if row.objective is None:
            continue
        params = dict(row.task.params)
        cells.setdefault((float(params[sweep.fixed[0][0]]), str(params["timing"]), row.task.sharing), []).append(
            row.objective
        )
    return {key: statistics.fmean(values) for key, values in cells.items()}


def run(
    family: str, axis: str, values: tuple[float, ...], seeds: int, out: Path
) -> dict[tuple[float, str, bool], float]:
    merged: dict[tuple[float, str, bool], float] = {}
    for value in values:
        sweep = Sweep(
            family=family,
            parameter="timing",
            values=("frame", "pipelined"),
            methods=("greedy",),
            seeds=tuple(range(seeds)),
            time_limit=60.0,
            fixed=((axis, value),),
        )
        db = out / f"pipelined-{family}-{axis}.sqlite"
        run_sweep(sweep, db, progress=False)
        merged.update(mean_served(db, sweep))
    return merged


def table(family: str, axis: str, values: tuple[float, ...], cells: dict[tuple[float, str, bool], float]) -> str:
    lines = [
        f"| {family} {axis} | frame, sharing | pipelined, sharing | gain "
        "| frame, no sharing | pipelined, no sharing | gain |",
        "|---|---|---|---|---|---|---|",
    ]
    for value in values:
        row = [f"| {value:g}"]
        for sharing in (True, False):
            frame, pipe = cells[(value, "frame", sharing)], cells[(value, "pipelined", sharing)]
            gain = f"{100 * (pipe - frame) / frame:+.0f}%" if frame else "n/a"
            row += [f"{frame:.1f}", f"{pipe:.1f}", gain]
        lines.append(" | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder of the study databases (default out/)")
    parser.add_argument("--figure", type=Path, default=Path("docs/figures/pipelined-gain.png"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for family in args.families:
        for axis, values, ax in (("tightness", TIGHTNESS, axes[0]), ("bandwidth_scale", BANDWIDTH, axes[1])):
            cells = run(family, axis, values, args.seeds, args.out)
            print(table(family, axis, values, cells), end="\n\n")
            gains = [
                100 * (cells[(v, "pipelined", True)] - cells[(v, "frame", True)]) / max(cells[(v, "frame", True)], 1e-9)
                for v in values
            ]
            # Families with equal gains would hide each other: offset the markers a little.
            ax.plot(values, gains, marker="o", markersize=8 - 1.5 * args.families.index(family), label=family)
            ax.set_xlabel(axis.replace("_", " ") + (" (× default B)" if axis == "bandwidth_scale" else ""))
            if axis == "bandwidth_scale":
                ax.set_xscale("log")
                ax.minorticks_off()
            ax.set_xticks(values, [f"{v:g}" for v in values])
    axes[0].set_ylabel("tasks served: pipelined over frame (%)")
    axes[0].set_title("against deadline tightness (default B)")
    axes[1].set_title("against uplink bandwidth (tightness 0.5, the default)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle("greedy with parameter sharing: gain of pipelined over frame timing", fontsize=10)
    fig.tight_layout()
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=120)
    print(f"figure written to {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
