"""The exact helpers greedy runs on small instances: the exact set search (the heaviest feasible
admitted set, heaviest first) and the exact polish of a schedule (one-in and one-in-one-out
changes of the admitted set, each checked by the exact order search)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from partialloading.instance import IntArray
from partialloading.timing import Schedule

from ..enumeration import heaviest_feasible_set
from ..local_search import EXACT_RESEQUENCE_USERS
from ..order_search import find_order

EXACT_SET_USERS = 10
"""Instances up to this many users are solved by the exact set search (within its node budget)."""


EXACT_SET_NODES = 20_000
"""Node budget of the exact set search (order-search nodes, summed over the sets tried)."""


BNB_USERS = 20
"""Frame instances up to this many users first try the branch-and-bound over model visits
(:mod:`partialloading.solvers.bnb`) from the best start, within :data:`BNB_NODES` nodes."""


BNB_NODES = 10_000
"""Node budget of that attempt (tens of milliseconds): a proof ends greedy at once, otherwise
its incumbent is one more start."""


def exact_polish(p: Schedule, order: IntArray, out_of_time: Callable[[], bool]) -> IntArray:
    """On instances of at most :data:`~.local_search.EXACT_RESEQUENCE_USERS` users (timing models whose insertion
    test is not exhaustive), try every one-in and one-in-one-out change of the admitted set with
    the exact set search: heaviest rejected users first, the first heavier feasible set wins, until
    none is left. Returns ``order`` itself when nothing is found."""
    if p.num_users > EXACT_RESEQUENCE_USERS[p.timing]:
        return order
    improved = True
    while improved and not out_of_time():
        improved = False
        admitted = [int(k) for k in order]
        weight = float(p.weight[admitted].sum()) if admitted else 0.0
        rejected = sorted(set(range(p.num_users)) - set(admitted), key=lambda k: (-float(p.weight[k]), k))
        for k in rejected:
            if not p.alone_ok(k):
                continue
            swaps = [None, *sorted(admitted, key=lambda j: (float(p.weight[j]), j))]
            for j in swaps:
                if j is not None and float(p.weight[j]) >= float(p.weight[k]):
                    break
                users = [u for u in admitted if u != j] + [k]
                found = find_order(p, users).order
                gain = float(p.weight[users].sum()) - weight
                if found is not None and gain > min(1e-12 * max(1.0, weight), p.weight_tolerance):
                    candidate = np.asarray(found, dtype=np.int64)
                    if not p.feasible(candidate):  # feasible only with the search's own evictions
                        continue
                    order, improved = candidate, True
                    break
            if improved:
                break
    return order


def exact_set_search(
    p: Schedule, incumbent: IntArray, max_nodes: int, out_of_time: Callable[[], bool]
) -> tuple[IntArray | None, int, list[tuple[int, ...]] | None]:
    """The heaviest feasible admitted set, if it can be found within ``max_nodes`` search nodes.

    The sets of users who can each meet the deadline alone and are heavier than ``incumbent``
    are tried heaviest first (then larger, then lexicographic); the first one with a feasible
    order is optimal. A set containing a set already found infeasible is skipped (removing users
    never makes a schedule infeasible). Returns ``incumbent`` when no heavier set is feasible,
    ``None`` when the budget or the time runs out first; the nodes visited; and the evictions
    that make the order feasible (``None``: the memory's default rule does).
    """
    alone = [k for k in range(p.num_users) if p.alone_ok(k)]
    floor = float(p.weight[incumbent].sum()) if incumbent.size else 0.0
    tol = min(1e-12 * max(1.0, floor), p.weight_tolerance)
    found = heaviest_feasible_set(
        p, alone, p.weight.tolist(), lambda nodes: nodes > max_nodes or out_of_time(), floor + tol
    )
    if found.stopped:
        return None, found.nodes, None
    if found.order is None:
        return incumbent, found.nodes, None
    return np.asarray(found.order, dtype=np.int64), found.nodes, found.evicted
