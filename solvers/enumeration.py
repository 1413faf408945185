"""Exact exhaustive search for tiny instances (``method="enumerate"``).

The admissible sets are closed under removal: dropping a user from a feasible order shortens
the upload phase (``τ`` falls by ``a_k/B``), removes its inference time, and replaces the two
loads around it by one that is no longer, since ``ℓ(i, i'') ≤ ℓ(i, i') + ℓ(i', i'')`` (the
blocks ``i''`` misses after ``i`` are missed after ``i'`` or were missing from ``i'`` after
``i``; the same holds for whole-model loads, and every memory model keeps this promise). So
every later request finishes no later.

The search therefore visits candidate sets in order of decreasing weight, skips every superset
of a set already proven infeasible, and stops at the first feasible one: it is optimal, and the
weight of the set being examined is always a valid upper bound. Whether a set ``S`` has a
feasible order is the exact order search of :mod:`partialloading.solvers.order_search` (depth-first
search over orders with dominance on ``(served subset, memory state) → earliest time``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from partialloading.errors import InstanceTooLargeError, SolverError
from partialloading.instance import Instance
from partialloading.memory import PAIRWISE, memory_of
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import EnumerateParams
from partialloading.result import Status
from partialloading.timing import Schedule, schedule, servable_alone
from partialloading.tolerance import slop

from . import edf
from .order_search import find_order


@dataclass(frozen=True)
class SetSearch:
    """Outcome of :func:`heaviest_feasible_set`.

    Attributes
    ----------
    order
        A feasible order of the heaviest feasible candidate set; ``None`` when the search was
        stopped, or when no candidate set is feasible.
    stopped
        Whether ``stop`` ended the search first.
    weight
        Weight of the set found, or of the first set not examined when stopped (then an upper
        bound on every set left).
    checked, nodes
        Sets examined, and order-search nodes visited.
    evicted
        The evictions that make ``order`` feasible (``None``: the memory's default rule).
    batch
        The batch numbers of ``order`` (``None``: one request per batch).
    """

    order: list[int] | None
    stopped: bool
    weight: float
    checked: int
    nodes: int
    evicted: list[tuple[int, ...]] | None = None
    batch: list[int] | None = None


MAX_EVICTABLE = 20
"""Under a memory whose evictions are decisions, the exact search tries every inclusion-minimal
set of blocks to evict; it refuses instances whose candidate users' models have more blocks than
this (the sets could then number in the millions): use the MILP or greedy."""


def evictable(instance: Instance) -> int:
    """Blocks of positive size that the models of the users servable alone hold (0 when the
    memory makes no eviction decisions)."""
    if PAIRWISE in memory_of(instance).structure:
        return 0
    models = np.unique(instance.user_models[servable_alone(instance)])
    held = instance.membership[models].any(axis=0) & (instance.block_sizes > 0)
    return int(held.sum())


def heaviest_feasible_set(
    search: Schedule,
    alone: Sequence[int],
    weights: Sequence[float],
    stop: Callable[[int], bool],
    floor: float = -math.inf,
    ceiling: float = math.inf,
) -> SetSearch:
    """Try the subsets of ``alone`` heavier than ``floor``, heaviest first, for a feasible order.

    Subsets heavier than ``ceiling`` (a proven upper bound) are not tried.

    Sets of equal weight go larger first, then lexicographically, so the search is
    deterministic; a set containing one already proven infeasible is skipped (admissible sets are
    closed under removal). ``stop(nodes)`` is asked before each set is examined.
    """
    candidates = [
        (w, subset)
        for size in range(len(alone), -1, -1)
        for subset in combinations(alone, size)
        if floor < (w := sum(weights[k] for k in subset)) <= ceiling
    ]
    candidates.sort(key=lambda c: (-c[0], -len(c[1]), c[1]))
    infeasible: list[int] = []
    checked = nodes = 0
    for weight, subset in candidates:
        mask = sum(1 << k for k in subset)
        if any(bad & mask == bad for bad in infeasible):
            continue
        if stop(nodes):
            return SetSearch(None, True, weight, checked, nodes)
        checked += 1
        found = find_order(search, subset)
        nodes += found.nodes
        if found.order is not None:
            return SetSearch(list(found.order), False, weight, checked, nodes, found.evicted, found.batch)
        infeasible.append(mask)
    return SetSearch(None, False, floor, checked, nodes)


def precheck(instance: Instance, params: EnumerateParams) -> None:
    """Refuse, before any work (the warm start included), an instance too large for the search."""
    if instance.num_users > params.max_users:
        raise InstanceTooLargeError(
            f"enumerate handles at most {params.max_users} users (this instance has {instance.num_users}); "
            "use milp, cpsat, dp or greedy"
        )
    blocks = evictable(instance)
    if blocks > MAX_EVICTABLE:
        raise InstanceTooLargeError(
            f"enumerate searches evictions over at most {MAX_EVICTABLE} blocks (the requested models hold {blocks}); "
            "use milp or greedy"
        )


def solve(instance: Instance, params: EnumerateParams, request: SolveRequest) -> SolverOutput:
    """Exact search over admitted sets and orders (the seed is not used).

    Instances with more than ``params.max_users`` users (the search is exponential) are refused
    by :func:`precheck`, which the registry runs before any work.
    With an initial schedule only the sets heavier than it are tried: when none is feasible the
    initial schedule is optimal. It is also the fallback at the time limit when it beats ``edf``.
    """
    # Its size limits (precheck) the registry checks before any work.
    search = schedule(instance, tolerance_share=1.0)
    # Users that miss their deadline even when served alone can never be admitted.
    alone = servable_alone(instance).tolist()

    start = list(request.initial) if request.initial else []
    floor = float(instance.weights[start].sum()) if start else -math.inf
    ceiling = math.inf if request.bound is None else request.bound + slop(request.bound)
    found = heaviest_feasible_set(search, alone, instance.weights.tolist(), request.deadline, floor, ceiling)
    if found.stopped:
        # Best-first search has no incumbent before the optimum: fall back on the baseline.
        fallback, batch = edf.edf_steps(instance)
        evicted = None
        if (
            request.initial is not None
            and instance.weights[list(request.initial)].sum() > instance.weights[fallback].sum()
        ):
            fallback, evicted = list(request.initial), request.initial_evicted
            batch = None if request.initial_batch is None else list(request.initial_batch)
        status = Status.FEASIBLE if fallback else Status.TIME_LIMIT
        info = {"sets_checked": found.checked}
        return SolverOutput(fallback, status, bound=found.weight, info=info, evicted=evicted, batch=batch)
    if found.order is not None:
        info = {"sets_checked": found.checked, "nodes": found.nodes}
        return SolverOutput(
            found.order, Status.OPTIMAL, bound=found.weight, info=info, evicted=found.evicted, batch=found.batch
        )
    if start:
        # Nothing heavier than the initial schedule is feasible.
        info = {"sets_checked": found.checked, "nodes": found.nodes}
        return SolverOutput(
            start, Status.OPTIMAL, bound=floor, info=info, evicted=request.initial_evicted, batch=request.initial_batch
        )
    raise SolverError("enumerate found no feasible set, not even the empty one")  # pragma: no cover
