"""Exact methods and greedy on several servers: reach, agreement and greedy's gap.

Networks of :func:`partialloading.scenarios.servers.random_network`: ``general`` sharing over
4–6 models, per-user deadlines, weights 1–3 on odd seeds, spread over ``--servers`` servers
(default 3; each a share of the band in [0.7, 1.3]/n and a loading speed within ±30%), each user
reaching two of them with its spectral efficiency times [0.5, 1.5] per link.

For each size (``--sizes``, default 20 and 30 users) and seed (``--seeds``, default 0–5), every
method of ``--methods`` (default ``benders milp greedy``) solves with a ``--limit`` second limit
(default 60), the exact ones from nothing (``--warm``: from greedy's schedule and bound): its
value, bound, status and time; then per size the proven count and median time
of each exact method, whether the exact methods agree wherever both prove, and greedy's gap to
the best proven optimum.

Run::

    python benchmarks/servers_exact.py                      # about 15 minutes on 2 cores
    python benchmarks/servers_exact.py --sizes 20 --methods benders greedy --limit 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from partialloading import solve
from partialloading.scenarios.servers import random_network


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 30])
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(6)))
    parser.add_argument("--methods", nargs="+", default=["benders", "milp", "greedy"])
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--warm", action="store_true", help="start the exact methods from greedy's schedule")
    args = parser.parse_args(argv)
    failures = 0
    for size in args.sizes:
        print(f"{size} users on {args.servers} servers, {len(args.seeds)} seeds, {args.limit:g} s each")
        print(f"{'seed':>4} " + " ".join(f"{m:>26}" for m in args.methods))
        rows: dict[str, list[tuple[float, float | None, bool, float]]] = {m: [] for m in args.methods}
        for seed in args.seeds:
            net = random_network(seed, size, args.servers)
            cells = []
            for method in args.methods:
                started = time.perf_counter()
                # Each exact method on its own (no greedy start, whose bound often proves it at once).
                start = {} if method != "greedy" and not args.warm else None
                result = solve(net, method, time_limit=args.limit, initial=start)
                elapsed = time.perf_counter() - started
                proven = result.status.value == "optimal"
                rows[method].append((result.objective, result.bound, proven, elapsed))
                bound = "-" if result.bound is None else f"{result.bound:g}"
                cells.append(f"{result.objective:>5g}/{bound:<5} {'opt' if proven else 'feas':<4} {elapsed:>7.2f}s")
            print(f"{seed:>4} " + " ".join(f"{c:>26}" for c in cells))
        failures += _summary(args.methods, rows)
    return 1 if failures else 0


def _summary(methods: list[str], rows: dict[str, list[tuple[float, float | None, bool, float]]]) -> int:
    """Print the per-size summary; the number of disagreements between proofs."""
    seeds = len(next(iter(rows.values())))
    best: list[float | None] = [None] * seeds
    disagreements = 0
    for q in range(seeds):
        proven = {rows[m][q][0] for m in methods if rows[m][q][2]}
        if len(proven) > 1:
            disagreements += 1
            print(f"  seed index {q}: the exact methods disagree: {sorted(proven)}")
        best[q] = max(proven) if proven else None
    for method in methods:
        done = [r for r in rows[method] if r[2]]
        times = [r[3] for r in rows[method]]
        gaps = [(b - r[0]) / b for r, b in zip(rows[method], best, strict=True) if b is not None and b > 0]
        print(
            f"  {method:<8} proven {len(done)}/{seeds}, median {statistics.median(times):.2f}s"
            + (
                f", gap to the optimum: mean {100 * statistics.mean(gaps):.2f}%, max {100 * max(gaps):.2f}%"
                if gaps
                else ""
            )
        )
    print(f"  exact methods agree wherever both prove: {'yes' if not disagreements else 'NO'}")
    return disagreements


if __name__ == "__main__":
    sys.exit(main())
