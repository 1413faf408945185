"""Time to proven optimality of the exact methods against the number of users and models.

For every size ``(users, models)`` and deadline regime it draws ``--seeds`` instances with
:func:`partialloading.scenarios.random_instance` (general sharing) and solves each with

* ``milp-compact`` — the compact MILP (common deadline only; with per-user deadlines it is not exact),
* ``milp-general`` — the position-based MILP,
* ``cpsat`` — the CP-SAT model,

each under ``--time-limit`` seconds. It prints one row per (size, method): how many instances
were proven optimal, the median and maximum time, and the mean gap of the unproven ones.
Methods on one row solve the same instances in the same run, so their times compare directly.

Examples::

    python benchmarks/exact_scaling.py                       # default grid, a few minutes
    python benchmarks/exact_scaling.py --sizes 40x10 --seeds 3 --methods milp-compact
    python benchmarks/exact_scaling.py --csv scaling.csv
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import statistics
import sys
from dataclasses import dataclass
from typing import Any

import partialloading as pl
from partialloading.errors import PartialLoadingError
from partialloading.scenarios import random_instance

METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "milp-compact": ("milp", {"formulation": "compact"}),
    "milp-general": ("milp", {"formulation": "general"}),
    "cpsat": ("cpsat", {}),
}
DEFAULT_SIZES = "10x4,20x6,40x10,80x10"


@dataclass(frozen=True)
class Row:
    """Aggregated results of one method on one size."""

    deadlines: str
    users: int
    models: int
    method: str
    solved: int
    runs: int
    median_s: float
    max_s: float
    mean_gap: float | None


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        users, _, models = part.strip().partition("x")
        sizes.append((int(users), int(models)))
    return sizes


def available(method: str) -> bool:
    name = METHODS[method][0]
    return importlib.util.find_spec(f"partialloading.solvers.{name}") is not None


def run(args: argparse.Namespace) -> list[Row]:
    rows = []
    for deadlines in args.deadlines:
        for users, models in parse_sizes(args.sizes):
            for method in args.methods:
                if method == "milp-compact" and deadlines == "per_user":
                    continue  # not exact with per-user deadlines (docs/formulation.md)
                name, options = METHODS[method]
                times, gaps, solved = [], [], 0
                for seed in range(args.seeds):
                    inst = random_instance(
                        seed, users, models, structure="general", deadlines=deadlines, tightness=args.tightness
                    )
                    try:
                        result = pl.solve(inst, name, time_limit=args.time_limit, seed=seed, **options)
                    except PartialLoadingError as exc:
                        print(f"  {method} {inst.name}: {exc}", file=sys.stderr)
                        times.append(args.time_limit)
                        continue
                    times.append(result.runtime)
                    if result.status == pl.Status.OPTIMAL:
                        solved += 1
                    elif result.gap is not None:
                        gaps.append(result.gap)
                row = Row(
                    deadlines,
                    users,
                    models,
                    method,
                    solved,
                    len(times),
                    statistics.median(times),
                    max(times),
                    statistics.mean(gaps) if gaps else None,
                )
                rows.append(row)
                print(format_row(row), flush=True)
    return rows


HEADER = (
    f"{'deadlines':<9} {'users':>5} {'models':>6} {'method':<13} {'optimal':>8} {'median s':>9} {'max s':>8} {'gap':>7}"
)


def format_row(row: Row) -> str:
    gap = "-" if row.mean_gap is None else f"{100 * row.mean_gap:.1f}%"
    return (
        f"{row.deadlines:<9} {row.users:>5} {row.models:>6} {row.method:<13} {row.solved:>4}/{row.runs:<3} "
        f"{row.median_s:>9.2f} {row.max_s:>8.2f} {gap:>7}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"USERSxMODELS,... (default {DEFAULT_SIZES})")
    parser.add_argument("--seeds", type=int, default=3, help="instances per size (default 3)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per run (default 60)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {', '.join(METHODS)}")
    parser.add_argument(
        "--deadlines", default="common", help="comma-separated subset of common, per_user (default common)"
    )
    parser.add_argument("--tightness", type=float, default=0.6, help="deadline / time to serve everyone (0.6)")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    args.deadlines = [d.strip() for d in args.deadlines.split(",") if d.strip()]
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}")
    missing = [m for m in args.methods if not available(m)]
    for m in missing:
        print(f"note: {m} skipped: its backend module is not installed in this checkout", file=sys.stderr)
    args.methods = [m for m in args.methods if m not in missing]
    print(
        f"time to proven optimality, general sharing, tightness {args.tightness}, "
        f"{args.seeds} seeds per size, limit {args.time_limit:g}s per run"
    )
    print(HEADER)
    rows = run(args)
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(Row.__dataclass_fields__)
            for r in rows:
                writer.writerow([getattr(r, f) for f in Row.__dataclass_fields__])
        print(f"table written to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
