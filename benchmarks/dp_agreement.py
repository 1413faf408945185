"""The backbone DP against two other exact methods on many generated backbone-sharing instances.

Each instance is a tiny backbone-sharing, common-deadline instance (1–9 users, 1–5 models) from
:func:`partialloading.scenarios.random_instance`; the seed cycles through these cases:
single-model clusters, an initial model in GPU memory, integer weights, everyone fits, few or
nobody fits, ties (identical users). Every instance is solved with and without parameter sharing
by the DP, exhaustive enumeration and the MILP (compact formulation, HiGHS). The DP must reach
the same objective as both, be proven optimal, and pass the independent verifier. A second set
of larger instances (``--medium``, 60 users, 7 models) is checked against the MILP only.

Prints the counts per case and exits 0 when everything agrees, 1 otherwise::

    python benchmarks/dp_agreement.py --instances 300
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import Counter

import numpy as np

import partialloading as pl
from partialloading.instance import Instance
from partialloading.scenarios import random_instance
from partialloading.validation.verify import verify_solution

CASES = ("single-model clusters", "initial model", "integer weights", "everyone fits", "tight", "ties", "plain")


def tiny_instance(seed: int) -> tuple[str, Instance]:
    """A tiny backbone instance and the case it exercises."""
    rng = np.random.default_rng(seed)
    case = CASES[seed % len(CASES)]
    n_models = int(rng.integers(1, 6))
    inst = random_instance(
        seed,
        n_users=int(rng.integers(1, 10)),
        n_models=n_models,
        structure="backbone",
        n_clusters=n_models if case == "single-model clusters" else int(rng.integers(1, n_models + 1)),
        initial_model=case == "initial model" or rng.random() < 0.25,
        weighted=case == "integer weights",
        tightness={"everyone fits": 1.2, "tight": 0.1}.get(case),
    )
    if case == "ties":
        users = tuple(dataclasses.replace(u, data_bits=1e6, spectral_efficiency=4.0) for u in inst.users)
        inst = dataclasses.replace(inst, users=users)
    return case, inst


def check(inst: Instance, sharing: bool, methods: tuple[str, ...]) -> tuple[bool, str, float]:
    """Solve with the DP and ``methods``; (agree, message, DP objective)."""
    dp = pl.solve(inst, "dp", sharing=sharing)
    report = verify_solution(inst, dp.to_dict())
    if not report.ok:
        return False, f"verifier: {report}", dp.objective
    if dp.status is not pl.Status.OPTIMAL or dp.bound != dp.objective:
        return False, f"dp status {dp.status} bound {dp.bound}", dp.objective
    for method in methods:
        other = pl.solve(inst, method, sharing=sharing)
        if other.status is not pl.Status.OPTIMAL:
            return False, f"{method} not proven optimal ({other.status})", dp.objective
        if abs(other.objective - dp.objective) > 1e-9:
            return False, f"dp {dp.objective:g} != {method} {other.objective:g}", dp.objective
    return True, "", dp.objective


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=300, help="tiny instances (each with and without sharing)")
    parser.add_argument("--medium", type=int, default=40, help="60-user instances checked against the MILP")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    args = parser.parse_args()

    started = time.perf_counter()
    failures: list[str] = []
    per_case: Counter[str] = Counter()
    extremes: Counter[str] = Counter()
    for i in range(args.instances):
        seed = args.seed + i
        case, inst = tiny_instance(seed)
        for sharing in (True, False):
            ok, message, objective = check(inst, sharing, ("enumerate", "milp"))
            per_case[case] += 1
            total = float(inst.weights.sum())
            extremes["everyone served"] += objective == total
            extremes["nobody served"] += objective == 0
            if not ok:
                failures.append(f"tiny seed {seed} ({case}, sharing={sharing}): {message}")
    for i in range(args.medium):
        seed = args.seed + 100_000 + i
        inst = random_instance(seed, n_users=60, n_models=7, structure="backbone", initial_model=i % 2 == 0)
        for sharing in (True, False):
            ok, message, _ = check(inst, sharing, ("milp",))
            per_case["medium (60 users, MILP only)"] += 1
            if not ok:
                failures.append(f"medium seed {seed} (sharing={sharing}): {message}")

    runs = sum(per_case.values())
    print(f"{args.instances} tiny instances (DP vs enumerate and MILP) and {args.medium} medium (DP vs MILP),")
    print(f"each with and without sharing: {runs} runs in {time.perf_counter() - started:.1f} s")
    for case, count in per_case.items():
        print(f"  {case:<32} {count:>5} runs")
    for name, count in extremes.items():
        print(f"  tiny runs with {name:<17} {count:>5}")
    print(f"agree: {runs - len(failures)}/{runs}, disagree or invalid: {len(failures)}")
    for line in failures[:20]:
        print("  " + line)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
