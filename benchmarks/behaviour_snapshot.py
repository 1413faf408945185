"""What every method answers on a fixed set of small instances, times stripped: a fingerprint
to diff before and after a change that must not change behaviour (a refactor).

Every method (and ``auto``) solves generated instances of the three sharing structures, under
both timing models, with the one-model memory and with a capacity (``capacity`` and
``capacity-lru``), with and without sharing, per-user deadlines and weights. Each line of the
output is one solve: the instance, the method, then the status, objective, bound, the admitted
users in order and the evictions, or the one-line refusal. Nothing timed is printed and no
time limit is set, so two runs of the same code print the same lines.

Run::

    python benchmarks/behaviour_snapshot.py > before.txt
    # ... change the code ...
    python benchmarks/behaviour_snapshot.py > after.txt && diff before.txt after.txt
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from partialloading.errors import PartialLoadingError
from partialloading.instance import Instance
from partialloading.scenarios import random_instance
from partialloading.solve import solve
from partialloading.validation.verify import verify_solution

METHODS = ("auto", "enumerate", "milp", "cpsat", "bnb", "dp", "greedy", "edf", "fifo")
"""Every registered method and ``auto``."""


def instances(users: int, seeds: int) -> list[tuple[str, Instance]]:
    """The instances: structure × deadlines × timing × memory, ``seeds`` of each."""
    out = []
    for structure in ("backbone", "general", "none"):
        for deadlines in ("common", "per-user"):
            for seed in range(seeds):
                base = random_instance(
                    seed,
                    n_users=users,
                    n_models=3,
                    structure=structure,
                    deadlines=deadlines,
                    weighted=True,
                    initial_model=seed % 2 == 1,
                )
                for timing in ("frame", "pipelined"):
                    timed = dataclasses.replace(base, timing=timing)
                    room = 1.5 * float(base.model_sizes.max())
                    variants = {
                        "single": timed,
                        "capacity": dataclasses.replace(timed, memory_bytes=room),
                        "capacity-lru": dataclasses.replace(timed, memory_bytes=room, memory="capacity-lru"),
                    }
                    for memory, inst in variants.items():
                        out.append((f"{structure}/{deadlines}/s{seed}/{timing}/{memory}", inst))
    return out


def line(label: str, instance: Instance, method: str, sharing: bool) -> str:
    """One solve, as a line of JSON without times."""
    try:
        result = solve(instance, method, sharing=sharing, seed=0)
    except PartialLoadingError as exc:
        return json.dumps({"case": label, "method": method, "sharing": sharing, "refused": str(exc)})
    report = verify_solution(instance, result.to_dict())
    return json.dumps(
        {
            "case": label,
            "method": method,
            "sharing": sharing,
            "chosen": result.method,
            "status": str(result.status),
            "objective": round(result.objective, 9),
            "bound": None if result.bound is None else round(result.bound, 9),
            "admitted": list(result.solution.admitted),
            "evicted": [list(e) for e in result.solution.evicted_ids],
            "verified": report.ok,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=7, help="users per instance (enumeration needs few)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per combination")
    args = parser.parse_args()
    for label, inst in instances(args.users, args.seeds):
        for sharing in (True, False):
            for method in METHODS:
                print(line(label, inst, method, sharing))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
