"""GPU memory with a capacity: what it costs to plan with it, and what it buys.

Speed, as ratios measured side by side in one run (each pair alternated, the best of
``--repeats``):

- ``greedy`` on a generated ``zoo-mixed`` instance of ``--users`` users (per-user deadlines,
  weights), with the one-model memory and with a memory of twice the largest model;
- a simulation of ``--requests`` requests (``zoo-heads`` at 40 requests/s, greedy, every round
  verified) with and without that memory.

Value (``--sweep``): the ``adapters`` family (32 LoRA adapters on a 7B base, Zipf popularity
α = 1) served online for ``--duration`` seconds at ``--rate`` requests/s, with greedy, for GPU
memories from one model at a time up to three times the largest model; with block sharing (the
base is shared, the adapters are kept beside it) and without (every adapter a private copy of
base + adapter: the whole-model cache of Clockwork or ServerlessLLM): on-time fraction and bytes
loaded. ``--policies K``: at a memory of ``K`` times the largest model, greedy planning with the
default (look-ahead) evictions, with an LRU cache of blocks (``capacity-lru``), and without sharing
under LRU (a whole-model LRU cache). Every request is accounted for in every run.

Run::

    python benchmarks/capacity.py                         # speed at 1,000 users and 100,000 requests
    python benchmarks/capacity.py --requests 10000        # quicker
    python benchmarks/capacity.py --sweep                 # the capacity table of docs/results.md
    python benchmarks/capacity.py --policies 1.2          # planned vs LRU evictions vs whole-model LRU
    python benchmarks/capacity.py --evictions 200         # what greedy's own eviction choices add
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from partialloading import scenarios, solve
from partialloading.online import Policy, Workload, generate_workload, simulate
from partialloading.validation.verify import verify_solution

from online_scale import exactly

SWEEP_MEMORY = (0.0, 1.05, 1.2, 1.5, 2.0, 3.0)
"""GPU memory in units of the largest model (0: one model at a time)."""


def with_memory(workload: Workload, models: float) -> Workload:
    """``workload`` with GPU memory ``models`` times its largest model (0: one model at a time)."""
    server = workload.server
    size = None if models == 0 else models * float(server.model_sizes.max())
    return dataclasses.replace(workload, server=dataclasses.replace(server, memory_bytes=size))


def timed(run: object) -> tuple[float, object]:
    start = time.perf_counter()
    out = run()  # type: ignore[operator]
    return time.perf_counter() - start, out


def greedy_speed(users: int, repeats: int) -> None:
    plain = scenarios.generate("zoo-mixed", 1, n_users=users, n_models=max(6, users // 50), deadlines="per_user")
    kept = dataclasses.replace(plain, memory_bytes=2.0 * float(plain.model_sizes.max()))
    best = {"one model": float("inf"), "capacity": float("inf")}
    served = {}
    for _ in range(repeats):
        for label, inst in (("one model", plain), ("capacity", kept)):
            seconds, result = timed(lambda inst=inst: solve(inst, "greedy"))
            best[label] = min(best[label], seconds)
            served[label] = result.objective  # type: ignore[attr-defined]
            if not verify_solution(inst, result.to_dict()).ok:  # type: ignore[attr-defined]
                sys.exit(f"greedy's schedule fails the verifier ({label})")
    ratio = best["capacity"] / best["one model"]
    print(f"greedy, zoo-mixed, {users} users, per-user deadlines (best of {repeats}):")
    for label in best:
        print(f"  {label:<10} {best[label]:8.2f} s  served {served[label]:g}")
    print(f"  capacity / one model: {ratio:.2f}x")


def simulation_speed(requests: int, repeats: int) -> None:
    workload = exactly("zoo-heads", 40.0, requests, seed=1)
    kept = with_memory(workload, 2.0)
    best = {"one model": float("inf"), "capacity": float("inf")}
    summary = {}
    for _ in range(repeats):
        for label, w in (("one model", workload), ("capacity", kept)):
            seconds, run = timed(lambda w=w: simulate(w, Policy("greedy")))
            best[label] = min(best[label], seconds)
            summary[label] = run.summary  # type: ignore[attr-defined]
            if len(run.outcomes) != len(w.requests):  # type: ignore[attr-defined]
                sys.exit("a simulation lost a request")
    print(f"simulation, zoo-heads at 40/s, {requests} requests, greedy, every round verified (best of {repeats}):")
    for label in best:
        s = summary[label]
        print(
            f"  {label:<10} {best[label]:8.1f} s  on time {s.on_time_fraction:6.1%}"
            f"  loaded {s.loaded_bytes / 1e9:8.1f} GB  rounds {s.rounds}"
        )
    print(f"  capacity / one model: {best['capacity'] / best['one model']:.2f}x")


def sweep(rate: float, duration: float, seed: int) -> None:
    workload = generate_workload("adapters", rate=rate, duration=duration, seed=seed, memory_models=0.0)
    print(
        f"adapters: {len(workload.requests)} requests at {rate:g}/s for {duration:g} s, 32 adapters on a 7B base, "
        "Zipf α = 1, greedy"
    )
    print(f"{'memory':>10} {'sharing':>8} {'on time':>8} {'loaded GB':>10} {'evicted GB':>11} {'resident GB':>12}")
    for models in SWEEP_MEMORY:
        for sharing in (True, False):
            w = with_memory(workload, models)
            run = simulate(w, Policy("greedy", sharing=sharing))
            if len(run.outcomes) != len(w.requests):
                sys.exit("a simulation lost a request")
            s = run.summary
            label = "one model" if models == 0 else f"{models:g} x"
            print(
                f"{label:>10} {'yes' if sharing else 'no':>8} {s.on_time_fraction:>8.1%} {s.loaded_bytes / 1e9:>10.1f} "
                f"{s.evicted_bytes / 1e9:>11.1f} {s.resident_bytes_max / 1e9:>12.1f}"
            )


POLICIES = (
    ("sharing-aware, planned evictions", "capacity", True),
    ("sharing-aware, LRU evictions", "capacity-lru", True),
    ("whole-model LRU cache", "capacity-lru", False),
)
"""The policy comparison: the same greedy planning with the default (look-ahead) evictions, with
an LRU cache of blocks, and without sharing under LRU (the classic model cache)."""


def policies(rate: float, duration: float, seed: int, models: float) -> None:
    workload = with_memory(generate_workload("adapters", rate=rate, duration=duration, seed=seed), models)
    print(
        f"adapters: {len(workload.requests)} requests at {rate:g}/s for {duration:g} s, "
        f"GPU memory {models:g} x the largest model, greedy planning"
    )
    print(f"{'policy':<36} {'on time':>8} {'loaded GB':>10} {'evicted GB':>11}")
    for label, memory, sharing in POLICIES:
        w = dataclasses.replace(workload, server=dataclasses.replace(workload.server, memory=memory))
        run = simulate(w, Policy("greedy", sharing=sharing))
        if len(run.outcomes) != len(w.requests):
            sys.exit("a simulation lost a request")
        s = run.summary
        print(f"{label:<36} {s.on_time_fraction:>8.1%} {s.loaded_bytes / 1e9:>10.1f} {s.evicted_bytes / 1e9:>11.1f}")


def evictions(count: int) -> None:
    """What greedy's own eviction choices (the exact set search on the memory, up to 12 users)
    add over the default rule alone, on generated small instances with a tight capacity."""
    from partialloading.solvers.greedy import backend as greedy

    gained = ties = 0
    total_with = total_without = 0.0
    for seed in range(count):
        base = scenarios.random_instance(
            seed, n_users=6 + seed % 7, n_models=4, structure=("general", "backbone")[seed % 2], deadlines="per_user"
        )
        inst = dataclasses.replace(base, memory_bytes=1.3 * float(base.model_sizes.max()))
        with_choice = solve(inst, "greedy").objective
        saved = greedy.CAPACITY_EXACT_USERS, greedy.CAPACITY_DIRECT_USERS
        greedy.CAPACITY_EXACT_USERS = greedy.CAPACITY_DIRECT_USERS = 0
        try:
            default_only = solve(inst, "greedy").objective
        finally:
            greedy.CAPACITY_EXACT_USERS, greedy.CAPACITY_DIRECT_USERS = saved
        gained += with_choice > default_only + 1e-9
        ties += abs(with_choice - default_only) <= 1e-9
        total_with += with_choice
        total_without += default_only
    print(f"greedy on {count} generated instances of 6-12 users, memory 1.3 x the largest model:")
    print(f"  with its own evictions better on {gained}, equal on {ties}, worse on {count - gained - ties}")
    print(f"  served in all: {total_with:g} with, {total_without:g} with the default rule alone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="users of the greedy timing")
    parser.add_argument("--requests", type=int, default=100_000, help="requests of the simulation timing")
    parser.add_argument("--repeats", type=int, default=2, help="alternated repetitions (best kept)")
    parser.add_argument("--sweep", action="store_true", help="the capacity table instead of the timings")
    parser.add_argument("--policies", type=float, default=None, metavar="K", help="the policy table at memory K x")
    parser.add_argument(
        "--evictions", type=int, default=None, metavar="N", help="greedy's own evictions on N instances"
    )
    parser.add_argument("--rate", type=float, default=6.0, help="sweep: requests per second")
    parser.add_argument("--duration", type=float, default=120.0, help="sweep: seconds of arrivals")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.sweep:
        sweep(args.rate, args.duration, args.seed)
        return
    if args.evictions is not None:
        evictions(args.evictions)
        return
    if args.policies is not None:
        policies(args.rate, args.duration, args.seed, args.policies)
        return
    greedy_speed(args.users, args.repeats)
    simulation_speed(args.requests, args.repeats)


if __name__ == "__main__":
    main()
