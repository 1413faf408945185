"""Do the exact methods agree? MILP (both formulations), CP-SAT, branch-and-bound and enumeration on tiny instances.

Every combination of sharing structure (backbone, general, none), deadlines (common, per-user),
weights (unit, integer 1–5), initial GPU (empty, a random model) and sharing (on, off) —
48 families — times ``--per-family`` seeds, with 5–7 users over 2–4 models. Each instance is
solved by ``enumerate``, ``cpsat``, ``bnb``, ``milp`` with the general formulation and, where it is exact
(one common deadline), ``milp`` with the compact formulation, each twice: from nothing
(``initial=[]``, the model alone) and with the default warm start (greedy's schedule and bound).
Every result is checked by the independent verifier and must be ``optimal``; the optima must be
equal. Prints the counts and
each method's runtimes, and exits 1 on any disagreement, non-optimal status or verifier violation.

Run::

    python benchmarks/exact_agreement.py                  # 48 × 7 = 336 instances
    python benchmarks/exact_agreement.py --per-family 1   # quick look
"""

from __future__ import annotations

import argparse
import importlib.util
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
from partialloading.validation.verify import verify_solution

TOLERANCE = 1e-6
"""Absolute tolerance on optima (weights are integers)."""

TIME_LIMIT = 120.0
"""Per-solve limit; a solve that hits it counts as a failure (it is not ``optimal``)."""


METHODS: dict[str, tuple[str, dict[str, str]]] = {
    "enumerate": ("enumerate", {}),
    "cpsat": ("cpsat", {}),
    "bnb": ("bnb", {}),
    "milp-general": ("milp", {"formulation": "general"}),
    "milp-compact": ("milp", {"formulation": "compact"}),
}
"""Compared methods: label → (method, options)."""


def draw_tiny(
    rng: np.random.Generator, structure: Structure, deadlines: Deadlines, weighted: bool, initial: bool
) -> Instance:
    """One instance of 5–7 users over 2–4 models of a family (also drawn by ``pipelined.py``)."""
    return random_instance(
        int(rng.integers(2**31)),
        n_users=int(rng.integers(5, 8)),
        n_models=int(rng.integers(2, 5)),
        structure=structure,
        deadlines=deadlines,
        weighted=weighted,
        initial_model=initial,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-family", type=int, default=7, help="instances per family (48 families; default 7)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the instance draw (default 0)")
    args = parser.parse_args(argv)
    methods = dict(METHODS)
    if importlib.util.find_spec("partialloading.solvers.milp") is None:
        print("milp is not available yet: comparing the other methods", file=sys.stderr)
        methods = {label: spec for label, spec in methods.items() if spec[0] != "milp"}

    structures: tuple[Structure, ...] = ("backbone", "general", "none")
    deadline_kinds: tuple[Deadlines, ...] = ("common", "per_user")
    families = list(itertools.product(structures, deadline_kinds, (False, True), (False, True), (True, False)))
    rng = np.random.default_rng(args.seed)
    cases = []
    for structure, deadlines, weighted, initial, sharing in families:
        for _ in range(args.per_family):
            cases.append((draw_tiny(rng, structure, deadlines, weighted, initial), sharing))

    starts = {"cold": {"initial": []}, "warm": {}}
    runtimes: dict[str, list[float]] = {f"{m}/{start}": [] for m in methods for start in starts}
    agree = 0
    problems: list[str] = []
    for inst, sharing in tqdm(cases, file=sys.stderr, desc="instances", unit="inst"):
        optima = {}
        common = bool(np.all(inst.deadlines == inst.deadlines[0]))
        for (base, (name, options)), (start, extra) in itertools.product(methods.items(), starts.items()):
            if options.get("formulation") == "compact" and not common:
                continue  # the compact MILP is exact only with one common deadline
            method = f"{base}/{start}"
            started = time.perf_counter()
            result = solve(inst, name, sharing=sharing, time_limit=TIME_LIMIT, seed=0, **options, **extra)
            runtimes[method].append(time.perf_counter() - started)
            optima[method] = result.objective
            label = f"{inst.name} sharing={sharing} {method}"
            if result.status != Status.OPTIMAL:
                problems.append(f"{label}: status {result.status.value}")
            report = verify_solution(inst, result.to_dict())
            if not report.ok:
                problems.append(f"{label}: {report}")
        if max(optima.values()) - min(optima.values()) <= TOLERANCE:
            agree += 1
        else:
            shown = ", ".join(f"{m}={v:g}" for m, v in optima.items())
            problems.append(f"{inst.name} sharing={sharing}: optima differ ({shown})")

    n = len(cases)
    print(f"exact agreement: {n} instances ({len(families)} families x {args.per_family}), seed {args.seed}")
    print(f"methods: {', '.join(methods)}, each cold and warm (milp-compact on the common-deadline instances only)")
    print(f"all optima equal: {agree}/{n}; disagreements: {n - agree}; other problems: {len(problems) - (n - agree)}")
    print(f"{'method':<18} {'runs':>5} {'mean s':>9} {'median s':>9} {'max s':>9} {'total s':>9}")
    for method, times in runtimes.items():
        print(
            f"{method:<18} {len(times):>5} {statistics.fmean(times):>9.4f} {statistics.median(times):>9.4f} "
            f"{max(times):>9.4f} {sum(times):>9.2f}"
        )
    for line in problems:
        print(f"PROBLEM {line}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
