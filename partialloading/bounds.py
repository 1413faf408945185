"""Cheap upper bounds on the served weight, valid for every schedule of an instance.

**Served alone.** A user who misses its deadline even when served alone is never served: the
weight of the others bounds the objective.

**Time per deadline level** (a knapsack relaxation). Let ``S`` be a feasible admitted set and
``d`` the latest deadline in ``S``. Under frame timing its last request finishes after every
admitted upload (``Σ_S a_k/B``), every inference (``Σ_S c_k``) and at least the first load from
the initial state (at least the smallest first load ``ℓ₀`` among the candidates), so

    Σ_{k∈S} p_k ≤ d − ℓ₀,   p_k = a_k/B + c_{m_k},   S ⊆ {k : T_k ≤ d}.

Under pipelined timing the uploads and the GPU work overlap, but the last finish is at least
``max(Σ_S a_k/B, Σ_S c_k) ≥ Σ_S p_k / 2``, so the same holds with ``p_k/2`` and no load term.
Relaxing "which users" to fractions gives, for each level ``d``, the fractional knapsack over
the users with ``T_k ≤ d`` (the heaviest weight per second first); the bound is the largest over
the levels. Evaluating only some levels (at most ``levels``, always including the latest
deadline) stays valid: a set whose latest deadline lies between two evaluated levels is counted
at the next one up, whose capacity and candidates are larger. With integer weights the bound is
rounded down.

Both use the verifier's tolerance on deadlines, so a proven optimum never exceeds them
(``tests/test_bounds.py`` checks it against enumeration under both timing models).
"""

from __future__ import annotations

import numpy as np

from .instance import Instance
from .timing import RELATIVE_TOLERANCE, servable_alone


def alone_bound(instance: Instance, sharing: bool = True) -> float:
    """Weight of the users who meet their deadline when served alone."""
    return float(instance.weights[servable_alone(instance, sharing)].sum())


def knapsack_bound(instance: Instance, sharing: bool = True, levels: int = 64) -> float:
    """The time-per-deadline-level bound (see the module docstring), never above :func:`alone_bound`."""
    candidates = servable_alone(instance, sharing)
    if candidates.size == 0:
        return 0.0
    weights = instance.weights[candidates]
    models = instance.user_models[candidates]
    deadline = instance.deadlines[candidates] * (1.0 + RELATIVE_TOLERANCE)
    size = instance.upload_times[candidates] + instance.infer_times[models]
    if instance.timing == "frame":
        reserve = float(instance.initial_load(sharing)[models].min())
    else:
        size = size / 2.0
        reserve = 0.0
    # Heaviest weight per second of capacity first; free users (size 0) come first of all.
    ratio = np.where(size > 0, weights / np.where(size > 0, size, 1.0), np.inf)
    ranked = np.lexsort((np.arange(candidates.size), -ratio))
    weights, size, deadline = weights[ranked], size[ranked], deadline[ranked]
    distinct = np.unique(deadline)
    if distinct.size > levels:
        picks = np.unique(np.linspace(0, distinct.size - 1, levels).round().astype(np.int64))
        distinct = distinct[picks]
    best = 0.0
    for level in distinct:
        eligible = deadline <= level
        w, s = weights[eligible], size[eligible]
        capacity = float(level) - reserve
        if capacity < 0:
            continue
        used = np.cumsum(s)
        full = int(np.searchsorted(used, capacity, side="right"))
        value = float(w[:full].sum())
        if full < w.size:
            room = capacity - (float(used[full - 1]) if full else 0.0)
            value += float(w[full]) * room / float(s[full]) if s[full] > 0 else float(w[full])
        best = max(best, value)
    total = float(weights.sum())
    bound = min(best, total)
    if np.all(np.mod(instance.weights, 1.0) == 0):
        bound = float(np.floor(bound + 1e-9 * max(1.0, bound)))
    return bound


def best_cheap_bound(instance: Instance, sharing: bool = True) -> float:
    """The smaller of :func:`alone_bound` and :func:`knapsack_bound`."""
    return min(alone_bound(instance, sharing), knapsack_bound(instance, sharing))
