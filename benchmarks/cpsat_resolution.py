"""How fine may CP-SAT's time unit be? Agreement with enumeration against the resolution.

``solvers/cpsat.py`` counts time in units of ``max T_k / resolution``. Too coarse, and more
instances are knife-edge (the outer model's schedule is refused and the inner model is solved
too); too fine, and the integers grow large. This script solves the same generated tiny
instances at several resolutions and prints, for each, how many optima differ from enumeration's,
how many instances took the knife-edge path and the mean runtime.

Run::

    python benchmarks/cpsat_resolution.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from tqdm import tqdm

from partialloading.errors import SolverError
from partialloading.scenarios import Structure, random_instance
from partialloading.solve import solve

RESOLUTIONS = (1e6, 1e8, 1e10, 1e12)
STRUCTURES: tuple[Structure, ...] = ("backbone", "general", "none")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=150, help="seeds per structure (default 150)")
    parser.add_argument(
        "--resolutions", default=",".join(f"{r:g}" for r in RESOLUTIONS), help="comma-separated resolutions"
    )
    args = parser.parse_args(argv)
    resolutions = [float(r) for r in args.resolutions.split(",")]
    cases = [
        random_instance(
            seed,
            n_users=5 + seed % 3,
            n_models=2 + seed % 3,
            structure=structure,
            deadlines="per_user" if seed % 2 else "common",
            weighted=seed % 3 == 0,
            initial_model=seed % 4 < 2,
        )
        for seed in range(args.seeds)
        for structure in STRUCTURES
    ]
    reference = [solve(inst, "enumerate").objective for inst in cases]
    print(f"{len(cases)} instances; optima compared with enumerate")
    print(f"{'resolution':>10} {'differ':>7} {'errors':>7} {'knife-edge':>10} {'mean s':>8}")
    for resolution in resolutions:
        differ = errors = knife = 0
        times = []
        for inst, best in zip(tqdm(cases, file=sys.stderr, desc=f"{resolution:g}"), reference, strict=True):
            started = time.perf_counter()
            try:
                result = solve(inst, "cpsat", time_limit=30, resolution=resolution)
            except SolverError:
                errors += 1
                continue
            times.append(time.perf_counter() - started)
            differ += abs(result.objective - best) > 1e-9
            knife += bool(result.info.get("knife_edge"))
        print(f"{resolution:>10g} {differ:>7} {errors:>7} {knife:>10} {statistics.fmean(times):>8.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
