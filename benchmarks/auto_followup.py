"""Which exact method should ``auto`` give its short budget after greedy?

``solve(instance, "auto")`` runs greedy and, on frame instances of up to
``AUTO_EXACT_MAX_USERS`` users that greedy did not prove optimal, gives an exact method
``AUTO_EXACT_BUDGET_S`` seconds from greedy's schedule (``partialloading/portfolio.py``). This script
runs both candidates, CP-SAT and the branch-and-bound, on the same instances under the same
budget, from the same start, and reports per size and deadline kind how many each proves
optimal, how many it improves over greedy, the median runtime and the median gap left. The
instances are the ``general`` and ``backbone`` scenario families (6 models, integer weights 1–3
as in ``exact_scaling.py --mid``) with per-user and with common deadlines; greedy proves most
instances up to 20 users itself, so the sizes start above. Every schedule is checked by the
independent verifier.

Run::

    python benchmarks/auto_followup.py                 # 25, 30, 40, 60 users, 3 seeds: about 4 minutes
    python benchmarks/auto_followup.py --sizes 30 --seeds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys

import partialloading as pl
from partialloading.portfolio import AUTO_EXACT_BUDGET_S
from partialloading.tolerance import reaches
from partialloading.validation.verify import verify_solution

from exact_scaling import mid_instance

CANDIDATES = ("cpsat", "bnb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,30,40,60", help="numbers of users (default 25,30,40,60)")
    parser.add_argument("--seeds", type=int, default=3, help="instances per family, size and deadline kind")
    parser.add_argument("--budget", type=float, default=AUTO_EXACT_BUDGET_S, help="seconds per method")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"auto's follow-up: {', '.join(CANDIDATES)} for {args.budget:g} s from greedy's schedule")
    print(f"(general and backbone, {args.seeds} seeds each; 'open' = instances greedy did not prove)")
    print(
        f"{'deadlines':<9} {'users':>5} {'open':>5} "
        + " ".join(f"{m + ' proven':>13} {m + ' better':>13} {m + ' gap':>10} {m + ' s':>8}" for m in CANDIDATES)
    )
    for deadlines in ("per_user", "common"):
        for users in sizes:
            stats: dict[str, list[tuple[bool, bool, float, float]]] = {m: [] for m in CANDIDATES}
            for family in ("general", "backbone"):
                for seed in range(args.seeds):
                    inst = mid_instance(family, seed, users, deadlines)
                    greedy = pl.solve(inst, "greedy", seed=seed)
                    if greedy.status == pl.Status.OPTIMAL:
                        continue
                    for method in CANDIDATES:
                        result = pl.solve(
                            inst, method, time_limit=args.budget, seed=seed, initial=greedy.solution.admitted
                        )
                        if not verify_solution(inst, result.to_dict()).ok:
                            raise SystemExit(f"{method} {inst.name}: the verifier rejects the schedule")
                        # auto combines the method's bound with greedy's, as here.
                        bound = min(b for b in (result.bound, greedy.bound) if b is not None)
                        proven = reaches(result.objective, bound)
                        gap = (bound - result.objective) / bound if bound > 0 else 0.0
                        better = result.objective > greedy.objective + 1e-9
                        stats[method].append((proven, better, gap, result.runtime))
            open_ = len(stats[CANDIDATES[0]])
            cells = []
            for method in CANDIDATES:
                rows = stats[method]
                if not rows:
                    cells.append(f"{'-':>13} {'-':>13} {'-':>10} {'-':>8}")
                    continue
                cells.append(
                    f"{sum(r[0] for r in rows):>13} {sum(r[1] for r in rows):>13} "
                    f"{100 * statistics.median(r[2] for r in rows):>9.1f}% "
                    f"{statistics.median(r[3] for r in rows):>8.2f}"
                )
            print(f"{deadlines:<9} {users:>5} {open_:>5} " + " ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
