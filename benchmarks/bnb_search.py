"""Time to proof of the branch-and-bound: the depth-first search against the layered one, in one run.

The same instances as ``exact_scaling.py --mid`` (general and backbone, 6 models, per-user
deadlines, weights 1–3), each solved twice in one process from greedy's schedule: by the search
as it was before (``path_bound=false``: depth first, the level and uploads bounds, compiled) and
by the default one (the path relaxation, the labels layer by layer with a dive beside them).
Reports for each whether it proved the optimum, the time and the nodes (labels expanded), the
ratio of the times when both prove, and exits 1 if two proofs disagree.

Run::

    python benchmarks/bnb_search.py                      # 30 and 40 users, 3 seeds, 60 s: ~15 minutes
    python benchmarks/bnb_search.py --users 60 --time-limit 120
"""

from __future__ import annotations

import argparse
import statistics
import sys

import partialloading as pl

from exact_scaling import mid_instance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="30,40", help="sizes (default 30,40)")
    parser.add_argument("--seeds", type=int, default=3, help="instances per family and size (default 3)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per search (default 60)")
    args = parser.parse_args(argv)
    print(f"{'family':<9} {'users':>5} {'seed':>4} {'depth-first':>22} {'layered':>22} {'ratio':>7}")
    ratios, disagree = [], 0
    for users in (int(x) for x in args.users.split(",")):
        for family in ("general", "backbone"):
            for seed in range(args.seeds):
                inst = mid_instance(family, seed, users)
                runs = [
                    pl.solve(inst, "bnb", time_limit=args.time_limit, seed=seed, path_bound=flag)
                    for flag in (False, True)
                ]
                cells = []
                for r in runs:
                    proof = f"{r.runtime:.1f} s" if r.status is pl.Status.OPTIMAL else f">{args.time_limit:g} s"
                    cells.append(f"{r.objective:>5g} {proof:>8} {r.info['certificate']['nodes']:>7}")
                both = all(r.status is pl.Status.OPTIMAL for r in runs)
                ratio = ""
                if both:
                    ratios.append(runs[0].runtime / runs[1].runtime)
                    ratio = f"{ratios[-1]:.1f}x"
                    disagree += abs(runs[0].objective - runs[1].objective) > 1e-9
                print(f"{family:<9} {users:>5} {seed:>4} {cells[0]:>22} {cells[1]:>22} {ratio:>7}", flush=True)
    proven = [f"{r:.1f}" for r in ratios]
    print(f"both proven: {len(ratios)}; time ratios {', '.join(proven) or '-'}", end="")
    print(f"; median {statistics.median(ratios):.1f}x" if ratios else "")
    print(f"optima differ: {disagree}")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
