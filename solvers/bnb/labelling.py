"""The compiled search of the branch-and-bound: labels over states, layer by layer and depth first (numba).

The depth-first search (:mod:`.search`) keeps the labels ``(weight, t, σ)`` it has seen at each
state ``(pointers, model in memory)`` and drops a node that one of them dominates; but it meets
the labels of a state in the order its tree reaches them, so it often explores a node first and
finds the label that dominates it later. Here the same labels are *memoized*: every move raises
the sum of the pointers (the users decided), so the states are processed in layers of that sum,
and when a layer is expanded every label that could reach its states is already there. A label
is expanded only if no other label at its state, or one user behind on one model (which can
pass over that user), dominates it; the search therefore expands each Pareto label once. Each
expansion is bounded as in the depth-first search (the path relaxation first, then the uploads
in the slack, then the deadline levels), and every label is a feasible schedule, so the
incumbent improves as the layers fill.

The layers find heavy schedules late, in the last layers. The same labels expanded depth first,
the kid with the largest path bound first (:func:`dive`), find them early, at the price of
expanding some labels that a later one dominates. With whole weight units, :func:`descend` runs
the layered search one target weight at a time from the bound down, and a dive from the
incumbent up beside it; the first to meet the other proves the optimum.

Everything runs compiled on arrays: the labels in growing arrays (state, weight, t, σ, parent,
user, two links), the states in a typed dictionary from their code (pointers in mixed radix and
the last model) to their list of labels. :func:`advance` and :func:`dive` expand a given number
of labels and return, so that the caller can watch the clock, grow the arrays and interleave two
searches; they take the labels in batches whose kids and bounds are computed on every thread.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange, types
from numba.typed import Dict

from .bounds import upload_knapsack
from .kernels import _gain, level_bound

if TYPE_CHECKING:
    from .search import BranchAndBound, VisitSearch

CHUNK = 256
"""Labels expanded between two looks at the clock (and the node budget)."""

BATCH = 64
"""Labels whose kids and bounds are computed together, on every thread."""

SHARE = 2
"""Labels the rounds of :func:`descend` expand for each label of the dive beside them."""

MAX_LABELS = 1 << 24
"""Labels kept at most by one search (about 1.1 GB): past it a round stops, unproven, and a dive stops diving."""

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
def _upload_bound(kid_users, n, by_upload, weight, upload, capacity):
    """Martello and Toth's bound of the kids' uploads in ``capacity`` (:func:`.bounds.upload_knapsack`
    compiled), the kids ranked by weight per upload."""
    ranked = kid_users[:n][np.argsort(by_upload[kid_users[:n]], kind="mergesort")]
    return _knapsack(ranked, weight, upload, capacity)


@njit(cache=True)
def _kids(cur, labels, model, search, paths, levels, best, ptr, kid_slot, kid_q, kid_t, kid_s, kid_users):
    """Decode label ``cur`` into ``ptr`` and list its kids (every user that can be served next
    with the schedule staying feasible) in the ``kid`` rows; their number, or 0 when there are
    none or the bounds show that none can lead beyond ``best`` by a step."""
    key, lw, lt, ls = labels[0], labels[1], labels[2], labels[3]
    users, upl, lim, _, length, radix, step_of = model
    step, real = search[0], search[4]
    values, lam, delta = paths[0], paths[1], paths[2]
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
            t2 = base + u
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
    bound = _gain(values, delta, -1 if last < 0 else users[last, ptr[last] - 1], t)
    for i in range(n):
        bound += lam[kid_users[i]]
    if bound > enough and not math.isinf(sigma):
        bound = min(bound, _upload_bound(kid_users, n, by_upload, weight_of, upload_of, sigma))
    if bound > enough:
        row = 0 if last < 0 else real[last] + 1
        ranked = kid_users[:n][np.argsort(by_time[kid_users[:n]], kind="mergesort")]
        bound = min(
            bound,
            level_bound(ranked, dl_of, model_of, tk_of, tw_of, ts_of, uk_of, uw_of, us_of, t, enough,
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
        undecided, layer = 0.0, 0
        for s in range(slots):
            undecided += suffix[s, ptr[s]]
            layer += ptr[s]
        for i in range(n):
            s, q = kid_slot[b, i], kid_q[b, i]
            w2, t2, s2 = w + wt[s, q], kid_t[b, i], kid_s[b, i]
            bound = w2 + _gain(values, delta, users[s, q], t2) + undecided - suffix[s, ptr[s]] + suffix[s, q + 1]
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
            fresh[added], promise[added] = new, bound + 1e-6 * w2
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
    delta)`` and the sums of λ down each model's list from each place. ``levels``: the level
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
    slots = length.size
    best = -math.inf
    layer = ints[I_LAYER]
    cur = layer_head[layer] if ints[I_CURSOR] < 0 else ints[I_CURSOR]
    while layer < layer_head.size:
        while cur >= 0:
            if alive[cur]:
                code = key[cur] // (slots + 1)
                last = key[cur] % (slots + 1) - 1
                value = lw[cur]
                for s in range(slots):
                    value += suffix[s, (code // radix[s]) % (length[s] + 1)]
                after = -1 if last < 0 else users[last, (code // radix[last]) % (length[last] + 1) - 1]
                value += _gain(values, delta, after, lt[cur])
                best = max(best, value)
            cur = nxt[cur]
        layer += 1
        if layer < layer_head.size:
            cur = layer_head[layer]
    return best


class Labels(ABC):
    """The labels of ``search`` (a :class:`.search.BranchAndBound` built compiled, its path
    relaxation set up), from the root; :class:`Layered` and :class:`Dive` expand them.

    ``floor``: only schedules heavier than it by a step are looked for (default the search's
    incumbent); ``ceiling``: a schedule that heavy ends the search.

    Raises
    ------
    OverflowError
        When the state codes would not fit in 64 bits (very many models).
    """

    def __init__(
        self, search: BranchAndBound, capacity: int = 1 << 16, floor: float | None = None, ceiling: float | None = None
    ) -> None:
        if search.paths is None:
            raise ValueError("the labels need the path relaxation")
        self.search = search
        models = search.models
        slots = len(models)
        width = max((len(search.rows[j]) for j in models), default=1)
        users = np.full((slots, width), -1, dtype=np.int64)
        upl, lim, wt = np.zeros((slots, width)), np.zeros((slots, width)), np.zeros((slots, width))
        for i, j in enumerate(models):
            for q, (k, u, limit) in enumerate(search.rows[j]):
                users[i, q], upl[i, q], lim[i, q], wt[i, q] = k, u, limit, search.weight[k]
        length = np.array([len(search.rows[j]) for j in models], dtype=np.int64)
        radix, size = [], 1
        for n in length.tolist():
            radix.append(size)
            size *= n + 1
        if size * (slots + 1) >= 2**62:
            raise OverflowError("too many states for 64-bit codes")
        step_of = np.array([search.step_from[-1], *(search.step_from[j] for j in models)], dtype=float)
        self.top = int(length.sum())
        self.model = (users, upl, lim, wt, length, np.array(radix, dtype=np.int64), step_of.reshape(slots + 1, slots))
        real = np.array(models, dtype=np.int64)
        # Only schedules heavier than `floor` by a step are looked for, and one of `ceiling` ends it.
        top = search.ceiling if ceiling is None else ceiling
        self.consts = (float(search.step), float(search.tie), float(search.slop), float(top), real)
        paths = search.paths
        lam = np.asarray(paths.multipliers, dtype=float)
        # λ of the users from each place of each model's list on (the undecided ones of a state).
        suffix = np.zeros((slots, width + 1))
        for i in range(slots):
            for q in range(int(length[i]) - 1, -1, -1):
                suffix[i, q] = suffix[i, q + 1] + lam[users[i, q]]
        self.paths = (paths.values, lam, paths.delta, suffix)
        num_users = len(search.weight)
        by_time, by_upload = np.zeros(num_users, dtype=np.int64), np.zeros(num_users, dtype=np.int64)
        by_time[search.by_time] = np.arange(len(search.by_time))
        by_upload[search.by_upload] = np.arange(len(search.by_upload))
        levels = search.levels
        self.levels = (
            by_time, by_upload, np.asarray(search.weight, dtype=float), np.asarray(search.upload, dtype=float),
            *levels._arrays, *levels._parents, levels._private, levels._group_cost,
        )  # fmt: skip
        self.labels: tuple[np.ndarray, ...] = ()
        self.links: tuple[np.ndarray, np.ndarray] = (np.empty(0, np.int64), np.empty(0, np.int64))
        self.alive = np.zeros(0, dtype=np.bool_)
        self._allocate(capacity)
        self.states = new_states()
        self.ints = np.array([0, 0, -1, -1, 0, 0], dtype=np.int64)
        self.floats = np.array([search.best if floor is None else floor], dtype=float)
        self.layer_head = np.full(self.top + 1, -1, dtype=np.int64)
        self.layer_tail = np.full(self.top + 1, -1, dtype=np.int64)
        self._root()

    def _root(self) -> None:
        """The first label: nothing decided, nothing served, at time 0 with no slack spent."""
        key, lw, lt, ls, parent, luser = self.labels
        key[0], lw[0], lt[0], ls[0], parent[0], luser[0] = 0, 0.0, 0.0, math.inf, -1, -1
        self.alive[0] = True
        self.ints[I_COUNT] = 1
        self.layer_head[0] = self.layer_tail[0] = 0
        self.states[0] = 0

    def _allocate(self, capacity: int) -> None:
        """Label arrays of ``capacity`` (the labels so far copied over)."""
        old = self.labels
        labels = tuple(np.zeros(capacity, dtype=dtype) for dtype in (np.int64, float, float, float, np.int64, np.int64))
        links = (np.full(capacity, -1, dtype=np.int64), np.full(capacity, -1, dtype=np.int64))
        alive = np.zeros(capacity, dtype=np.bool_)
        if old:
            n = old[0].size
            for new, was in zip((*labels, *links, alive), (*old, *self.links, self.alive), strict=True):
                new[:n] = was
        self.labels, self.links, self.alive = labels, links, alive

    @abstractmethod
    def _advance(self, budget: int) -> int:
        """The kernel's step: expand up to ``budget`` labels (a code of :func:`advance`)."""

    def advance(self, budget: int) -> int:
        """Expand about ``budget`` labels (whole batches), growing the arrays as needed:
        :data:`DONE` (no label left to expand, or the ceiling reached), :data:`PAUSED` or
        :data:`FULL` (the label cap reached: the search cannot go on)."""
        while True:
            code = self._advance(budget)
            if code != FULL:
                return code
            if 2 * self.alive.size > MAX_LABELS:
                return FULL
            self._allocate(2 * self.alive.size)

    def expand(self, stop: Callable[[int], bool]) -> bool:
        """Expand until no label is left or the ceiling reached (``True``), or ``stop(labels
        expanded)`` or the label cap ends it (``False``)."""
        while True:
            code = self.advance(CHUNK)
            if code != PAUSED:
                return code == DONE
            if stop(self.expanded):
                return False

    @property
    def best(self) -> float:
        """The weight of the heaviest schedule found (the floor while none is)."""
        return float(self.floats[F_BEST])

    @property
    def expanded(self) -> int:
        """Labels expanded so far."""
        return int(self.ints[I_EXPANDED])

    @property
    def found(self) -> bool:
        """Whether a schedule heavier than the floor was found."""
        return bool(self.ints[I_BEST] >= 0)

    def order(self) -> list[int]:
        """The schedule of the best label: its users, following the parents back to the root."""
        parent, user = self.labels[4], self.labels[5]
        order, i = [], int(self.ints[I_BEST])
        while i > 0:
            order.append(int(user[i]))
            i = int(parent[i])
        return order[::-1]


