"""The capacity phase of greedy under a memory with a capacity: rejected users inserted where
the memory now has room, and the one-model evictions that make a one-model order feasible
under any capacity that holds each model."""

from __future__ import annotations

import numpy as np

from partialloading.instance import Instance, IntArray
from partialloading.memory import memory_of
from partialloading.timing import Schedule

CAPACITY_TRIALS = 200
"""Whole-order evaluations the capacity phase of :func:`solve_bounded` may spend (a count, not a
clock, so that the result is deterministic)."""


CAPACITY_WINDOW = 2
"""The capacity phase tries each rejected user at its deadline position, this many gaps on
either side of it, and at the end of the order."""


def one_model_evictions(instance: Instance, order: IntArray) -> list[tuple[int, ...]]:
    """Evict every block the next request does not need: the one-model memory's schedule, which
    fits any capacity that holds each model."""
    memory = memory_of(instance)
    held = set(instance.initial_resident)
    out = []
    for m in instance.user_models[order].tolist():
        need = memory.blocks_of[m]
        out.append(tuple(sorted(held - need)))
        held = set(need)
    return out


def capacity_phase(p: Schedule, order: IntArray) -> IntArray:
    """Insert rejected users, heaviest first (then earliest deadline), at the feasible gap with
    the smallest makespan among those around each one's deadline position and the end."""
    outside = np.setdiff1d(np.arange(p.num_users), order)
    ranked = outside[np.lexsort((outside, p.limit[outside], -p.weight[outside]))]
    trials = 0
    for k in ranked.tolist():
        if trials >= CAPACITY_TRIALS:
            break
        if not p.alone_ok(k):
            continue
        at = int(np.searchsorted(p.limit[order], p.limit[k], side="right"))
        gaps = sorted({*range(max(0, at - CAPACITY_WINDOW), min(order.size, at + CAPACITY_WINDOW) + 1), order.size})
        best: tuple[float, IntArray] | None = None
        for g in gaps:
            trials += 1
            trial = np.concatenate((order[:g], [k], order[g:]))
            finish = p.finish(trial)
            if np.all(finish <= p.limit[trial]) and (best is None or float(finish[-1]) < best[0]):
                best = (float(finish[-1]), trial)
        if best is not None:
            order = best[1]
    return order
