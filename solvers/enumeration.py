"""Exact exhaustive search for tiny instances (``method="enumerate"``).

The admissible sets are closed under removal: dropping a user from a feasible order shortens
the upload phase (``τ`` falls by ``a_k/B``), removes its inference time, and replaces the two
loads around it by one that is no longer, since ``ℓ(i, i'') ≤ ℓ(i, i') + ℓ(i', i'')`` (the
blocks ``i''`` misses after ``i`` are missed after ``i'`` or were missing from ``i'`` after
``i``; the same holds for whole-model loads). So every later request finishes no later.

The search therefore visits candidate sets in order of decreasing weight, skips every superset
of a set already proven infeasible, and stops at the first feasible one: it is optimal, and the
weight of the set being examined is always a valid upper bound. Whether a set ``S`` has a
feasible order is decided by depth-first search over orders with dominance on
``(served subset, model in memory) → earliest time`` — with ``τ`` fixed by ``S``, a state that
is reached later is never better.
"""

from __future__ import annotations

import time
from itertools import combinations
from typing import Any

import numpy as np

from partialloading.errors import InstanceTooLargeError
from partialloading.evaluate import RELATIVE_TOLERANCE, servable_alone
from partialloading.instance import Instance
from partialloading.result import Status
from partialloading.solve import SolverOutput

from . import edf

MAX_USERS = 10
"""Default size limit: beyond it the search may take minutes; use the MILP or CP-SAT."""


class _Search:
    def __init__(self, instance: Instance, sharing: bool) -> None:
        self.loads = instance.load_matrix(sharing).tolist()
        self.first = instance.initial_load(sharing).tolist()
        self.model = instance.user_models.tolist()
        self.infer = instance.infer_times.tolist()
        self.upload = instance.upload_times.tolist()
        self.limit = (instance.deadlines * (1.0 + RELATIVE_TOLERANCE)).tolist()
        self.nodes = 0

    def step(self, last: int | None, k: int) -> float:
        m = self.model[k]
        load = self.first[m] if last is None else self.loads[last][m]
        return float(load + self.infer[m])

    def order_for(self, users: tuple[int, ...]) -> list[int] | None:
        """A feasible service order of ``users``, or ``None`` if none exists."""
        tau = sum(self.upload[k] for k in users)
        # Earliest deadline first among the choices finds a feasible order early when one exists.
        ranked = sorted(users, key=lambda k: (self.limit[k], self.model[k], k))
        full = (1 << len(ranked)) - 1
        best: dict[tuple[int, int | None], float] = {}
        path: list[int] = []

        def dfs(mask: int, last: int | None, t: float) -> bool:
            self.nodes += 1
            if mask == full:
                return True
            for pos, k in enumerate(ranked):
                if mask >> pos & 1:
                    continue
                # A pending user that cannot finish even when served next prunes the branch.
                if tau + t + self.infer[self.model[k]] > self.limit[k]:
                    return False
            for pos, k in enumerate(ranked):
                if mask >> pos & 1:
                    continue
                t2 = t + self.step(last, k)
                if tau + t2 > self.limit[k]:
                    continue
                key = (mask | 1 << pos, self.model[k])
                if best.get(key, np.inf) <= t2:
                    continue
                best[key] = t2
                path.append(k)
                if dfs(mask | 1 << pos, self.model[k], t2):
                    return True
                path.pop()
            return False

        return list(path) if dfs(0, None, 0.0) else None


def solve(
    instance: Instance,
    *,
    sharing: bool,
    time_limit: float | None,
    seed: int,
    max_users: int = MAX_USERS,
    **options: Any,
) -> SolverOutput:
    """Exact search over admitted sets and orders (``seed`` is not used).

    Parameters
    ----------
    max_users
        Refuse instances with more users than this (the search is exponential).
    """
    if options:
        raise TypeError(f"enumerate takes only max_users (got {', '.join(options)})")
    if instance.num_users > max_users:
        raise InstanceTooLargeError(
            f"enumerate handles at most {max_users} users (this instance has {instance.num_users}); "
            "use --method milp, cpsat, dp or greedy"
        )
    started = time.perf_counter()
    search = _Search(instance, sharing)
    weights = instance.weights.tolist()
    # Users that miss their deadline even when served alone can never be admitted.
    alone = servable_alone(instance, sharing).tolist()
    candidates: list[tuple[float, tuple[int, ...]]] = [
        (sum(weights[k] for k in subset), subset)
        for size in range(len(alone), -1, -1)
        for subset in combinations(alone, size)
    ]
    # Heaviest first; among equal weights, larger sets, then lexicographic: deterministic.
    candidates.sort(key=lambda c: (-c[0], -len(c[1]), c[1]))
    infeasible: list[int] = []
    checked = 0
    for weight, subset in candidates:
        mask = sum(1 << k for k in subset)
        if any(bad & mask == bad for bad in infeasible):
            continue
        if time_limit is not None and time.perf_counter() - started > time_limit:
            # Best-first search has no incumbent before the optimum: fall back on the baseline.
            fallback = edf.solve(instance, sharing=sharing, time_limit=None, seed=seed).order
            status = Status.FEASIBLE if fallback else Status.TIME_LIMIT
            return SolverOutput(fallback, status, bound=weight, info={"sets_checked": checked})
        checked += 1
        order = search.order_for(subset)
        if order is not None:
            info = {"sets_checked": checked, "nodes": search.nodes}
            return SolverOutput(order, Status.OPTIMAL, bound=weight, info=info)
        infeasible.append(mask)
    raise AssertionError("the empty set is always feasible")  # pragma: no cover
