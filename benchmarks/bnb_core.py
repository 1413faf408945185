"""Node throughput of the depth-first branch-and-bound: the compiled level bound against the Python one.

The level bound (``LevelRelaxation.bound``) is where the depth-first search (``path_bound=false``;
the layered search is measured by ``bnb_search.py``) spends most of its time. This
script runs ``bnb`` on the same instances (``exact_scaling.py --mid``'s: general and backbone, 6
models, per-user deadlines, weights 1–3) for the same node budget twice in one process — with the
compiled bound (:mod:`partialloading.solvers.bnb.kernels`) and with the Python reference
(``reference_bound``) — and reports nodes per second side by side and their ratio. Both bounds
compute the same numbers, so both searches visit the same nodes and end with the same incumbent
and bound (checked: the run exits 1 otherwise). It also reports the first call's compile time in
a fresh process with an empty numba cache, and the cached load time, of every compiled part of
``bnb`` (the level bound, the path relaxation, the layered search).

Run::

    python benchmarks/bnb_core.py                           # 30 and 40 users, 3 seeds: ~2 minutes
    python benchmarks/bnb_core.py --users 40 --seeds 5 --nodes 50000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import partialloading as pl
from partialloading.solvers.bnb import kernels
from partialloading.solvers.bnb.bounds import LevelRelaxation

from exact_scaling import mid_instance

COMPILE = (
    "import time; t = time.perf_counter(); "
    "from partialloading.solvers.bnb.backend import warm_compiled; "
    "warm_compiled(); "
    "print(time.perf_counter() - t)"
)


def timed_first_call(cache_dir: str) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", COMPILE], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="30,40", help="sizes (default 30,40)")
    parser.add_argument("--seeds", type=int, default=3, help="instances per family and size (default 3)")
    parser.add_argument("--nodes", type=int, default=20_000, help="node budget of every search (default 20000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = timed_first_call(cache), timed_first_call(cache)
    print(f"compile on first use: {cold:.2f} s; from the cache in a later process: {warm:.2f} s")
    compiled = LevelRelaxation.bound
    kernels.warm()  # loaded before the first timed search
    print(f"{'family':<9} {'users':>5} {'seed':>4} {'nodes':>7} {'python n/s':>11} {'compiled n/s':>13} {'ratio':>6}")
    ratios, mismatches = [], 0
    for users in (int(x) for x in args.users.split(",")):
        for family in ("general", "backbone"):
            for seed in range(args.seeds):
                inst = mid_instance(family, seed, users)
                runs = {}
                for name, bound in (("python", LevelRelaxation.reference_bound), ("compiled", compiled)):
                    LevelRelaxation.bound = bound  # type: ignore[method-assign]
                    started = time.perf_counter()
                    result = pl.solve(inst, "bnb", initial=[], max_nodes=args.nodes, path_bound=False)
                    elapsed = time.perf_counter() - started
                    runs[name] = (result, result.info["certificate"]["nodes"] / elapsed)
                LevelRelaxation.bound = compiled  # type: ignore[method-assign]
                (slow, slow_rate), (fast, fast_rate) = runs["python"], runs["compiled"]
                same = (
                    slow.info["nodes"] == fast.info["nodes"]
                    and slow.objective == fast.objective
                    and slow.bound == fast.bound
                )
                mismatches += not same
                ratios.append(fast_rate / slow_rate)
                print(
                    f"{family:<9} {users:>5} {seed:>4} {fast.info['nodes']:>7} {slow_rate:>11.0f} {fast_rate:>13.0f} "
                    f"{fast_rate / slow_rate:>5.2f}x" + ("" if same else "  DIFFERENT SEARCH"),
                    flush=True,
                )
    print(f"median ratio {statistics.median(ratios):.2f}x over {len(ratios)} searches; {mismatches} differ")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
