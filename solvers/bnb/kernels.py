"""The compiled parts of the branch-and-bound, with numba (``@njit(cache=True)``).

- :func:`node_level_bound`: the same arithmetic as :meth:`.bounds.LevelRelaxation.bound` — deadline
  levels, a knapsack with setups per level (upper concave envelopes merged up the setup tree),
  the fractional knapsack — on arrays instead of lists of tuples: at 40 users it was where the
  search spent about two thirds of its time.
- :func:`path_values` and :func:`path_counts`: the dynamic programme of the Lagrangian path
  relaxation (:mod:`.paths`), too many operations for Python.

The first call compiles the functions (cached on disk beside this module, so later processes
load them); :func:`warm` does that outside any time limit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .records import LEVELS


@njit(cache=True)
def _key(w: float, size: float) -> float:
    return -w / size if size > 0 else -math.inf


@njit(cache=True)
def _order(keys, n):
    """The stable sorting order of ``keys[:n]``: often already sorted (items in the search's
    ranking), then without sorting."""
    for i in range(1, n):
        if keys[i] < keys[i - 1]:
            return np.argsort(keys[:n], kind="mergesort")
    return np.arange(n)


@njit(cache=True)
def _fractional(keys, ws, ss, n, capacity):
    if capacity <= 0:
        total = 0.0
        for i in range(n):
            if ss[i] <= 0:
                total += ws[i]
        return total
    order = _order(keys, n)
    total = 0.0
    for i in order:
        s = ss[i]
        if s <= capacity:
            total += ws[i]
            capacity -= s
        else:
            total += ws[i] * capacity / s
            break
    return total


@njit(cache=True)
def _envelope(setup, keys, ws, ss, n, out_k, out_w, out_s, at, hx, hy):
    """Append the segments of the envelope of ``n`` items (any order) after ``setup`` to the
    ``out`` arrays from position ``at``; returns the new end (``hx``, ``hy``: scratch for the
    hull, at least ``n + 1`` long)."""
    if n == 1:
        out_k[at] = _key(ws[0], setup + ss[0])
        out_w[at] = ws[0]
        out_s[at] = setup + ss[0]
        return at + 1
    order = _order(keys, n)
    if setup <= 0:
        for i in order:
            out_k[at], out_w[at], out_s[at] = keys[i], ws[i], ss[i]
            at += 1
        return at
    hx[0], hy[0] = 0.0, 0.0
    top = 1
    size, weight = setup, 0.0
    for i in order:
        size += ss[i]
        weight += ws[i]
        while top >= 2:
            x1, y1, x2, y2 = hx[top - 2], hy[top - 2], hx[top - 1], hy[top - 1]
            if (y2 - y1) * (size - x1) <= (weight - y1) * (x2 - x1):
                top -= 1
            else:
                break
        hx[top], hy[top] = size, weight
        top += 1
    for p in range(1, top):
        dw, ds = hy[p] - hy[p - 1], hx[p] - hx[p - 1]
        out_k[at], out_w[at], out_s[at] = _key(dw, ds), dw, ds
        at += 1
    return at


@njit(cache=True)
def _merge_up(setup, keys, ws, ss, n, parent, bk, bw, bs, bc, hx, hy):
    """Append the envelope of ``n`` items after ``setup`` to the segments below tree node
    ``parent`` (``-1``: the root, the last row of ``bk``, ``bw``, ``bs``)."""
    row = bc.size - 1 if parent < 0 else parent
    bc[row] = _envelope(setup, keys, ws, ss, n, bk[row], bw[row], bs[row], bc[row], hx, hy)


@njit(cache=True)
def _level(dl, model, tk, tw, ts, uk, uw, us, n, low, d, room, model_parent, group_parent, private, group_cost,
           work):  # fmt: skip
    """The knapsack of level ``d`` over the candidates with deadlines above ``low`` in ``room``
    (``work``: the scratch arrays of :func:`_workspace`, reused from level to level)."""
    mk, mw, ms, mc, bk, bw, bs, bc, tk_all, tw_all, ts_all, hx, hy = work
    n_models = private.size
    n_groups = group_parent.size
    # Per model its timed items; per group (and the root, last row) the segments below it.
    mc[:] = 0
    bc[:] = 0
    for i in range(n):
        if low < dl[i] <= d:
            j = model[i]
            c = mc[j]
            mk[j, c], mw[j, c], ms[j, c] = tk[i], tw[i], ts[i]
            mc[j] = c + 1
    t = 0
    for i in range(n):
        if dl[i] > d:
            tk_all[t], tw_all[t], ts_all[t] = uk[i], uw[i], us[i]
            t += 1
    for j in range(n_models):
        if mc[j]:
            _merge_up(private[j], mk[j], mw[j], ms[j], mc[j], model_parent[j], bk, bw, bs, bc, hx, hy)
    for g in range(n_groups):  # children before parents
        if bc[g]:
            _merge_up(group_cost[g], bk[g], bw[g], bs[g], bc[g], group_parent[g], bk, bw, bs, bc, hx, hy)
            bc[g] = 0
    root = n_groups
    for i in range(bc[root]):
        tk_all[t], tw_all[t], ts_all[t] = bk[root, i], bw[root, i], bs[root, i]
        t += 1
    return _fractional(tk_all, tw_all, ts_all, t, room)


@njit(cache=True)
def _workspace(n, n_models, n_groups):
    """Scratch arrays of :func:`_level` for ``n`` candidates."""
    return (
        np.empty((n_models, n)), np.empty((n_models, n)), np.empty((n_models, n)), np.zeros(n_models, dtype=np.int64),
        np.empty((n_groups + 1, n + 1)), np.empty((n_groups + 1, n + 1)), np.empty((n_groups + 1, n + 1)),
        np.zeros(n_groups + 1, dtype=np.int64), np.empty(2 * n + 1), np.empty(2 * n + 1), np.empty(2 * n + 1),
        np.empty(2 * n + 2), np.empty(2 * n + 2),
    )  # fmt: skip


@njit(cache=True)
def node_level_bound(ranked, dl_of, model_of, tk_of, tw_of, ts_of, uk_of, uw_of, us_of, t, enough,
                model_parent, group_parent, private, group_cost):  # fmt: skip
    """:meth:`.bounds.LevelRelaxation.bound` of the candidates ``ranked`` (best weight per time
    first) at elapsed time ``t`` after the model whose setups are ``private`` and ``group_cost``."""
    n = ranked.size
    dl = dl_of[ranked]
    model = model_of[ranked]
    tk, tw, ts = tk_of[ranked], tw_of[ranked], ts_of[ranked]
    uk, uw, us = uk_of[ranked], uw_of[ranked], us_of[ranked]
    sorted_dl = np.sort(dl)
    picks = [sorted_dl[n - 1]]
    for i in range(1, LEVELS):
        if n * i >= LEVELS:
            picks.append(sorted_dl[(n * i) // LEVELS - 1])
    levels = np.unique(np.array(picks))
    work = _workspace(n, private.size, group_parent.size)
    heaviest, binding, bound_there = 0.0, -1, math.inf
    for i in range(levels.size):
        if binding >= i:
            heaviest = max(heaviest, bound_there)
            continue
        low = levels[i - 1] if i else -math.inf
        case = math.inf
        for j in range(i, levels.size):
            value = _level(
                dl, model, tk, tw, ts, uk, uw, us, n, low, levels[j], levels[j] - t,
                model_parent, group_parent, private, group_cost, work,
            )  # fmt: skip
            case = min(case, value)
            if case <= enough:
                binding, bound_there = j, case
                break
        heaviest = max(heaviest, case)
        if heaviest > enough >= 0:
            break
    return heaviest


@njit(cache=True)
def _bucket(t, delta):
    """The bucket of time ``t``: its start is never after ``t`` (rounding of the division)."""
    b = int(t / delta)
    while b > 0 and b * delta > t:
        b -= 1
    return b


@njit(cache=True)
def gain_at(values, delta, after, t):
    """``G_λ`` of the path relaxation's table ``values`` after user ``after`` (``-1``: at the
    start) from time ``t`` on (as :meth:`.paths.PathBound.gain`)."""
    if after < 0:
        return values[0, values.shape[1] - 1]
    b = _bucket(t, delta)
    return values[b, after] if b < values.shape[0] else 0.0


@njit(cache=True)
def path_values(delta, model, rank, limit, gain, step, first, own, virtual, values, choice):
    """Fill ``values[b, k]``, the heaviest gain of a sequence of users served after user ``k``
    from the time ``b·delta`` on (``k = K``: after nothing but the initial model, at time 0 only),
    and ``choice[b, k]`` the user served next in it (``-1``: none); return the root's value.

    A sequence serves users one after the other, each by its ``limit``; each takes ``step[i, j]``
    (loading model ``j`` after model ``i``) plus its ``own`` time; two consecutive users of one
    model are in ``rank`` order, and a user may come back later. Users with a negative limit are
    never served; ``virtual`` ones are never served either, but a sequence may start after them
    (an entry into their model with no rank to keep). Each step's end is rounded down to its
    bucket, so ``values`` overestimates (never underestimates) every sequence from any time in
    the bucket.
    """
    num_buckets, states = values.shape
    K = states - 1
    for b in range(num_buckets - 1, -1, -1):
        start = b * delta
        for k in range(K):
            if limit[k] < 0:
                values[b, k] = 0.0
                choice[b, k] = -1
                continue
            mk, rk = model[k], rank[k]
            best, arg = 0.0, -1
            for k2 in range(K):
                m2 = model[k2]
                if limit[k2] < 0 or virtual[k2] or (m2 == mk and rank[k2] <= rk):
                    continue
                end = start + step[mk, m2] + own[k2]
                if end > limit[k2]:
                    continue
                value = gain[k2] + values[_bucket(end, delta), k2]
                if value > best:
                    best, arg = value, k2
            values[b, k] = best
            choice[b, k] = arg
    best, arg = 0.0, -1
    for k2 in range(K):
        end = first[model[k2]] + own[k2]
        if limit[k2] < 0 or virtual[k2] or end > limit[k2]:
            continue
        value = gain[k2] + values[_bucket(end, delta), k2]
        if value > best:
            best, arg = value, k2
    values[0, K] = best
    choice[0, K] = arg
    return best


@njit(cache=True)
def path_counts(delta, model, step, first, own, choice):
    """How many times the root's best sequence of :func:`path_values` serves each user."""
    K = choice.shape[1] - 1
    counts = np.zeros(K)
    k = choice[0, K]
    if k < 0:
        return counts
    end = first[model[k]] + own[k]
    while k >= 0:
        counts[k] += 1.0
        b = _bucket(end, delta)
        nxt = choice[b, k]
        if nxt < 0:
            break
        end = b * delta + step[model[k], model[nxt]] + own[nxt]
        k = nxt
    return counts


def warm() -> None:
    """Compile the kernels (or load them from the cache) now, outside any time limit."""
    one = np.ones(1)
    node_level_bound(
        np.zeros(1, np.int64), one, np.zeros(1, np.int64), one, one, one, one, one, one, 0.0, -1.0,
        np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(1), np.zeros(0),
    )  # fmt: skip
    values, choice = np.zeros((2, 2)), np.zeros((2, 2), np.int64)
    zero = np.zeros(1, np.int64)
    path_values(1.0, zero, zero, one, one, np.ones((1, 1)), one, np.zeros(1), np.zeros(1, np.bool_), values, choice)
    path_counts(1.0, zero, np.ones((1, 1)), one, np.zeros(1), choice)
