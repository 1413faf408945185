"""Greedy's third phase: the best constructed schedule improved by local search, then seeded
randomized restarts (ruin and recreate, perturbed EDF, random insertion) within an effort
budget counted in evaluated positions, and the exact polish on small instances."""

from __future__ import annotations

from typing import Any

import numpy as np

from partialloading.errors import SolverError
from partialloading.instance import IntArray
from partialloading.stop import Deadline
from partialloading.timing import Schedule
from partialloading.tolerance import reaches

from .. import local_search
from ..local_search import EVALUATION_COST, Budget, better, insert_all
from .admission import construct, insert_admit
from .exact import exact_polish

EFFORT_PER_USER = 4000.0
"""Default local-search effort per user and per user squared, in evaluated positions
(machine-independent): a local-search pass evaluates O(K) moves of O(K) each."""


MIN_EFFORT = 1e6
"""Floor of the default local-search effort (small instances get many restarts)."""


MAX_EFFORT = 1e7
"""Cap on the default local-search effort (a few seconds of numpy work)."""


PATIENCE = 4
"""Restarts stop after this many in a row that found nothing better."""


def ruin_and_recreate(p: Schedule, order: IntArray, rng: np.random.Generator) -> IntArray:
    """Remove a random subset (up to a third) of ``order`` and refill by best insertion: the users
    left out in random order, the removed ones last."""
    remove = rng.choice(order.size, size=int(rng.integers(1, max(1, order.size // 3) + 1)), replace=False)
    kept = np.delete(order, remove)
    outside = np.setdiff1d(np.arange(p.num_users), order)
    return insert_all(p, np.concatenate((rng.permutation(outside), order[remove])), kept)


def default_effort(n_users: int) -> float:
    """Default local-search budget: ``EFFORT_PER_USER·(K + K²)`` clipped to ``[MIN_EFFORT, MAX_EFFORT]``."""
    return float(np.clip(EFFORT_PER_USER * (n_users + n_users**2), MIN_EFFORT, MAX_EFFORT))


def restarts_for(n_users: int) -> int:
    """Randomized restarts of the local search by default (many on small instances, none on large)."""
    return int(min(30, 300 // max(n_users, 1)))


def run(
    p: Schedule,
    extra: list[tuple[str, IntArray]],
    *,
    bound: float,
    improve_: bool,
    effort: float,
    restarts: int,
    rng: np.random.Generator,
    deadline: Deadline,
    sequences_too: bool = True,
) -> tuple[IntArray, dict[str, Any]]:
    out_of_time = deadline.expired
    start, start_name, values = construct(p, extra, out_of_time, bound if improve_ else np.inf, sequences_too)
    info: dict[str, Any] = {"start": start_name, "start_objective": p.score(start)[0], "starts": values}
    if not improve_ or reaches(p.score(start)[0], bound):
        return start, info
    # The budget counts evaluated positions; a timing model whose positions cost more gets fewer.
    budget = Budget(effort / EVALUATION_COST[p.timing], deadline)
    best, stats = local_search.improve(p, start, budget, target=bound)
    if better(p, start, best):
        raise SolverError("greedy: the improvement returned a worse schedule than its start")
    moves = stats.total()
    done = since = 0
    # Nobody can be served who misses the deadline when served alone: reaching that bound ends
    # the search (the schedule is then optimal).
    for _ in range(restarts):
        if budget.effort <= 0 or out_of_time() or reaches(p.score(best)[0], bound):
            break
        if since >= PATIENCE:  # the restarts stopped paying
            break
        if done % 2 == 0 and best.size:
            seed_order = ruin_and_recreate(p, best, rng)
        elif done % 4 == 1:
            # Perturbed EDF: deadlines stretched by random factors, admitted by best insertion.
            noise = rng.uniform(0.0, 0.5, p.num_users)
            seed_order = insert_admit(p, np.lexsort((rng.permutation(p.num_users), p.limit * (1.0 + noise))))
        else:
            seed_order = insert_admit(p, rng.permutation(p.num_users))
        trial, trial_stats = local_search.improve(p, seed_order, budget, target=bound)
        moves += trial_stats.total()
        done += 1
        since += 1
        if better(p, trial, best):
            best, since = trial, 0
    polished = exact_polish(p, best, out_of_time)
    info["polished"] = bool(better(p, polished, best))
    best = polished if info["polished"] else best
    info.update(
        {
            "moves": moves,
            "restarts": done,
            "effort_left": max(budget.effort, 0.0),
            "timed_out": budget.timed_out or out_of_time(),
        }
    )
    return best, info
