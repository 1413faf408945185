"""Cross-check of the exact methods on many tiny instances: enumerate, MILP (both formulations), CP-SAT.

Instances mix backbone, general and no sharing, common and per-user deadlines, unit and integer
weights, empty and non-empty initial GPU, and are solved with and without parameter sharing.
Every method must be proven optimal with the same objective as exhaustive enumeration, and every
solution must pass the independent verifier. The compact MILP is run only where it is exact
(common deadline). Exits 0 when all agree, 1 otherwise.

Example (the "300 instances" check of issue #3)::

    python benchmarks/exact_agreement.py --instances 300
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from typing import Any

from partialloading.validation.verify import verify_solution_dict

import partialloading as pl
from partialloading.generators import Structure, random_instance
from partialloading.instance import Instance

STRUCTURES: tuple[Structure, ...] = ("backbone", "general", "none")


def instance_for(index: int, seed: int) -> tuple[Instance, bool]:
    """The ``index``-th instance of the mix, and whether it is solved with sharing."""
    s = seed * 100_003 + index
    inst = random_instance(
        s,
        n_users=4 + index % 4,
        n_models=2 + index % 3,
        structure=STRUCTURES[index % 3],
        deadlines="common" if index % 2 == 0 else "per_user",
        weighted=index % 4 in (1, 2),
        initial_model=index % 5 in (0, 3),
    )
    return inst, index % 7 != 6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=300, help="number of instances (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mix (default 0)")
    args = parser.parse_args(argv)
    methods: list[tuple[str, str, dict[str, Any]]] = [
        ("milp-general", "milp", {"formulation": "general"}),
        ("milp-compact", "milp", {"formulation": "compact"}),
    ]
    if importlib.util.find_spec("partialloading.solvers.cpsat") is not None:
        methods.append(("cpsat", "cpsat", {}))
    else:
        print("note: cpsat skipped: its backend module is not installed in this checkout", file=sys.stderr)
    started = time.perf_counter()
    disagreements = 0
    runs = 0
    for index in range(args.instances):
        inst, sharing = instance_for(index, args.seed)
        ref = pl.solve(inst, "enumerate", sharing=sharing)
        for label, method, options in methods:
            if label == "milp-compact" and len(set(inst.deadlines.tolist())) > 1:
                continue
            result = pl.solve(inst, method, sharing=sharing, **options)
            runs += 1
            report = verify_solution_dict(inst, result.to_dict())
            ok = result.status == pl.Status.OPTIMAL and abs(result.objective - ref.objective) < 1e-9 and report.ok
            if not ok:
                disagreements += 1
                print(
                    f"DISAGREE {inst.name} sharing={sharing} {label}: {result.status} {result.objective:g} "
                    f"vs enumerate {ref.objective:g}; verifier: {report}"
                )
    elapsed = time.perf_counter() - started
    print(
        f"{args.instances} instances, {runs} exact runs compared with enumerate "
        f"({', '.join(label for label, _, _ in methods)}): {disagreements} disagreement(s), {elapsed:.0f}s"
    )
    return 0 if disagreements == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
