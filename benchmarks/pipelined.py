"""Pipelined timing: exact agreement, greedy's gap, and greedy's speed at scale.

1. **Agreement.** Every combination of sharing structure (backbone, general, none), deadlines
   (common, per-user), weights (unit, integer 1–5), initial GPU (empty, a random model), sharing
   (on, off) and uplink (as generated, or divided by 6 so that the bandwidth condition binds) —
   96 families — times ``--per-family`` seeds, with 5–7 users over 2–4 models, under pipelined
   timing. Each instance is solved by ``enumerate`` and by ``milp`` (the pipelined MINLP, SCIP);
   both must be ``optimal``, pass the independent verifier and agree. Each pipelined optimum is
   also compared with the frame optimum of the same instance (never below it).
2. **Greedy's gap** against the ``enumerate`` optimum on instances of 4–10 users, and greedy
   never below ``edf`` nor below its own frame schedule.
3. **Speed**: greedy on 10,000 users (general sharing, per-user deadlines, weights), verified.

Exits 1 on any disagreement, non-optimal status, verifier violation or failed gate.

Run::

    python benchmarks/pipelined.py                   # 96 × 4 = 384 instances, then gap and speed
    python benchmarks/pipelined.py --per-family 1 --gap-instances 40 --speed-users 2000   # quick look
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
import time

import numpy as np
from tqdm import tqdm

from partialloading.instance import Instance
from partialloading.result import Status
from partialloading.scenarios import Deadlines, Structure, random_instance
from partialloading.solve import solve
from partialloading.timing import PipelinedSchedule
from partialloading.validation.verify import verify_solution

from exact_agreement import draw_tiny

TOLERANCE = 1e-6
TIME_LIMIT = 300.0


def pipelined(inst: Instance, squeeze: float = 1.0) -> Instance:
    return dataclasses.replace(inst, timing="pipelined", bandwidth_hz=inst.bandwidth_hz / squeeze)


def agreement(per_family: int, seed: int, problems: list[str]) -> None:
    structures: tuple[Structure, ...] = ("backbone", "general", "none")
    kinds: tuple[Deadlines, ...] = ("common", "per_user")
    families = list(itertools.product(structures, kinds, (False, True), (False, True), (True, False), (1.0, 6.0)))
    rng = np.random.default_rng(seed)
    cases = []
    for structure, deadlines, weighted, initial, sharing, squeeze in families:
        for _ in range(per_family):
            base = draw_tiny(rng, structure, deadlines, weighted, initial)
            cases.append((pipelined(base, squeeze), sharing, squeeze))
    runtimes: dict[str, list[float]] = {"enumerate": [], "milp": []}
    agree = above_frame = binding = 0
    for inst, sharing, squeeze in tqdm(cases, file=sys.stderr, desc="agreement", unit="inst"):
        optima = {}
        for method in runtimes:
            started = time.perf_counter()
            result = solve(inst, method, sharing=sharing, time_limit=TIME_LIMIT)
            runtimes[method].append(time.perf_counter() - started)
            optima[method] = result.objective
            label = f"{inst.name} sharing={sharing} B/{squeeze:g} {method}"
            if result.status != Status.OPTIMAL:
                problems.append(f"{label}: status {result.status.value}")
            report = verify_solution(inst, result.to_dict())
            if not report.ok:
                problems.append(f"{label}: {report}")
            if method == "enumerate" and result.solution.order:
                # λ = Σ a/L / B: the share of the uplink the optimal order needs.
                order = np.asarray(result.solution.order, dtype=np.int64)
                need = PipelinedSchedule.build(inst, sharing, 1.0).analysis(order).load / inst.bandwidth_hz
                binding += need > 0.5
        frame = solve(dataclasses.replace(inst, timing="frame"), "enumerate", sharing=sharing).objective
        above_frame += optima["enumerate"] > frame + TOLERANCE
        if optima["enumerate"] < frame - TOLERANCE:
            problems.append(f"{inst.name} sharing={sharing}: pipelined optimum below the frame optimum")
        if abs(optima["enumerate"] - optima["milp"]) <= TOLERANCE:
            agree += 1
        else:
            problems.append(f"{inst.name} sharing={sharing} B/{squeeze:g}: optima differ ({optima})")
    n = len(cases)
    print(f"1. agreement under pipelined timing: {n} instances ({len(families)} families x {per_family}), seed {seed}")
    print(f"   enumerate = milp (SCIP MINLP): {agree}/{n}; pipelined optimum above the frame optimum on {above_frame}")
    print(f"   optimal orders that need more than half of the uplink (lambda > 0.5): {binding}")
    print(f"   {'method':<10} {'runs':>5} {'mean s':>9} {'median s':>9} {'max s':>9} {'total s':>9}")
    for method, times in runtimes.items():
        print(
            f"   {method:<10} {len(times):>5} {statistics.fmean(times):>9.4f} {statistics.median(times):>9.4f} "
            f"{max(times):>9.4f} {sum(times):>9.2f}"
        )


def greedy_gap(count: int, seed: int, problems: list[str]) -> None:
    rng = np.random.default_rng(seed + 1)
    gaps: list[float] = []
    below_edf = below_frame = 0
    for _ in tqdm(range(count), file=sys.stderr, desc="greedy gap", unit="inst"):
        structure = str(rng.choice(["backbone", "general", "none"]))
        base = random_instance(
            int(rng.integers(2**31)),
            n_users=int(rng.integers(4, 11)),
            n_models=int(rng.integers(2, 5)),
            structure=structure,  # type: ignore[arg-type]
            deadlines="per_user",
            weighted=bool(rng.integers(2)),
            initial_model=bool(rng.integers(2)),
        )
        inst = pipelined(base, float(rng.choice([1.0, 3.0, 6.0])))
        optimum = solve(inst, "enumerate", time_limit=TIME_LIMIT).objective
        greedy = solve(inst, "greedy")
        if not verify_solution(inst, greedy.to_dict()).ok:
            problems.append(f"{inst.name}: greedy fails the verifier")
        below_edf += greedy.objective < solve(inst, "edf").objective - TOLERANCE
        below_frame += (
            greedy.objective < solve(dataclasses.replace(inst, timing="frame"), "greedy").objective - TOLERANCE
        )
        if optimum > 0:
            gaps.append((optimum - greedy.objective) / optimum)
    mean, worst = statistics.fmean(gaps), max(gaps)
    optimal = sum(g <= 1e-12 for g in gaps) / len(gaps)
    ok = mean <= 0.01 and worst <= 0.10 and below_edf == 0 and below_frame == 0
    print(f"2. greedy against the pipelined optimum, {count} instances of 4-10 users:")
    print(f"   mean gap {100 * mean:.2f}%, max {100 * worst:.2f}%, optimal on {100 * optimal:.1f}%;")
    print(f"   below edf: {below_edf}, below its own frame schedule: {below_frame}; gates: {'PASS' if ok else 'FAIL'}")
    if not ok:
        problems.append("greedy gates failed")


def speed(users: int) -> None:
    base = random_instance(
        7, n_users=users, n_models=max(4, users // 50), structure="general", deadlines="per_user", weighted=True
    )
    inst = pipelined(base)
    for timing, case in (("frame", base), ("pipelined", inst)):
        started = time.perf_counter()
        result = solve(case, "greedy")
        elapsed = time.perf_counter() - started
        ok = verify_solution(case, result.to_dict()).ok
        print(
            f"3. greedy on {users} users, {timing:<9}: {elapsed:6.2f} s, served weight {result.objective:g}, "
            f"verified {'yes' if ok else 'NO'}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--per-family", type=int, default=4, help="instances per family (96 families; default 4; 0: skip)"
    )
    parser.add_argument("--gap-instances", type=int, default=200, help="instances of the greedy gap (default 200)")
    parser.add_argument("--speed-users", type=int, default=10_000, help="users of the speed run (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the instance draw (default 0)")
    args = parser.parse_args(argv)
    problems: list[str] = []
    if args.per_family > 0:
        agreement(args.per_family, args.seed, problems)
    if args.gap_instances > 0:
        greedy_gap(args.gap_instances, args.seed, problems)
    if args.speed_users > 0:
        speed(args.speed_users)
    for line in problems:
        print(f"PROBLEM {line}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
