"""The branch-and-bound's bounds at the root: the level bound against the path relaxations.

For ``exact_scaling.py --mid``'s instances (general and backbone, 6 models, per-user deadlines,
weights 1–3) prints greedy's weight, the root's level-and-uploads bound (the depth-first search's
bounds), the path relaxation's root bound after its subgradient steps (no time limit) and how
many steps it took, the grouped path relaxation's root bound (``-`` where no group merges two
models) and the coarse instance's optimum (``-`` where there is none; ``bnb`` for up to 60 s),
each also rounded down to the weight unit.

Run::

    python benchmarks/bnb_bounds.py                 # 40 users, 3 seeds: under a minute
    python benchmarks/bnb_bounds.py --users 60 --seeds 5
"""

from __future__ import annotations

import argparse
import math
import sys

import partialloading as pl
from partialloading.solvers.bnb.bounds import SetupTree
from partialloading.solvers.bnb.coarse import coarse
from partialloading.solvers.bnb.paths import groups_of
from partialloading.solvers.bnb.search import BranchAndBound
from partialloading.stop import Deadline
from partialloading.timing import FrameSchedule, servable_alone

from exact_scaling import mid_instance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="40", help="sizes (default 40)")
    parser.add_argument("--seeds", type=int, default=3, help="instances per family and size (default 3)")
    args = parser.parse_args(argv)
    print(
        f"{'family':<9} {'users':>5} {'seed':>4} {'greedy':>7} {'level':>13} {'paths':>13} {'steps':>6} "
        f"{'grouped':>13} {'coarse':>7}"
    )
    for users in (int(x) for x in args.users.split(",")):
        for family in ("general", "backbone"):
            for seed in range(args.seeds):
                inst = mid_instance(family, seed, users)
                greedy = pl.solve(inst, "greedy", seed=seed)
                p = FrameSchedule.build(inst, tolerance_share=1.0)
                alone = servable_alone(inst).tolist()
                order = greedy.solution.order
                search = BranchAndBound(p, SetupTree.of(inst), alone, order, compiled=True, groups=groups_of(inst))
                level = search.root_bound()
                paths = search.relax_paths(Deadline())
                if paths is None:
                    print("the path relaxation needs numba (the `fast` extra)", file=sys.stderr)
                    return 1
                grouped = search.group_paths
                roots = (level, paths.root, *(() if grouped is None else (grouped.root,)))
                cells = [f"{v:.2f} ({math.floor(v + 1e-9):g})" for v in roots]
                rough = coarse(inst)
                found = None if rough is None else pl.solve(rough, "bnb", time_limit=60, seed=seed)
                optimum = "-" if found is None else f"{found.objective:g}" + ("" if found.status == "optimal" else "?")
                print(
                    f"{family:<9} {users:>5} {seed:>4} {greedy.objective:>7g} {cells[0]:>13} {cells[1]:>13} "
                    f"{paths.rounds:>6} {cells[2] if grouped else '-':>13} {optimum:>7}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
