"""Time to proven optimality of the exact methods against the number of users and models.

For every size ``(users, models)`` and deadline regime it draws ``--seeds`` instances with
:func:`partialloading.scenarios.random_instance` (general sharing) and solves each with

* ``milp-compact`` — the compact MILP (common deadline only; with per-user deadlines it is not exact),
* ``milp-general`` — the position-based MILP,
* ``cpsat`` — the CP-SAT model,

each under ``--time-limit`` seconds, from greedy's warm start (``--cold``: the models alone, as
``docs/formulation.md`` §11 reports them). It prints one row per (size, method): how many instances
were proven optimal, the median and maximum time, and the mean gap of the unproven ones.
Methods on one row solve the same instances in the same run, so their times compare directly.

Examples::

    python benchmarks/exact_scaling.py                       # default grid, a few minutes
    python benchmarks/exact_scaling.py --sizes 40x10 --seeds 3 --methods milp-compact
    python benchmarks/exact_scaling.py --csv scaling.csv

``--mid`` runs the per-user-deadline mid-size section instead: the ``general`` and ``backbone``
scenario families (6 models, per-user deadlines, tightness 0.5) at 20, 30, 40 and 60 users with
integer weights 1–3, each solved by ``greedy`` (default settings) and by ``bnb``, ``cpsat`` and
``milp`` under ``--time-limit`` (60 s by default). For each exact method and size it reports how many
runs were proven optimal, the median time to proof of those, the median final gap
``(bound − objective)/bound`` of the others, how its incumbent compares with greedy's
(below / equal / above) and, for ``bnb``, the median nodes per second of its searches (from its
``info["certificate"]``; ``-`` where greedy's start was proven and the search never ran);
where several methods prove an instance, their optima must agree (the
run exits 1 otherwise). ``--cold`` starts the exact methods from nothing (``initial=[]``), as
they did before the warm start; the weights are drawn by this script, so the instances are the
same for every version of the package (``--label`` names the run in the table)::

    python benchmarks/exact_scaling.py --mid --seeds 3           # about 40 minutes
    python benchmarks/exact_scaling.py --mid --seeds 3 --cold    # the same instances, cold starts
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.util
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import partialloading as pl
from partialloading import scenarios
from partialloading.errors import PartialLoadingError
from partialloading.instance import Instance
from partialloading.params import parse_assignments
from partialloading.scenarios import random_instance
from partialloading.validation.verify import verify_solution

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
                        extra: dict[str, Any] = {"initial": []} if args.cold else {}
                        result = pl.solve(inst, name, time_limit=args.time_limit, seed=seed, **options, **extra)
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


MID_SIZES = (20, 30, 40, 60)
MID_FAMILIES = ("general", "backbone")
MID_METHODS = ("bnb", "cpsat", "milp")


def mid_instance(family: str, seed: int, users: int, deadlines: str = "per_user", models: int = 6) -> Instance:
    """An instance of ``family`` with ``models`` models, per-user deadlines unless ``deadlines`` says
    otherwise, weights 1–3 (seeded)."""
    inst = scenarios.generate(family, seed, n_users=users, deadlines=deadlines, n_models=models)
    weights = np.random.default_rng(1000 + seed).integers(1, 4, inst.num_users)
    users_w = tuple(dataclasses.replace(u, weight=int(w)) for u, w in zip(inst.users, weights, strict=True))
    return dataclasses.replace(inst, users=users_w, name=f"{inst.name}-s{seed}-w3")


@dataclass(frozen=True)
class MidRow:
    """One exact method on one (family, size) of the mid-size section."""

    family: str
    users: int
    method: str
    start: str
    proven: int
    runs: int
    median_proof_s: float | None
    median_gap: float | None
    below_greedy: int
    equal_greedy: int
    above_greedy: int
    mean_objective: float
    mean_greedy: float
    nodes_per_s: float | None = None


def run_mid(args: argparse.Namespace) -> tuple[list[MidRow], list[str]]:
    """The mid-size rows, and every instance on which two methods proved different optima."""
    rows = []
    proven: dict[str, dict[str, float]] = {}  # instance name → method → proven optimum
    for users in args.mid_sizes:
        gaps_by_method: dict[str, list[float]] = {}  # every family of this size
        for family in MID_FAMILIES:
            seeds = range(args.first_seed, args.first_seed + args.seeds)
            instances = [mid_instance(family, seed, users, models=args.models) for seed in seeds]
            greedy = [pl.solve(inst, "greedy", seed=seed) for seed, inst in zip(seeds, instances, strict=True)]
            for method in args.methods:
                proofs, gaps, objectives, rates = [], [], [], []
                below = equal = above = 0
                for seed, inst, ref in zip(seeds, instances, greedy, strict=True):
                    extra: dict[str, Any] = {"initial": []} if args.cold else {}
                    if args.param:
                        extra["params"] = args.param
                    result = pl.solve(inst, method, time_limit=args.time_limit, seed=seed, **extra)
                    if not verify_solution(inst, result.to_dict()).ok:
                        raise SystemExit(f"{method} {inst.name}: the verifier rejects the schedule")
                    objectives.append(result.objective)
                    certificate = result.info.get("certificate")
                    if isinstance(certificate, dict) and certificate["search_s"] > 0:
                        rates.append(certificate["nodes"] / certificate["search_s"])
                    if result.status == pl.Status.OPTIMAL:
                        proofs.append(result.runtime)
                        proven.setdefault(inst.name, {})[method] = result.objective
                    elif result.gap is not None:
                        gaps.append(result.gap)
                    # Every run, proven ones at 0: the median gap over both families.
                    gaps_by_method.setdefault(method, []).append(0.0 if result.gap is None else result.gap)
                    diff = result.objective - ref.objective
                    below += diff < -1e-9
                    equal += abs(diff) <= 1e-9
                    above += diff > 1e-9
                row = MidRow(
                    family,
                    users,
                    method,
                    args.label or ("cold" if args.cold else "warm"),
                    len(proofs),
                    len(instances),
                    statistics.median(proofs) if proofs else None,
                    statistics.median(gaps) if gaps else None,
                    below,
                    equal,
                    above,
                    statistics.mean(objectives),
                    statistics.mean(r.objective for r in greedy),
                    statistics.median(rates) if rates else None,
                )
                rows.append(row)
                print(format_mid(row), flush=True)
        for method, every in gaps_by_method.items():
            print(f"{'both':<9} {users:>5} {method:<6} median gap of all {len(every)} runs (a proof: 0) "
                  f"{100 * statistics.median(every):.1f}%", flush=True)  # fmt: skip
    both = {name: optima for name, optima in proven.items() if len(optima) > 1}
    differ = [
        f"{name}: " + ", ".join(f"{m}={v:g}" for m, v in optima.items())
        for name, optima in both.items()
        if max(optima.values()) - min(optima.values()) > 1e-6
    ]
    print(f"instances proven by more than one method: {len(both)}; optima differ on {len(differ)}")
    return rows, differ


MID_HEADER = (
    f"{'family':<9} {'users':>5} {'method':<6} {'start':<6} {'proven':>7} {'proof s':>8} {'gap':>7} "
    f"{'<greedy':>8} {'=greedy':>8} {'>greedy':>8} {'mean obj':>9} {'greedy':>7} {'nodes/s':>8}"
)


def format_mid(row: MidRow) -> str:
    proof = "-" if row.median_proof_s is None else f"{row.median_proof_s:.1f}"
    gap = "-" if row.median_gap is None else f"{100 * row.median_gap:.1f}%"
    return (
        f"{row.family:<9} {row.users:>5} {row.method:<6} {row.start:<6} {row.proven:>3}/{row.runs:<3} {proof:>8} "
        f"{gap:>7} {row.below_greedy:>8} {row.equal_greedy:>8} {row.above_greedy:>8} {row.mean_objective:>9.1f} "
        f"{row.mean_greedy:>7.1f} {'-' if row.nodes_per_s is None else f'{row.nodes_per_s:.0f}':>8}"
    )


HEADER = (
    f"{'deadlines':<9} {'users':>5} {'models':>6} {'method':<13} {'optimal':>8} {'median s':>9} {'max s':>8} {'gap':>7}"
)


def format_row(row: Row) -> str:
    gap = "-" if row.mean_gap is None else f"{100 * row.mean_gap:.1f}%"
    return (
        f"{row.deadlines:<9} {row.users:>5} {row.models:>6} {row.method:<13} {row.solved:>4}/{row.runs:<3} "
        f"{row.median_s:>9.2f} {row.max_s:>8.2f} {gap:>7}"
    )


def method_list(parser: argparse.ArgumentParser, text: str | None, known: tuple[str, ...]) -> list[str]:
    """The ``--methods`` list (default: all of ``known``); an unknown name is a usage error."""
    methods = list(known) if text is None else [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in known]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)} (choose from {', '.join(known)})")
    return methods


def write_csv(path: str, rows: Sequence[Row] | Sequence[MidRow]) -> None:
    """Write ``rows`` (one kind of row dataclass) as CSV with a header."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        if rows:
            fields = list(type(rows[0]).__dataclass_fields__)
            writer.writerow(fields)
            for r in rows:
                writer.writerow([getattr(r, f) for f in fields])
    print(f"table written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"USERSxMODELS,... (default {DEFAULT_SIZES})")
    parser.add_argument("--seeds", type=int, default=3, help="instances per size (default 3)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per run (default 60)")
    parser.add_argument(
        "--methods",
        default=None,
        help=f"comma-separated subset of {', '.join(METHODS)} (--mid: of {', '.join(MID_METHODS)}; default all)",
    )
    parser.add_argument(
        "--deadlines", default="common", help="comma-separated subset of common, per_user (default common)"
    )
    parser.add_argument("--tightness", type=float, default=0.6, help="deadline / time to serve everyone (0.6)")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--mid", action="store_true", help="run the per-user-deadline mid-size section instead")
    parser.add_argument(
        "--cold", action="store_true", help="start the exact methods from nothing (the models alone, no warm start)"
    )
    parser.add_argument("--models", type=int, default=6, help="--mid: models per instance (default 6)")
    parser.add_argument("--first-seed", type=int, default=0, help="--mid: the first seed (default 0)")
    parser.add_argument("--label", help="--mid: text of the start column (e.g. the version of the package)")
    parser.add_argument(
        "--mid-sizes", default=",".join(map(str, MID_SIZES)), help="--mid: numbers of users (default 20,30,40,60)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="--mid: a parameter of the methods run (e.g. path_bound=false for bnb); repeatable",
    )
    args = parser.parse_args(argv)
    args.param = parse_assignments(args.param)
    if args.mid:
        args.methods = method_list(parser, args.methods, MID_METHODS)
        args.mid_sizes = [int(x) for x in args.mid_sizes.split(",")]
        print(
            f"per-user deadlines, weights 1-3, {args.seeds} seeds per size, limit {args.time_limit:g}s per run, "
            f"{args.label or ('cold' if args.cold else 'warm')} starts"
        )
        print(MID_HEADER)
        mid_rows, differ = run_mid(args)
        for line in differ:
            print(f"optima differ: {line}", file=sys.stderr)
        if args.csv:
            write_csv(args.csv, mid_rows)
        return 1 if differ else 0
    args.methods = method_list(parser, args.methods, tuple(METHODS))
    args.deadlines = [d.strip() for d in args.deadlines.split(",") if d.strip()]
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
        write_csv(args.csv, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
