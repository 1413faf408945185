"""The branch-and-bound with per-request inference times: how far it proves.

The mid-size instances of ``benchmarks/exact_scaling.py --mid`` (``general`` and ``backbone``,
six models, per-user deadlines, weights 1–3), each user's inference time drawn within ±``spread``
of its model's (seeded), 3 seeds per family from seed 10 on, ``bnb`` from greedy's schedule with a
``--limit`` second limit. Prints, per instance, the status, greedy's value, the value found and
the bound, and the proven count per size.

Run::

    python benchmarks/bnb_own_times.py --sizes 30 40      # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from partialloading import solve
from partialloading.scenarios import with_own_times

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exact_scaling import mid_instance


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 40])
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--spread", type=float, default=0.5)
    args = parser.parse_args()
    print(f"bnb with per-request times (±{args.spread:.0%}), {args.limit:g} s each, from greedy's schedule")
    print(f"{'family':<9} {'users':>5} {'seed':>4} {'status':<9} {'greedy':>6} {'found':>6} {'bound':>6} {'s':>6}")
    for n in args.sizes:
        proven = 0
        for family in ("general", "backbone"):
            for seed in range(10, 13):
                inst = with_own_times(mid_instance(family, seed, n), seed, args.spread)
                started = time.perf_counter()
                result = solve(inst, "bnb", time_limit=args.limit)
                took = time.perf_counter() - started
                greedy = solve(inst, "greedy").objective
                proven += result.status == "optimal"
                print(
                    f"{family:<9} {n:>5} {seed:>4} {result.status:<9} {greedy:>6g} {result.objective:>6g} "
                    f"{result.bound:>6g} {took:>6.1f}",
                    flush=True,
                )
        print(f"{n} users: {proven}/6 proven\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
