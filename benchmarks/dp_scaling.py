"""Runtime and memory of the backbone DP against the number of users, side by side with the time to
read and validate the same instance file, and with the MILP and CP-SAT where they still finish.

For every size ``K`` (default 1e2 … 1e5 users) it draws one backbone-sharing, common-deadline
instance with :func:`partialloading.scenarios.random_instance` — ``min(400, max(4, K/25))``
models in a tenth as many clusters (10,000 users: 400 models in 40 clusters), deadline at
``--tightness`` of the time to serve everyone — writes it to a temporary file and measures, in
the same process:

* ``read s`` — :func:`partialloading.io.read_instance` (JSON, schema, data model), median of
  ``--repeats``;
* ``dp s`` — :func:`partialloading.solve` with ``method="dp"`` (backend time as reported in
  ``Result.runtime``; the instance's cached arrays are built beforehand by a first solve), median;
* ``dp/read`` — their ratio;
* ``peak MB`` — peak Python heap during one DP solve (``tracemalloc``, separate run);
* ``states`` — DP states kept (array entries over all folds);
* ``plain s`` / ``plain states`` — one run of the recursion without the Lagrangian pruning
  (``prune=False``), which must reach the same objective;
Then it fits ``time ∝ K^α`` by least squares on log–log scales (sizes ≥ ``--fit-from``).

A second table compares the DP with the MILP and CP-SAT (time to proven optimality under
``--time-limit``, same generator) on the smaller ``--exact-sizes``; a method that fails to prove
optimality at one size is not run on larger ones, and every proven objective must equal the DP's.

Example (the table in docs/dp.md)::

    python benchmarks/dp_scaling.py
    python benchmarks/dp_scaling.py --sizes 100 1000 10000 --exact-sizes   # quick, DP only
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

import partialloading as pl
from partialloading.instance import Instance
from partialloading.io import read_instance, write_instance
from partialloading.scenarios import random_instance

DEFAULT_SIZES = (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)
EXACT_SIZES = (10, 20, 40, 70, 100, 150, 200, 300)


def instance_for(users: int, seed: int, tightness: float) -> Instance:
    models = min(400, max(4, users // 25))
    return random_instance(
        seed,
        users,
        models,
        structure="backbone",
        n_clusters=max(1, models // 10),
        deadlines="common",
        tightness=tightness,
        name=f"dp-scaling-u{users}",
    )


def median_time(func: object, repeats: int) -> tuple[float, object]:
    times = []
    value = None
    for _ in range(repeats):
        started = time.perf_counter()
        value = func()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def fit_exponent(sizes: list[int], times: list[float]) -> float:
    """Least-squares slope of log(time) against log(size)."""
    slope, _ = np.polyfit(np.log(sizes), np.log(times), 1)
    return float(slope)


def exact_time(inst: Instance, method: str, time_limit: float) -> tuple[float | None, float | None]:
    """(runtime, objective) when ``method`` proves optimality within the limit, else (None, None)."""
    try:
        res = pl.solve(inst, method, time_limit=time_limit)
    except pl.PartialLoadingError as exc:
        print(f"    {method} on {inst.num_users} users: {exc}", file=sys.stderr)
        return None, None
    if res.status is not pl.Status.OPTIMAL:
        return None, None
    return res.runtime, res.objective


def scaling_table(args: argparse.Namespace) -> None:
    header = (
        f"| {'users':>7} | {'models':>6} | {'served':>7} | {'read s':>8} | {'dp s':>8} | {'dp/read':>7} | "
        f"{'peak MB':>7} | {'states':>8} | {'plain s':>8} | {'plain states':>12} |"
    )
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    sizes: list[int] = []
    dp_times: list[float] = []
    read_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for users in args.sizes:
            inst = instance_for(users, args.seed, args.tightness)
            path = Path(tmp) / f"u{users}.json"
            write_instance(inst, path)
            read_s, loaded = median_time(lambda p=path: read_instance(p), args.repeats)
            assert isinstance(loaded, Instance)
            first = pl.solve(loaded, "dp")  # builds the instance's cached arrays once
            dp_s = statistics.median(pl.solve(loaded, "dp").runtime for _ in range(args.repeats))
            tracemalloc.start()
            pl.solve(loaded, "dp")
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
            plain = pl.solve(loaded, "dp", prune=False)
            if plain.objective != first.objective:
                raise SystemExit(f"pruned DP {first.objective} != plain DP {plain.objective} at {users} users")
            sizes.append(users)
            dp_times.append(dp_s)
            read_times.append(read_s)
            print(
                f"| {users:>7} | {loaded.num_models:>6} | {len(first.solution.order):>7} | {read_s:>8.3f} | "
                f"{dp_s:>8.4f} | {dp_s / read_s:>7.2f} | {peak:>7.1f} | {first.info['states']:>8} | "
                f"{plain.runtime:>8.3f} | {plain.info['states']:>12} |",
                flush=True,
            )
    fit = [(s, d, r) for s, d, r in zip(sizes, dp_times, read_times, strict=True) if s >= args.fit_from]
    if len(fit) >= 2:
        s, d, r = zip(*fit, strict=True)
        print(
            f"fitted exponent (users >= {args.fit_from}): dp time ~ K^{fit_exponent(list(s), list(d)):.2f}, "
            f"read+validate ~ K^{fit_exponent(list(s), list(r)):.2f}"
        )


def exact_table(args: argparse.Namespace) -> int:
    header = (
        f"| {'users':>5} | {'models':>6} | {'served':>6} | {'dp s':>8} | {'milp s':>8} | {'milp/dp':>8} | "
        f"{'cpsat s':>8} | {'cpsat/dp':>8} |"
    )
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    alive = {"milp": True, "cpsat": True}
    for users in args.exact_sizes:
        if not any(alive.values()):
            break
        inst = instance_for(users, args.seed, args.tightness)
        first = pl.solve(inst, "dp")
        dp_s = statistics.median(pl.solve(inst, "dp").runtime for _ in range(args.repeats))
        cells: dict[str, tuple[str, str]] = {}
        for method in ("milp", "cpsat"):
            cells[method] = ("-", "-")
            if not alive[method]:
                continue
            t, objective = exact_time(inst, method, args.time_limit)
            if t is None:
                alive[method] = False
                cells[method] = (f">{args.time_limit:g}", "-")
                continue
            if objective != first.objective:
                print(f"    {method} objective {objective} != dp {first.objective}", file=sys.stderr)
                return 1
            cells[method] = (f"{t:.3f}", f"{t / dp_s:.0f}")
        print(
            f"| {users:>5} | {inst.num_models:>6} | {len(first.solution.order):>6} | {dp_s:>8.4f} | "
            f"{cells['milp'][0]:>8} | {cells['milp'][1]:>8} | {cells['cpsat'][0]:>8} | {cells['cpsat'][1]:>8} |",
            flush=True,
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="numbers of users")
    parser.add_argument(
        "--exact-sizes", type=int, nargs="*", default=list(EXACT_SIZES), help="sizes given to MILP and CP-SAT"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tightness", type=float, default=0.6, help="deadline / time to serve everyone")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions (median)")
    parser.add_argument("--time-limit", type=float, default=30.0, help="MILP / CP-SAT limit per instance (s)")
    parser.add_argument("--fit-from", type=int, default=1_000, help="smallest size used in the exponent fit")
    args = parser.parse_args()
    scaling_table(args)
    print()
    return exact_table(args) if args.exact_sizes else 0


if __name__ == "__main__":
    sys.exit(main())
