"""Exact exhaustive search for tiny instances (``method="enumerate"``).

The admissible sets are closed under removal: dropping a user from a feasible order shortens
the upload phase (``τ`` falls by ``a_k/B``), removes its inference time, and replaces the two
loads around it by one that is no longer, since ``ℓ(i, i'') ≤ ℓ(i, i') + ℓ(i', i'')`` (the
blocks ``i''`` misses after ``i`` are missed after ``i'`` or were missing from ``i'`` after
``i``; the same holds for whole-model loads). So every later request finishes no later.

The search therefore visits candidate sets in order of decreasing weight, skips every superset
of a set already proven infeasible, and stops at the first feasible one: it is optimal, and the
weight of the set being examined is always a valid upper bound. Whether a set ``S`` has a
feasible order is the timing model's exact question (:meth:`FrameSchedule.find_order`: depth-first
search over orders with dominance on ``(served subset, model in memory) → earliest time``).
"""

from __future__ import annotations

import time
from itertools import combinations

from partialloading.backend import SolveRequest, SolverOutput
from partialloading.errors import InstanceTooLargeError, SolverError
from partialloading.instance import Instance
from partialloading.params import EnumerateParams
from partialloading.result import Status
from partialloading.timing import schedule, servable_alone

from . import edf

MAX_USERS = EnumerateParams.max_users
"""Default size limit: beyond it the search may take minutes; use the MILP or CP-SAT."""


def solve(instance: Instance, params: EnumerateParams, request: SolveRequest) -> SolverOutput:
    """Exact search over admitted sets and orders (the seed is not used).

    Refuses instances with more than ``params.max_users`` users (the search is exponential).
    The initial schedule, if any, is the fallback at the time limit when it beats ``edf``.
    """
    max_users = params.max_users
    sharing, time_limit = request.sharing, request.time_limit
    if instance.num_users > max_users:
        raise InstanceTooLargeError(
            f"enumerate handles at most {max_users} users (this instance has {instance.num_users}); "
            "use --method milp, cpsat, dp or greedy"
        )
    started = time.perf_counter()
    search = schedule(instance, sharing, tolerance_share=1.0)
    nodes = 0
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
            fallback = edf.edf_schedule(instance, sharing)
            if (
                request.initial is not None
                and instance.weights[list(request.initial)].sum() > instance.weights[fallback].sum()
            ):
                fallback = list(request.initial)
            status = Status.FEASIBLE if fallback else Status.TIME_LIMIT
            return SolverOutput(fallback, status, bound=weight, info={"sets_checked": checked})
        checked += 1
        order, visited = search.find_order(subset)
        nodes += visited
        if order is not None:
            info = {"sets_checked": checked, "nodes": nodes}
            return SolverOutput(order, Status.OPTIMAL, bound=weight, info=info)
        infeasible.append(mask)
    raise SolverError("enumerate found no feasible set, not even the empty one")  # pragma: no cover
