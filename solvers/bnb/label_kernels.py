"""The compiled kernels of the labels (numba): expanding labels layer by layer and depth first.

The label stores that drive them (:class:`.labelling.Layered`, :class:`.labelling.Dive`) and
the search they serve are described in :mod:`.labelling`. Everything here runs compiled on
arrays: the labels in growing arrays (state, weight, t, σ, parent, user, two links), the states
in a typed dictionary from their code (pointers in mixed radix and the last model) to their list
of labels. :func:`advance` and :func:`dive` expand a given number of labels and return a code
(:data:`DONE`, :data:`PAUSED`, :data:`FULL`), so that the caller can watch the clock, grow the
arrays and interleave two searches; they take the labels in batches whose kids and bounds are
computed on every thread.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange, types
from numba.typed import Dict

from .kernels import gain_at, node_level_bound
from .knapsack import upload_knapsack

BATCH = 64
"""Labels whose kids and bounds are computed together, on every thread."""

# Codes returned by advance().
DONE, PAUSED, FULL = 0, 1, 2

# Fields of the integer state (ints) and the float state (floats) of a search.
I_COUNT, I_LAYER, I_CURSOR, I_BEST, I_EXPANDED, I_DEPTH = range(6)
F_BEST = 0


def new_states() -> Dict:
    """An empty dictionary from state codes to the first label of each state."""
    return Dict.empty(key_type=types.int64, value_type=types.int64)


@njit(cache=True)
def _dominated(head, link, alive, lw, lt, ls, w, t, s):
    """Whether a live label of the list from ``head`` dominates ``(w, t, s)``."""
    i = head
    while i >= 0:
        if alive[i] and lw[i] >= w and lt[i] <= t and ls[i] >= s:
            return True
        i = link[i]
    return False


_knapsack = njit(cache=True)(upload_knapsack)


@njit(cache=True)
def upload_bound(kid_users, n, by_upload, weight, upload, capacity):
    """Martello and Toth's bound of the kids' uploads in ``capacity`` (:func:`.knapsack.upload_knapsack`
    compiled), the kids ranked by weight per upload."""
    ranked = kid_users[:n][np.argsort(by_upload[kid_users[:n]], kind="mergesort")]
    return _knapsack(ranked, weight, upload, capacity)


@njit(cache=True)
def _kids(cur, labels, model, search, paths, levels, best, ptr, kid_slot, kid_q, kid_t, kid_s, kid_users):
    """Decode label ``cur`` into ``ptr`` and list its kids (every user that can be served next
    with the schedule staying feasible) in the ``kid`` rows; their number, or 0 when there are
    none or the bounds show that none can lead beyond ``best`` by a step."""
    key, lw, lt, ls = labels[0], labels[1], labels[2], labels[3]
    users, upl, lim, _, length, radix, step_of, own = model
    step, real = search[0], search[4]
    values, lam, delta = paths[0], paths[1], paths[2]
    gvalues, glam, gdelta, gentry = paths[4], paths[5], paths[6], paths[8]
    (by_time, by_upload, weight_of, upload_of, dl_of, model_of, tk_of, tw_of, ts_of, uk_of, uw_of, us_of,
     model_parent, group_parent, private, group_cost) = levels  # fmt: skip
    slots = length.size
    code = key[cur] // (slots + 1)
    last = key[cur] % (slots + 1) - 1
    for s in range(slots):
        ptr[s] = (code // radix[s]) % (length[s] + 1)
    w, t, sigma = lw[cur], lt[cur], ls[cur]
    n = 0
    for s in range(slots):
        base = t + step_of[last + 1, s]
        for q in range(ptr[s], length[s]):
            u = upl[s, q]
            t2 = base + u + own[s, q]
            s2 = lim[s, q] - t2
            if sigma - u < s2:
                s2 = sigma - u
            if s2 >= 0:
                kid_slot[n], kid_q[n], kid_t[n], kid_s[n] = s, q, t2, s2
                kid_users[n] = users[s, q]
                n += 1
    if n == 0:
        return 0
    enough = best + step - w
    # The bounds, cheapest first, each only while the node is still promising.
    bound = gain_at(values, delta, -1 if last < 0 else users[last, ptr[last] - 1], t)
    for i in range(n):
        bound += lam[kid_users[i]]
    if bound > enough and gentry.size > 0:  # the grouped path relaxation, from the group's entry
        other = gain_at(gvalues, gdelta, -1 if last < 0 else gentry[last], t)
        for i in range(n):
            other += glam[kid_users[i]]
        bound = min(bound, other)
    if bound > enough and not math.isinf(sigma):
        bound = min(bound, upload_bound(kid_users, n, by_upload, weight_of, upload_of, sigma))
    if bound > enough:
        row = 0 if last < 0 else real[last] + 1
        ranked = kid_users[:n][np.argsort(by_time[kid_users[:n]], kind="mergesort")]
        bound = min(
            bound,
            node_level_bound(ranked, dl_of, model_of, tk_of, tw_of, ts_of, uk_of, uw_of, us_of, t, enough,
                        model_parent, group_parent, private[row], group_cost[row]),
        )  # fmt: skip
    return 0 if bound <= enough else n


@njit(cache=True, parallel=True)
def _batch(batch, count, labels, model, search, paths, levels, best, ptrs, kid_slot, kid_q, kid_t, kid_s, kid_users,
           kids):  # fmt: skip
    """:func:`_kids` of the labels of ``batch``, on every thread: each label is independent."""
    for b in prange(count):
        kids[b] = _kids(
            batch[b], labels, model, search, paths, levels, best, ptrs[b], kid_slot[b], kid_q[b], kid_t[b], kid_s[b],
            kid_users[b],
        )  # fmt: skip


@njit(cache=True)
def _beaten(states, key2, code2, s, radix, length, same, alive, lw, lt, ls, w, t, sigma):
    """Whether a live label at state ``key2`` (pointers ``code2``, last model ``s``), or at one
    user behind on one model (it may pass over that user), dominates ``(w, t, σ)``."""
    slots = length.size
    if key2 in states and _dominated(states[key2], same, alive, lw, lt, ls, w, t, sigma):
        return True
    for r in range(slots):
        if (code2 // radix[r]) % (length[r] + 1) > 0:
            other = (code2 - radix[r]) * (slots + 1) + s + 1
            if other in states and _dominated(states[other], same, alive, lw, lt, ls, w, t, sigma):
                return True
    return False


@njit(cache=True)
def _add(ints, states, key2, w, t, sigma, parent_label, user, layer, labels, links, alive, layer_head, layer_tail):
    """Drop the labels of state ``key2`` that ``(w, t, σ)`` dominates, then add it there and at
    the end of ``layer``; its index."""
    key, lw, lt, ls, parent, luser = labels
    same, nxt = links
    head = states[key2] if key2 in states else -1  # noqa: SIM401 (numba's get() is Optional)
    prev, i = -1, head
    while i >= 0:
        if alive[i] and w >= lw[i] and t <= lt[i] and sigma >= ls[i]:
            alive[i] = False
        if not alive[i]:
            if prev < 0:
                head = same[i]
            else:
                same[prev] = same[i]
        else:
            prev = i
        i = same[i]
    new = ints[I_COUNT]
    ints[I_COUNT] = new + 1
    key[new], lw[new], lt[new], ls[new], parent[new], luser[new] = key2, w, t, sigma, parent_label, user
    alive[new] = True
    same[new] = head
    states[key2] = new
    nxt[new] = -1
    if layer_tail[layer] < 0:
        layer_head[layer] = new
    else:
        nxt[layer_tail[layer]] = new
    layer_tail[layer] = new
    return new


@njit(cache=True)
def _scratch(slots, num_users):
    """Room for the kids and bounds of a batch, and for the kids it adds."""
    return (
        np.empty(BATCH, dtype=np.int64), np.zeros(BATCH, dtype=np.int64), np.zeros((BATCH, slots), dtype=np.int64),
        np.empty((BATCH, num_users), dtype=np.int64), np.empty((BATCH, num_users), dtype=np.int64),
        np.empty((BATCH, num_users)), np.empty((BATCH, num_users)), np.empty((BATCH, num_users), dtype=np.int64),
        np.empty(BATCH * num_users, dtype=np.int64), np.empty(BATCH * num_users),
    )  # fmt: skip


@njit(cache=True)
def _settle(count, scratch, ints, floats, states, labels, links, alive, layer_head, layer_tail, model, search, paths,
            levels):  # fmt: skip
    """Compute the kids of the first ``count`` labels of the batch (on every thread, against the
    best weight now), then add those that no label dominates, one after the other (the only
    part that changes the labels). Each new label is listed with its path bound (its weight,
    the path gain after it and the multipliers of the users it leaves undecided); their number,
    or -1 when one reaches the ceiling."""
    batch, kids, ptrs, kid_slot, kid_q, kid_t, kid_s, kid_users, fresh, promise = scratch
    key, lw, lt, ls = labels[0], labels[1], labels[2], labels[3]
    same = links[0]
    users, wt, length, radix = model[0], model[3], model[4], model[5]
    step, tie, slop, ceiling = search[0], search[1], search[2], search[3]
    values, delta, suffix = paths[0], paths[2], paths[3]
    gvalues, gdelta, gsuffix, gentry = paths[4], paths[6], paths[7], paths[8]
    grouped = gentry.size > 0
    slots = length.size
    ints[I_EXPANDED] += count
    _batch(batch, count, labels, model, search, paths, levels, floats[F_BEST], ptrs, kid_slot, kid_q, kid_t, kid_s,
           kid_users, kids)  # fmt: skip
    added = 0
    for b in range(count):
        n = kids[b]
        if n == 0:
            continue
        here = batch[b]
        ptr = ptrs[b]
        code = key[here] // (slots + 1)
        w = lw[here]
        undecided, gundecided, layer = 0.0, 0.0, 0
        for s in range(slots):
            undecided += suffix[s, ptr[s]]
            layer += ptr[s]
            if grouped:
                gundecided += gsuffix[s, ptr[s]]
        for i in range(n):
            s, q = kid_slot[b, i], kid_q[b, i]
            w2, t2, s2 = w + wt[s, q], kid_t[b, i], kid_s[b, i]
            bound = w2 + gain_at(values, delta, users[s, q], t2) + undecided - suffix[s, ptr[s]] + suffix[s, q + 1]
            # The dive follows the path bound over models, which sees every load.
            promised = bound
            if grouped:
                other = gain_at(gvalues, gdelta, gentry[s], t2) + gundecided - gsuffix[s, ptr[s]] + gsuffix[s, q + 1]
                bound = min(bound, w2 + other)
            # A kid that cannot beat the best even by its path bound is not kept (its own
            # expansion would prune it).
            if w2 <= floats[F_BEST] + tie and bound <= floats[F_BEST] + step:
                continue
            code2 = code + radix[s] * (q + 1 - ptr[s])
            key2 = code2 * (slots + 1) + s + 1
            if _beaten(states, key2, code2, s, radix, length, same, alive, lw, lt, ls, w2, t2, s2):
                continue
            new = _add(ints, states, key2, w2, t2, s2, here, users[s, q], layer + q + 1 - ptr[s], labels, links, alive,
                       layer_head, layer_tail)  # fmt: skip
            # The dive takes the largest bound first, the heavier kid among equal ones.
            fresh[added], promise[added] = new, promised + 1e-6 * w2
            added += 1
            if w2 > floats[F_BEST] + tie:
                floats[F_BEST] = w2
                ints[I_BEST] = new
                if w2 >= ceiling - slop:
                    return -1
    return added


@njit(cache=True)
def advance(
    budget, ints, floats, states, labels, links, alive, layer_head, layer_tail,
    model, search, paths, levels,
):  # fmt: skip
    """Expand up to ``budget`` labels layer by layer; return :data:`DONE` (every layer
    expanded, or the ceiling reached), :data:`PAUSED` (budget spent) or :data:`FULL` (the
    arrays need room).

    ``ints``/``floats``: the search's counters (label count, layer, cursor in it, best label,
    labels expanded, depth of the stack; best weight). ``labels``: ``(state, weight, t, σ,
    parent, user)`` arrays; ``links``: next label of the same state and of the same layer.
    ``model``: per slot (a model with users) its users, uploads, limits, weights, list length
    and radix, and the steps ``step[last + 1, slot]``. ``search``: ``(step, tie, slop,
    ceiling, real model of each slot)``. ``paths``: the path relaxation's ``(values, λ,
    delta)`` and the sums of λ down each model's list from each place, the same four of the
    grouped relaxation and the column of each slot's group entry in its table (none: no grouped
    relaxation, the four repeat the first). ``levels``: the level
    and uploads bounds' arrays.

    The labels of a layer are taken :data:`BATCH` at a time (:func:`_settle`).
    """
    nxt = links[1]
    top = layer_head.size - 1
    capacity = alive.size
    num_users = paths[1].size
    scratch = _scratch(model[4].size, num_users)
    batch = scratch[0]
    while ints[I_LAYER] <= top:
        cur = layer_head[ints[I_LAYER]] if ints[I_CURSOR] < 0 else ints[I_CURSOR]
        while cur >= 0:
            if budget <= 0:
                ints[I_CURSOR] = cur
                return PAUSED
            # Room for the kids of a whole batch, so that the batches (and what they find) do
            # not depend on how the arrays grew.
            if capacity - ints[I_COUNT] < BATCH * num_users:
                ints[I_CURSOR] = cur
                return FULL
            count = 0  # whole batches, whatever is left of the budget: the same batches every run
            while cur >= 0 and count < BATCH:
                if alive[cur]:
                    batch[count] = cur
                    count += 1
                cur = nxt[cur]
            budget -= count
            if _settle(count, scratch, ints, floats, states, labels, links, alive, layer_head, layer_tail, model,
                       search, paths, levels) < 0:  # fmt: skip
                ints[I_CURSOR] = cur
                return DONE
        ints[I_LAYER] += 1
        ints[I_CURSOR] = -1
    return DONE


@njit(cache=True)
def dive(
    budget, ints, floats, states, labels, links, alive, layer_head, layer_tail, stack,
    model, search, paths, levels,
):  # fmt: skip
    """Expand up to ``budget`` labels depth first, the most promising first; return as
    :func:`advance` (:data:`DONE`: the stack is empty, or the ceiling reached).

    The labels to expand are on ``stack`` (its depth in ``ints``); a batch of :data:`BATCH`
    is taken from the top, and the kids it adds are pushed by increasing path bound, so that
    the one with the largest is taken next. A label dominated after it was pushed is skipped.
    """
    capacity = alive.size
    num_users = paths[1].size
    scratch = _scratch(model[4].size, num_users)
    batch, fresh, promise = scratch[0], scratch[8], scratch[9]
    while ints[I_DEPTH] > 0:
        if budget <= 0:
            return PAUSED
        if capacity - ints[I_COUNT] < BATCH * num_users:
            return FULL
        count = 0
        while ints[I_DEPTH] > 0 and count < BATCH:
            ints[I_DEPTH] -= 1
            cur = stack[ints[I_DEPTH]]
            if alive[cur]:
                batch[count] = cur
                count += 1
        budget -= count
        added = _settle(count, scratch, ints, floats, states, labels, links, alive, layer_head, layer_tail, model,
                        search, paths, levels)  # fmt: skip
        if added < 0:
            return DONE
        ranked = np.argsort(promise[:added], kind="mergesort")
        for i in range(added):
            stack[ints[I_DEPTH]] = fresh[ranked[i]]
            ints[I_DEPTH] += 1
    return DONE


@njit(cache=True)
def open_bound(ints, labels, links, alive, layer_head, model, paths):
    """The largest bound of the labels not expanded yet (each: its weight, the path gain after
    it and the multipliers of every user it has not decided)."""
    key, lw, lt = labels[0], labels[1], labels[2]
    nxt = links[1]
    users, length, radix = model[0], model[4], model[5]
    values, delta, suffix = paths[0], paths[2], paths[3]
    gvalues, gdelta, gsuffix, gentry = paths[4], paths[6], paths[7], paths[8]
    slots = length.size
    best = -math.inf
    layer = ints[I_LAYER]
    cur = layer_head[layer] if ints[I_CURSOR] < 0 else ints[I_CURSOR]
    while layer < layer_head.size:
        while cur >= 0:
            if alive[cur]:
                code = key[cur] // (slots + 1)
                last = key[cur] % (slots + 1) - 1
                value, other = 0.0, 0.0
                for s in range(slots):
                    place = (code // radix[s]) % (length[s] + 1)
                    value += suffix[s, place]
                    other += gsuffix[s, place]
                after = -1 if last < 0 else users[last, (code // radix[last]) % (length[last] + 1) - 1]
                value += gain_at(values, delta, after, lt[cur])
                if gentry.size > 0:
                    other += gain_at(gvalues, gdelta, -1 if last < 0 else gentry[last], lt[cur])
                    value = min(value, other)
                best = max(best, lw[cur] + value)
            cur = nxt[cur]
        layer += 1
        if layer < layer_head.size:
            cur = layer_head[layer]
    return best
