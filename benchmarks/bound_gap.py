"""How far greedy is from the best upper bound at 100–1,000 users, where nothing is proven.

For each size and family (``general`` and ``backbone`` scenarios, 6 models, per-user deadlines,
tightness 0.5, integer weights 1–3 drawn as in ``exact_scaling.py --mid``) it solves ``--seeds``
instances with ``greedy`` (default settings) and reports the gap ``(bound − greedy)/bound`` to
two bounds: the cheap one (served alone, knapsack per deadline level) and the blocks-per-level
relaxation (:func:`partialloading.relaxations.level_bound`, the bound ``greedy`` now reports), with
their medians and maxima, the time the relaxation takes, and on how many instances its default
form (the LP above 200 users) gives the same bound as the MILP form. Every schedule is checked by the
independent verifier.

Run::

    python benchmarks/bound_gap.py                      # 100, 300, 1000 users, 5 seeds: a few minutes
    python benchmarks/bound_gap.py --sizes 100 --seeds 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import partialloading as pl
from partialloading.relaxations import best_cheap_bound, level_bound
from partialloading.validation.verify import verify_solution

from exact_scaling import mid_instance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000", help="numbers of users (default 100,300,1000)")
    parser.add_argument("--seeds", type=int, default=5, help="instances per size and family (default 5)")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"greedy against the upper bounds, per-user deadlines, weights 1-3, {args.seeds} seeds per family")
    header = (
        f"{'users':>5} {'family':<9} {'greedy':>8} {'cheap':>8} {'level':>8} "
        f"{'gap cheap':>10} {'gap level':>10} {'max level':>10} {'level s':>8} {'LP=MILP':>8}"
    )
    print(header)
    for users in sizes:
        everyone = []
        for family in ("general", "backbone"):
            rows = []
            for seed in range(args.seeds):
                inst = mid_instance(family, seed, users)
                result = pl.solve(inst, "greedy", seed=seed)
                if not verify_solution(inst, result.to_dict()).ok:
                    raise SystemExit(f"greedy {inst.name}: the verifier rejects the schedule")
                cheap = best_cheap_bound(inst)
                started = time.perf_counter()
                found = level_bound(inst, time_limit=None)
                seconds = time.perf_counter() - started
                level = found.value
                # The MILP form where the default solves only the LP (above 200 users).
                exact = level if found.proven else level_bound(inst, time_limit=None, milp=True).value
                rows.append(
                    (
                        result.objective,
                        cheap,
                        level,
                        (cheap - result.objective) / cheap,
                        (level - result.objective) / level,
                        seconds,
                        exact == level,
                    )
                )
            everyone += rows
            print(
                f"{users:>5} {family:<9} {statistics.mean(r[0] for r in rows):>8.1f} "
                f"{statistics.mean(r[1] for r in rows):>8.1f} {statistics.mean(r[2] for r in rows):>8.1f} "
                f"{100 * statistics.median(r[3] for r in rows):>9.1f}% "
                f"{100 * statistics.median(r[4] for r in rows):>9.1f}% "
                f"{100 * max(r[4] for r in rows):>9.1f}% {statistics.median(r[5] for r in rows):>8.2f} "
                f"{sum(r[6] for r in rows):>4}/{len(rows)}",
                flush=True,
            )
        print(
            f"{users:>5} {'both':<9} {'':>8} {'':>8} {'':>8} {100 * statistics.median(r[3] for r in everyone):>9.1f}% "
            f"{100 * statistics.median(r[4] for r in everyone):>9.1f}% {100 * max(r[4] for r in everyone):>9.1f}%",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