class Layered(Labels):
    """The labels expanded layer by layer (:func:`advance`): each Pareto label once."""

    def _advance(self, budget: int) -> int:
        return int(
            advance(
                budget, self.ints, self.floats, self.states, self.labels, self.links, self.alive,
                self.layer_head, self.layer_tail, self.model, self.consts, self.paths, self.levels,
            )
        )  # fmt: skip

    def run(self, stop: Callable[[int], bool], root_bound: float) -> VisitSearch:
        """Expand until every layer is done (proven) or ``stop(labels expanded)``; an unproven
        answer's bound is the least of ``root_bound`` and the open labels' bounds."""
        from .search import VisitSearch

        search = self.search
        proven = self.expand(stop)
        best = float(self.floats[F_BEST])
        order = self.order() if self.found else search.best_order
        kept = int(self.ints[I_COUNT])
        if proven:
            return VisitSearch(order, best, True, best, self.expanded, kept, "layered")
        still = open_bound(self.ints, self.labels, self.links, self.alive, self.layer_head, self.model, self.paths)
        bound = max(best, min(root_bound, still, search.ceiling))
        return VisitSearch(order, best, False, bound, self.expanded, kept, "layered")


class Dive(Labels):
    """The labels expanded depth first, the most promising first (:func:`dive`): it finds
    heavy schedules early, but may expand a label that a later one dominates."""

    def __init__(self, search: BranchAndBound, capacity: int = 1 << 16, floor: float | None = None,
                 ceiling: float | None = None) -> None:  # fmt: skip
        self.stack = np.zeros(0, dtype=np.int64)
        super().__init__(search, capacity, floor, ceiling)
        self.stack[0] = 0
        self.ints[I_DEPTH] = 1

    def _allocate(self, capacity: int) -> None:
        super()._allocate(capacity)
        stack = np.zeros(capacity, dtype=np.int64)
        stack[: self.stack.size] = self.stack
        self.stack = stack

    def _advance(self, budget: int) -> int:
        return int(
            dive(
                budget, self.ints, self.floats, self.states, self.labels, self.links, self.alive,
                self.layer_head, self.layer_tail, self.stack, self.model, self.consts, self.paths, self.levels,
            )
        )  # fmt: skip

    def lower(self, ceiling: float) -> None:
        """End the search at a schedule of weight ``ceiling`` from now on."""
        self.consts = (*self.consts[:3], float(ceiling), self.consts[4])


