"""Exact methods and greedy on batched instances: agreement, reach and greedy's gap.

Generated ``general`` instances with per-user deadlines and weights on odd seeds, 4–6 models, and
a random nondecreasing batch table of 2–8 entries per model (each added request costs 5–60% of a
single request's time; the generator of ``tests/solvers/test_batching.py``).

1. **Small** (``--small`` users, default 12: past greedy's exact part, which covers up to 9;
   ``--instances`` seeds, frame and pipelined timing):
   ``enumerate``'s optimum against ``greedy`` — total weight greedy / optimum, the largest gap,
   how often greedy is optimal — and, under frame timing, the batch-slot MILP solved on its own
   (no warm start) against ``enumerate``: they must agree.
2. **Reach** (``--sizes``, default 20 and 30 users, 6 seeds each): ``bnb`` (the search over
   batches) and ``milp`` (the batch-slot model), each with a ``--limit`` second limit (default
   60): proven instances, median time, greedy's value beside the one found and the bound, and
   whether the two agree wherever both prove.

Run::

    python benchmarks/batching_exact.py                 # about 15 minutes on 2 cores
    python benchmarks/batching_exact.py --sizes 20 --limit 10 --instances 12
    python benchmarks/batching_exact.py --no-small --sizes 20 30 40 --methods bnb
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from partialloading import solve
from partialloading.instance import Instance
from partialloading.methods import SolveRequest
from partialloading.params import MilpParams
from partialloading.scenarios import random_batched_instance
from partialloading.solution import Solution
from partialloading.solvers.milp.batched import solve_batched


def batched_instance(seed: int, n: int, timing: str = "frame") -> Instance:
    """The benchmark's instances (4–6 models, tables of 2–8 entries)."""
    return random_batched_instance(seed, n, timing)


def small_part(users: int, count: int) -> list[str]:
    failures: list[str] = []
    print(f"small: {users} users, {count} seeds per timing")
    print(f"{'timing':<10} {'greedy/opt':>10} {'max gap':>8} {'optimal':>8} {'milp = enumerate':>17}")
    for timing in ("frame", "pipelined"):
        greedy = optimum = 0.0
        gaps, agree, compared, hits = [], 0, 0, 0
        for seed in range(count):
            inst = batched_instance(seed, users, timing)
            best = solve(inst, "enumerate", max_users=users).objective
            found = solve(inst, "greedy").objective
            greedy, optimum = greedy + found, optimum + best
            gaps.append(0.0 if best == 0 else (best - found) / best)
            hits += found == best
            if timing == "frame":
                out = solve_batched(inst, MilpParams(), SolveRequest())
                value = Solution(inst, tuple(out.order), batch=out.batch).objective
                compared += 1
                agree += out.status == "optimal" and value == best
        ratio = greedy / optimum if optimum else 1.0
        shown = f"{agree}/{compared}" if compared else "-"
        print(f"{timing:<10} {ratio:>10.4f} {max(gaps):>8.2%} {hits:>5}/{count} {shown:>17}")
        if ratio < 0.97:
            failures.append(f"greedy at {ratio:.4f} of the optimum under {timing} timing (target ≥ 0.97)")
        if agree != compared:
            failures.append(f"the MILP and enumerate disagree under {timing} timing ({agree}/{compared})")
    print()
    return failures


def reach_part(sizes: list[int], limit: float, methods: list[str]) -> list[str]:
    """Each exact method alone within ``limit`` seconds (warm-started from greedy, as ``solve``
    runs it) on 6 seeds per size; where two prove, their optima must agree."""
    print(f"reach: {', '.join(methods)} with a {limit:g} s limit, 6 seeds per size (frame timing)")
    print(f"{'users':>5} {'method':<6} {'proven':>7} {'median s':>9} {'values (greedy / found / bound)':<40}")
    failures: list[str] = []
    for n in sizes:
        optima: dict[int, dict[str, float]] = {}
        for method in methods:
            proven, times, values = 0, [], []
            for seed in range(100, 106):
                inst = batched_instance(seed, n)
                started = time.perf_counter()
                result = solve(inst, method, time_limit=limit)
                times.append(time.perf_counter() - started)
                if result.status == "optimal":
                    proven += 1
                    optima.setdefault(seed, {})[method] = result.objective
                greedy = solve(inst, "greedy").objective
                values.append(f"{greedy:g}/{result.objective:g}/{result.bound:g}")
            print(f"{n:>5} {method:<6} {proven:>5}/6 {statistics.median(times):>9.1f} {' '.join(values)}", flush=True)
        both = [found for found in optima.values() if len(found) > 1]
        differ = [found for found in both if len(set(found.values())) > 1]
        print(f"{n:>5} proven by two methods: {len(both)}, optima differ: {len(differ)}")
        if differ:
            failures.append(f"exact methods disagree at {n} users: {differ}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=12, help="users of the small instances (default 12)")
    parser.add_argument("--instances", type=int, default=24, help="seeds per timing model (default 24)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 30], help="users of the reach part")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per exact solve (default 60)")
    parser.add_argument("--methods", nargs="+", default=["bnb", "milp"], help="exact methods of the reach part")
    parser.add_argument("--no-small", action="store_true", help="run the reach part only")
    args = parser.parse_args()
    failures = [] if args.no_small else small_part(args.small, args.instances)
    failures += reach_part(args.sizes, args.limit, args.methods)
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
