"""The two halves of the branch-and-bound's search, each alone: the rounds and the dive.

For chosen instances of ``exact_scaling.py --mid`` (general and backbone, 6 models, per-user
deadlines, weights 1–3), from greedy's schedule with the path relaxation set up (no time limit
on its steps), runs

* the *rounds* alone: the layered search one target at a time from the root's bound down, each
  round's target, labels expanded, time and whether it found a schedule of its target; they end
  at the first round that finds one (or that reaches greedy's weight, which is then optimal);
* the *dive* alone: the labels depth first from greedy's weight, its ceiling the root's target,
  each heavier schedule it finds with the labels and time it took, and whether it ran out of
  labels (then its best is optimal).

Each gets ``--time-limit`` seconds. ``bnb`` runs the two together (``docs/exact_solvers.md`` §5).

Run::

    python benchmarks/bnb_rounds.py                               # backbone 0 and general 1 at 60 users: ~4 minutes
    python benchmarks/bnb_rounds.py --cases backbone:1,backbone:2 --time-limit 120
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import partialloading as pl
from partialloading.solvers.bnb.backend import warm_compiled
from partialloading.solvers.bnb.bounds import SetupTree
from partialloading.solvers.bnb.labelling import CHUNK, PAUSED, Dive, Layered
from partialloading.solvers.bnb.search import BranchAndBound
from partialloading.stop import Deadline
from partialloading.timing import FrameSchedule, servable_alone

from exact_scaling import mid_instance


def rounds(search: BranchAndBound, target: float, unit: float, limit: float) -> None:
    """The rounds from ``target`` down, each printed."""
    end = Deadline.after(limit)
    while target > search.best + search.tie:
        started = time.perf_counter()
        layered = Layered(search, floor=target - unit, ceiling=target)
        done = layered.expand(lambda nodes: end.expired())
        state = "found" if layered.found else ("none" if done else "stopped")
        print(f"  round {target:g}: {state:<7} {layered.expanded:>10,} labels {time.perf_counter() - started:6.1f} s")
        if layered.found or not done:
            return
        target -= unit
    print(f"  greedy's {search.best:g} is optimal")


def dive(search: BranchAndBound, target: float, limit: float) -> None:
    """The dive from greedy's weight, each improvement printed."""
    end = Deadline.after(limit)
    started = time.perf_counter()
    deep = Dive(search, ceiling=target)
    best = deep.best
    while True:
        code = deep.advance(CHUNK)
        if deep.best > best:
            best = deep.best
            print(f"  dive found {best:g} after {deep.expanded:>10,} labels {time.perf_counter() - started:6.1f} s")
        if code != PAUSED or end.expired():
            break
    state = "reached the ceiling" if deep.best >= target else ("ran out of labels" if code != PAUSED else "stopped")
    print(f"  dive {state} at {deep.best:g} after {deep.expanded:,} labels {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=60, help="users per instance (default 60)")
    parser.add_argument("--cases", default="backbone:0,general:1", help="family:seed, comma-separated")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds for each half (default 60)")
    args = parser.parse_args(argv)
    warm_compiled()
    for case in args.cases.split(","):
        family, seed = case.split(":")
        inst = mid_instance(family, int(seed), args.users)
        greedy = pl.solve(inst, "greedy", seed=int(seed))
        unit = inst.weight_unit
        p = FrameSchedule.build(inst, tolerance_share=1.0)
        alone = servable_alone(inst).tolist()
        searches = [
            BranchAndBound(p, SetupTree.of(inst), alone, greedy.solution.order, unit=unit, compiled=True)
            for _ in range(2)
        ]
        for search in searches:
            if search.relax_paths(Deadline()) is None or unit <= 0:
                print("the rounds need numba (the `fast` extra) and whole weight units", file=sys.stderr)
                return 1
        root = searches[0].root_bound()
        target = math.floor((root + searches[0].slop) / unit) * unit
        print(f"{family} seed {seed}, {args.users} users: greedy {greedy.objective:g}, root bound {root:.2f}")
        rounds(searches[0], target, unit, args.time_limit)
        dive(searches[1], target, args.time_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
