"""The candidate priority sequences of greedy's first phase: earliest deadline first, tours of
the model groups over the loading times (over the earliest-deadline window, and inside deadline
buckets), cheapest users first and tiers of cheap users."""

from __future__ import annotations

import numpy as np

from partialloading.instance import FloatArray, IntArray
from partialloading.timing import Schedule

from .. import edf

LARGE = 2000
"""Above this many users only the sequences in :data:`LARGE_SEQUENCES` (and the pure tour) are
admitted: each costs an O(K) Python pass, and these are the ones that win at scale."""


LARGE_SEQUENCES = ("edf", "bucket-16", "cheapest", "cheap-tiers-2", "cheap-tiers-3", "cheap-tiers-4", "cheap-tiers-6")


def _tour(p: Schedule, groups: IntArray, keys: FloatArray, window: int) -> IntArray:
    """Nearest-neighbour tour over ``groups`` (model indices) by loading time.

    The next model is the cheapest to load from the current one among the ``window`` remaining
    groups with the smallest ``keys`` (``window=1``: order by key; large: a pure tour).
    """
    remaining = list(np.asarray(groups)[np.lexsort((groups, keys))])
    out: list[int] = []
    current: int | None = None
    while remaining:
        head = remaining[:window]
        cost = p.first[head] if current is None else p.loads[current, head]
        pick = int(np.argmin(cost))
        current = int(head[pick])
        out.append(current)
        remaining.pop(pick)
    return np.asarray(out, dtype=np.int64)


def edf_sequence(p: Schedule) -> IntArray:
    """All users by deadline (then model, then index): the first candidate sequence."""
    return edf.deadline_order(np.arange(p.num_users, dtype=np.int64), p.limit, p.model)


def _tour_rank(p: Schedule, window: int | None = None) -> IntArray:
    """Each model's place in the tour (:func:`_tour` from the earliest deadlines, over ``window``
    of them, ``None``: all)."""
    used = np.unique(p.model)
    earliest = np.full(p.first.size, np.inf)
    np.minimum.at(earliest, p.model, p.limit)
    tour = _tour(p, used, earliest[used], used.size if window is None else window)
    rank = np.empty(p.first.size, dtype=np.int64)
    rank[tour] = np.arange(tour.size)
    return rank


def tour_sequence(p: Schedule, window: int | None = None) -> IntArray:
    """The models in tour order (see :func:`_tour_rank`), each model's users in deadline order."""
    return np.lexsort((np.arange(p.num_users), p.limit, _tour_rank(p, window)[p.model]))


def sequences(p: Schedule) -> list[tuple[str, IntArray]]:
    """Candidate priority sequences of all users (see the module docstring)."""
    n = p.num_users
    idx = np.arange(n)
    deadline = p.limit
    seqs: list[tuple[str, IntArray]] = [("edf", edf_sequence(p))]
    if n == 0:
        return seqs
    used = np.unique(p.model)
    for window in (1, 3, used.size):
        seqs.append((f"tour-w{window}", tour_sequence(p, window)))
    distinct = np.unique(deadline).size
    # Deadline buckets: serve the tour once per bucket of similar deadlines.
    deadline_rank = np.empty(n, dtype=np.int64)
    deadline_rank[np.lexsort((idx, deadline))] = idx
    rank = _tour_rank(p)
    for buckets in (2, 4, 8, 16):
        if buckets >= distinct:
            break
        bucket = deadline_rank * buckets // n
        seqs.append((f"bucket-{buckets}", np.lexsort((idx, deadline, rank[p.model], bucket))))
    # Cheapest first: own time plus the group's first load shared among its users, per weight;
    # then tiers of cheap users, each in deadline order.
    count = np.bincount(p.model, minlength=p.first.size)
    cost = (p.upload + p.infer + p.first[p.model] / count[p.model]) / p.weight
    seqs.append(("cheapest", np.lexsort((idx, deadline, cost))))
    cost_rank = np.empty(n, dtype=np.int64)
    cost_rank[np.lexsort((idx, cost))] = idx
    for tiers in (2, 3, 4, 6):
        seqs.append((f"cheap-tiers-{tiers}", np.lexsort((idx, deadline, cost_rank * tiers // n))))
    if n > LARGE:
        seqs = [(name, seq) for name, seq in seqs if name in LARGE_SEQUENCES or name == f"tour-w{used.size}"]
    return seqs