def descend(
    search: BranchAndBound, stop: Callable[[int], bool], root_bound: float, unit: float, dive: bool = True
) -> VisitSearch:
    """The layered search with whole weight units, one target at a time from the bound down,
    beside a dive from the incumbent up.

    Every weight is a multiple of ``unit``, so the optimum is one of the multiples between the
    incumbent and the bound. Each round asks whether a schedule of weight ``target`` or more
    exists, pruning every label that cannot reach it, and stops at the first one found: the
    rounds above found none, so it is optimal. A round that finds none lowers the target by a
    unit. The rounds near the bound prune hardest and cost least; but the round at the optimum
    finds its schedule only in its last layers, after nearly every label that could reach it.

    So a :class:`Dive` runs beside the rounds, :data:`SHARE` labels of theirs for each of its
    own (counted, not timed, so that a run does not depend on the clock): depth first, the most
    promising label first, it finds heavy schedules early. Whichever meets the other ends the
    search: a round that finds nothing at the dive's best plus a unit proves the dive's
    schedule optimal, and so does the dive reaching the round's target, or running out of
    labels (it is a complete search above its best). Stopped, the answer is the dive's best
    schedule (at least the incumbent) with the round's target as bound. ``dive=False`` runs the
    rounds alone.
    """
    from .search import VisitSearch

    top = min(root_bound, search.ceiling)
    target = math.floor((top + search.slop) / unit) * unit
    deep = Dive(search, ceiling=target)
    diving, expanded = dive, 0

    def answer(proven: bool, layered: Layered | None = None) -> VisitSearch:
        order = deep.order() if deep.found else search.best_order
        nodes, kept = expanded + deep.expanded, int(deep.ints[I_COUNT])
        if layered is not None:
            nodes, kept = nodes + layered.expanded, kept + int(layered.ints[I_COUNT])
        return VisitSearch(order, deep.best, proven, deep.best if proven else target, nodes, kept, "layered")

    while target > deep.best + search.tie:
        layered = Layered(search, floor=target - unit, ceiling=target)
        while True:
            if diving:
                code = deep.advance(CHUNK)
                if code == DONE:  # the round's target reached, or nothing heavier than the dive's best
                    return answer(True, layered)
                diving = code == PAUSED  # past the label cap, the rounds go on alone
            # When the round asks whether the dive's best can be beaten by a unit, both search
            # for the same schedules: even shares (the dive finds, the round proves, faster).
            share = 1 if target <= deep.best + unit + search.tie else SHARE
            code = layered.advance(share * CHUNK)
            if code == DONE:
                break
            if code == FULL or stop(expanded + deep.expanded + layered.expanded):
                return answer(False, layered)
        if layered.found:
            weight = layered.best
            nodes, kept = expanded + deep.expanded + layered.expanded, int(layered.ints[I_COUNT])
            return VisitSearch(layered.order(), weight, True, weight, nodes, kept + int(deep.ints[I_COUNT]), "layered")
        expanded += layered.expanded
        target -= unit
        deep.lower(target)
    return answer(True)


def warm() -> None:
    """Compile the kernels (or load them from the cache) now, outside any time limit."""
    from partialloading.instance import Block, Instance, Model, User
    from partialloading.stop import Deadline

    from .bounds import SetupTree
    from .search import BranchAndBound

    # A two-user instance runs every path of the kernels once.
    blocks = (Block("a", 1e6), Block("b", 1e6))
    models = (Model("A", ("a",), 0.01), Model("B", ("b",), 0.01))
    users = (User("u", "A", 1e3, 0.1, spectral_efficiency=1.0), User("v", "B", 1e3, 0.1, spectral_efficiency=1.0))
    inst = Instance(blocks, models, users, bandwidth_hz=1e7, load_speed_bytes_per_s=1e9, name="warm")
    from partialloading.timing import FrameSchedule

    p = FrameSchedule.build(inst, tolerance_share=1.0)
    search = BranchAndBound(p, SetupTree.of(inst), [0, 1], [], compiled=True)
    search.relax_paths(Deadline())
    Layered(search).run(Deadline(), math.inf)
    descend(search, Deadline(), search.root_bound(), 1.0)
