"""How far the branch-and-bound proves: per-request times at 30–40 users, 8 models at 60–100.

The instances are those of ``benchmarks/exact_scaling.py --mid`` (the ``general`` and ``backbone``
families, per-user deadlines, weights 1–3 drawn by that script), with ``--models`` models; with
``--spread`` each user's inference time is drawn within ±spread of its model's (seeded,
:func:`partialloading.scenarios.with_own_times`). ``bnb`` runs from greedy's schedule under a
``--limit`` second limit; ``--methods`` adds CP-SAT and the MILP on the same instances under the
same limit (or runs them alone), and every optimum two methods prove must agree (exit status 1
otherwise). Every
schedule goes through the independent verifier.

It prints one line per instance (status, greedy's value, the value found, the bound, seconds,
labels expanded) and per size each method's proven count and median gap ``(bound − found)/bound``
over all its runs (a proof counts 0).

Run::

    python benchmarks/bnb_frontier.py --sizes 30 40 --spread 0.5 --methods bnb cpsat milp
    python benchmarks/bnb_frontier.py --sizes 60 80 100 --models 8 --seeds 20 21 22
    python benchmarks/bnb_frontier.py --sizes 60 100 --models 8 --seeds 20 21 22 --methods cpsat milp
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from partialloading import solve
from partialloading.scenarios import with_own_times
from partialloading.validation.verify import verify_solution

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exact_scaling import mid_instance

FAMILIES = ("general", "backbone")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 40])
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--spread", type=float, default=0.0, help="per-request times within ±spread (0: the model's)")
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--methods", nargs="+", default=["bnb"], choices=["bnb", "cpsat", "milp"])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    args = parser.parse_args()
    times = f"per-request times (±{args.spread:.0%})" if args.spread else "the models' times"
    print(f"{' '.join(args.methods)}, {args.models} models, {times}, {args.limit:g} s each, from greedy's schedule")
    print(
        f"{'family':<9} {'users':>5} {'seed':>4} {'method':<6} {'status':<9} {'greedy':>6} {'found':>6} {'bound':>7} "
        f"{'s':>6} {'labels':>9}"
    )
    methods = args.methods
    differ = 0
    for n in args.sizes:
        proven = dict.fromkeys(methods, 0)
        gaps: dict[str, list[float]] = {m: [] for m in methods}
        for family in args.families:
            for seed in args.seeds:
                inst = mid_instance(family, seed, n, models=args.models)
                if args.spread:
                    inst = with_own_times(inst, seed, args.spread)
                greedy = solve(inst, "greedy", seed=seed).objective
                optima = []
                for method in methods:
                    started = time.perf_counter()
                    result = solve(inst, method, time_limit=args.limit, seed=seed)
                    took = time.perf_counter() - started
                    if not verify_solution(inst, result.to_dict()).ok:
                        raise SystemExit(f"{method} {inst.name}: the verifier rejects the schedule")
                    certificate = result.info.get("certificate")
                    labels = certificate["nodes"] if isinstance(certificate, dict) else "-"
                    if result.status == "optimal":
                        proven[method] += 1
                        optima.append(result.objective)
                    gaps[method].append(result.gap or 0.0)
                    print(
                        f"{family:<9} {n:>5} {seed:>4} {method:<6} {result.status:<9} {greedy:>6g} "
                        f"{result.objective:>6g} {result.bound:>7.5g} {took:>6.1f} {labels:>9}",
                        flush=True,
                    )
                if optima and max(optima) - min(optima) > 1e-6:
                    differ += 1
                    print(f"optima differ on {inst.name}: {optima}", file=sys.stderr)
        runs = len(args.families) * len(args.seeds)
        counts = "; ".join(
            f"{m} {proven[m]}/{runs} proven, median gap {100 * statistics.median(gaps[m]):.1f}%" for m in methods
        )
        print(f"{n} users: {counts}\n", flush=True)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
