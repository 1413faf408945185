"""Online serving at scale: 100,000 requests simulated with the greedy policy, and where the time goes.

For each scenario — ``zoo-heads`` at a moderate load (40 requests/s, the GPU about 70% busy)
and overloaded (80/s), and ``zoo-mixed`` (general sharing) at 50/s — a workload of exactly
``--requests`` requests (the first ones of a slightly longer arrival window) is generated and
simulated with ``greedy`` (each round's plan checked by the independent verifier), reporting the
wall time, the rounds, the planning time per round and the outcome. Then a slice of
``--profile-requests`` requests of the overloaded ``zoo-heads`` workload is simulated under
``cProfile`` and the time is split into planning (the policy's own work), the rest of
``solve()`` (checks, timeline, result), the verifier, building the round instances, the
served-alone test, and the simulator's bookkeeping: the largest share is the bottleneck.

Exits 1 when a simulation takes more than ``--limit`` seconds (default 600) or loses a request.

Run::

    python benchmarks/online_scale.py                      # 3 x 100,000 requests, then the profile
    python benchmarks/online_scale.py --requests 10000     # quick look
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import pstats
import sys
import time

from partialloading.online import Policy, Workload, generate_workload, simulate

SCENARIOS = (("zoo-heads", 40.0), ("zoo-heads", 80.0), ("zoo-mixed", 50.0))

PARTS = {
    "planning (the policy's work)": ("solvers/greedy/backend.py", "solve"),
    "solve(): checks, timeline, result": ("partialloading/portfolio.py", "solve_until"),
    "verifier": ("validation/verify.py", "verify_solution"),
    "round instances": ("online/simulate.py", "round_instance"),
    "served-alone test": ("timing/__init__.py", "servable_alone"),
    "whole simulation": ("online/simulate.py", "simulate"),
}


def cumulative(stats: pstats.Stats, file_part: str, function: str) -> float:
    total = 0.0
    for (filename, _, name), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        if name == function and filename.replace("\\", "/").endswith(file_part):
            total += ct
    return total


def exactly(family: str, rate: float, count: int, seed: int, **overrides: object) -> Workload:
    """The first ``count`` requests (by arrival) of a workload generated a little longer than needed
    (``overrides``: parameters of the family)."""
    duration = count / rate * 1.05 + 10.0 / rate
    workload = generate_workload(family, rate=rate, duration=duration, seed=seed, **overrides)
    while len(workload.requests) < count:  # pragma: no cover - five standard deviations short
        duration *= 1.1
        workload = generate_workload(family, rate=rate, duration=duration, seed=seed, **overrides)
    first = sorted(workload.requests, key=lambda r: r.arrival_s)[:count]
    return dataclasses.replace(workload, requests=tuple(first))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests per workload (default 100,000)")
    parser.add_argument("--profile-requests", type=int, default=10_000, help="requests of the profiled slice")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds allowed per simulation (default 600)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    failures = []
    header = (
        f"{'family':<10} {'rate/s':>7} {'requests':>9} {'gen s':>7} {'sim s':>8} {'us/req':>7} {'rounds':>7} "
        f"{'plan ms':>8} {'max ms':>8} {'on time':>8} {'GPU busy':>8}"
    )
    print(header)
    for family, rate in SCENARIOS:
        started = time.perf_counter()
        workload = exactly(family, rate, args.requests, args.seed)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        run = simulate(workload, Policy("greedy"))
        elapsed = time.perf_counter() - started
        s = run.summary
        n = len(workload.requests)
        print(
            f"{family:<10} {rate:>7g} {n:>9} {generated:>7.1f} {elapsed:>8.1f} {1e6 * elapsed / max(n, 1):>7.0f} "
            f"{s.rounds:>7} {1e3 * s.planning_time_mean_s:>8.2f} {1e3 * s.planning_time_max_s:>8.1f} "
            f"{s.on_time_fraction:>8.1%} {s.gpu_busy_fraction:>8.1%}",
            flush=True,
        )
        if s.served + s.dropped != n or len(run.outcomes) != n:
            failures.append(f"{family} at {rate:g}/s: requests lost")
        if elapsed > args.limit:
            failures.append(f"{family} at {rate:g}/s: {elapsed:.0f} s > {args.limit:.0f} s")

    family, rate = SCENARIOS[1]
    workload = exactly(family, rate, args.profile_requests, args.seed)
    profiler = cProfile.Profile()
    profiler.enable()
    simulate(workload, Policy("greedy"))
    profiler.disable()
    stats = pstats.Stats(profiler)
    parts = {label: cumulative(stats, *where) for label, where in PARTS.items()}
    whole = parts.pop("whole simulation")
    solve_total = parts["solve(): checks, timeline, result"]
    parts["solve(): checks, timeline, result"] = solve_total - parts["planning (the policy's work)"]
    parts["bookkeeping (the simulator itself)"] = (
        whole
        - solve_total
        - sum(v for k, v in parts.items() if k in ("verifier", "round instances", "served-alone test"))
    )
    print(f"\nprofile: {family} at {rate:g}/s, {len(workload.requests)} requests, {whole:.2f} s under cProfile")
    for label, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {label:<38} {seconds:>7.2f} s {seconds / whole:>6.1%}")
    print(f"bottleneck: {max(parts, key=lambda k: parts[k])}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
