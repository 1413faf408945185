"""Exact branch-and-bound over model visits for the frame timing model (``method="bnb"``).

Two facts shape the search.

**Users of one model are served in deadline order.** Take any feasible order and two admitted
users ``x``, ``y`` of the same model with ``T_y < T_x`` but ``x`` served first. Swapping them
changes nothing in the load sequence (both positions request the same model), nor the upload
phase (the admitted set is the same), so the two positions keep their completion times
``C_x ≤ C_y``, and ``C_y ≤ T_y`` held before the swap. After it ``y`` finishes at
``C_x ≤ C_y ≤ T_y`` and ``x`` at ``C_y ≤ T_y < T_x``: both on time. So each model's admitted
users can be taken in one fixed order (deadline, then heavier first, then index), across all the
model's visits, and a partial schedule is summarized by one pointer per model: how far down its
list the users have been decided (served, or passed over and rejected).

**Admitting a user delays everybody by its upload.** Write ``t`` for the upload phase of the
users served so far plus their loads and inferences (the frame completion time of the last one
if nobody else were admitted) and ``σ`` for the smallest slack ``T_k − (U + P_k)`` over them
(``U``: their uploads, ``P_k``: loads and inferences up to ``k``). Serving ``k`` of model ``j``
next, with upload ``u`` and load ``ℓ`` from the model in memory, gives

    t' = t + u + ℓ + c_j,        σ' = min(σ − u, T_k − t'),

and the partial schedule stays feasible, whatever is served after it, exactly while ``σ' ≥ 0``
(the users added later only lower ``σ`` further). A label ``(weight, t, σ)`` at a state
``(pointers, model in memory)`` dominates another at the same state when it is at least as
heavy, no later and no tighter: every continuation of the second is one of the first. So does
such a label at pointers no further down any list (it may pass over the users in between); the
search looks for those one user behind on one model.

The depth-first search starts from the incumbent (greedy's schedule under the warm start) and
explores only what could beat it: by more than a tie, and by a whole weight unit when every
weight is a multiple of one (integer weights: a node whose bound falls short of the next
integer is pruned). Each node is bounded by the best of two relaxations of the users still
undecided who could each be served next:

- the uploads of everybody added later come out of ``σ``: a 0/1 knapsack of uploads in
  capacity ``σ``, bounded by Martello and Toth's rule (the first user that does not fit is
  either out, or in at the expense of the users before it);
- for a few deadline levels ``d``, once a user with ``T_k ≤ d`` is added it must finish by
  ``d``: the uploads of everybody added, the inferences of the users with ``T_k ≤ d`` and at
  least one load of every block their models miss (:class:`SetupTree`) fit in ``d − t``, whose
  LP bound is a knapsack with setups (upper concave envelopes, merged up the tree). Which
  levels bind depends on the earliest deadline added: if it lies above the level ``d_{i−1}``
  and at most ``d_i``, nobody with an earlier deadline is added and every level from ``d_i``
  up binds. The bound is the largest, over ``i``, of the smallest of those levels' knapsacks
  over the users with deadlines above ``d_{i−1}``.

Both bounds ignore the order of the remainder, so they are weakest where the visit order
decides; they are strongest deep in the tree, where most of the time is committed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from partialloading.timing import FrameSchedule

if TYPE_CHECKING:
    from partialloading.instance import Instance

LEVELS = 5
"""Deadline levels of the second bound at each node (quantiles of the candidates' deadlines,
always including the latest)."""

CHECK_EVERY = 256
"""Nodes between two looks at the clock."""


@dataclass(frozen=True)
class VisitSearch:
    """Outcome of :func:`visit_search`.

    Attributes
    ----------
    order
        The best schedule found (the incumbent when nothing better exists).
    weight
        Its served weight.
    proven
        Whether the search finished, proving that nothing heavier exists.
    bound
        Upper bound on the served weight of every schedule: ``weight`` when proven, else the
        largest node bound of the subtrees left unexplored.
    nodes
        Nodes (partial schedules) visited.
    """

    order: list[int]
    weight: float
    proven: bool
    bound: float
    nodes: int


@dataclass(frozen=True)
class SetupTree:
    """Lower bounds on the loading time of serving any set of models, as a tree of setups.

    A block must be loaded at least once before the first request of a model that holds it,
    unless it is in GPU memory. Group the blocks by the set of models holding them (their
    *signature*). Signatures that are laminar (any two nested or disjoint: backbones and their
    heads, freeze-depth fine-tunes) form a tree over the models, and the loading time of a set
    of models is at least the sum of the setups of the tree nodes above them. The shared
    signatures are taken heaviest first, each kept when laminar with those kept; the blocks of
    the others are split evenly among the models holding them (a lower bound whatever subset
    of them is served). Every setup depends on the
    model in memory (``last``): blocks it holds cost nothing.

    Attributes
    ----------
    model_parent
        Tree node above each model (an index into the groups), ``-1`` for the root.
    group_parent
        Tree node above each group, ``-1`` for the root. The groups are numbered children
        before parents (by number of models), so their indices are a bottom-up order.
    private
        ``private[last + 1][j]``: setup of model ``j``'s own blocks and shares (``last = -1``:
        nothing served yet, the initial model in memory).
    group_cost
        ``group_cost[last + 1][g]``: setup of group ``g``.
    """

    model_parent: tuple[int, ...]
    group_parent: tuple[int, ...]
    private: tuple[tuple[float, ...], ...]
    group_cost: tuple[tuple[float, ...], ...]

    @classmethod
    def of(cls, instance: Instance) -> SetupTree:
        """The setup tree of ``instance``."""
        num_models = instance.num_models
        speed = float(instance.load_speed_bytes_per_s)
        held0 = instance.initial_model_index
        states = [held0, *range(num_models)]  # model in memory: before anything, then after each
        member = instance.membership
        sizes = instance.block_sizes.tolist()
        by_signature: dict[frozenset[int], float] = {}
        for b in range(member.shape[1]):
            signature = frozenset(int(m) for m in member[:, b].nonzero()[0])
            if signature:
                by_signature[signature] = by_signature.get(signature, 0.0) + sizes[b]
        # The heaviest shared signatures first, each kept when it is laminar with those kept.
        laminar: list[frozenset[int]] = []
        for sig in sorted(by_signature, key=lambda sig: (-by_signature[sig], sorted(sig))):
            if len(sig) > 1 and all(not (sig & other) or sig <= other or other <= sig for other in laminar):
                laminar.append(sig)
        groups = sorted(laminar, key=lambda sig: (len(sig), sorted(sig)))
        index = {sig: g for g, sig in enumerate(groups)}

        def smallest_above(members: frozenset[int]) -> int:
            above = [sig for sig in groups if members < sig]
            return index[min(above, key=len)] if above else -1

        model_parent = tuple(smallest_above(frozenset({j})) for j in range(num_models))
        group_parent = tuple(smallest_above(sig) for sig in groups)
        private_rows, cost_rows = [], []
        for h in states:
            own = [0.0] * num_models
            for sig, size in by_signature.items():
                if sig in index or h in sig:
                    continue
                for j in sig:  # the model's own blocks, or an even share of a crossing block
                    own[j] += size / len(sig) / speed
            private_rows.append(tuple(own))
            cost_rows.append(tuple(0.0 if h in sig else by_signature[sig] / speed for sig in groups))
        return cls(model_parent, group_parent, tuple(private_rows), tuple(cost_rows))


def _fractional(items: list[tuple[float, float, float]], capacity: float) -> float:
    """Fractional knapsack of ``(−weight/size, weight, size)`` items in ``capacity`` (best weight
    per size first; the first field is the sort key, ``−inf`` for a free item)."""
    if capacity <= 0:
        return sum(w for _, w, s in items if s <= 0)
    items.sort()
    total = 0.0
    for _, w, s in items:
        if s <= capacity:
            total += w
            capacity -= s
        else:
            total += w * capacity / s
            break
    return total


def _upload_knapsack(ranked: list[int], weight: list[float], upload: list[float], capacity: float) -> float:
    """Upper bound on the weight of the users ``ranked`` (best weight per upload first) whose
    uploads fit in ``capacity`` (``≥ 0``): the Martello–Toth bound of the 0/1 knapsack.

    With ``s`` the first user that does not fit, either ``s`` is left out (the room left is filled
    at the next user's weight per upload at best) or it is in (then the room it lacks comes out of
    the users before it, at the last one's weight per upload at least); both are at most the
    fractional (Dantzig) bound.
    """
    total, room, last = 0.0, capacity, -1
    for i, k in enumerate(ranked):
        u = upload[k]
        if u <= room:
            total += weight[k]
            room -= u
            if u > 0:
                last = k
            continue
        after = ranked[i + 1] if i + 1 < len(ranked) else None
        out = total + (0.0 if after is None else room * weight[after] / upload[after])
        into = -math.inf if last < 0 else total + weight[k] - (u - room) * weight[last] / upload[last]
        return max(out, into)
    return total


def _envelope(setup: float, items: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Segments ``(−weight/size, weight, size)`` of the upper concave envelope of serving a
    model's items (same form) in order of weight per size after paying ``setup``: the LP
    relaxation of that model's choice."""
    if len(items) == 1:
        _, w, s = items[0]
        return [(_key(w, setup + s), w, setup + s)]
    items.sort()
    if setup <= 0:  # in order of weight per size, the items are their own envelope
        return items
    hull = [(0.0, 0.0)]
    size, weight = setup, 0.0
    for _, w, s in items:
        size += s
        weight += w
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (size - x1) <= (weight - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append((size, weight))
    return [(_key(b[1] - a[1], b[0] - a[0]), b[1] - a[1], b[0] - a[0]) for a, b in itertools.pairwise(hull)]


def _key(w: float, size: float) -> float:
    """Sort key of an item: best weight per size first, free items before all."""
    return -w / size if size > 0 else -math.inf


def visit_search(
    p: FrameSchedule,
    tree: SetupTree,
    alone: Sequence[int],
    incumbent: Sequence[int],
    stop: Callable[[int], bool],
    ceiling: float = math.inf,
    unit: float = 0.0,
) -> VisitSearch:
    """The heaviest frame schedule of the users ``alone`` (each servable alone), by branch and bound.

    Parameters
    ----------
    p
        The frame arithmetic (build it with the verifier's full tolerance, as ``enumerate`` does).
    tree
        The instance's setups (:meth:`SetupTree.of`).
    alone
        The users that can meet their deadline served alone (the others are never admitted).
    incumbent
        A feasible order: the search looks only for heavier ones.
    stop
        Asked with the number of nodes visited every :data:`CHECK_EVERY` nodes; ``True`` ends the
        search (then the result is not proven).
    ceiling
        A proven upper bound (e.g. a relaxation's): reaching it ends the search, proven.
    unit
        Every weight is a whole multiple of ``unit`` (:attr:`Instance.weight_unit`; ``0``: no
        such unit), so only a bound of ``best + unit`` or more is worth exploring: integer
        weights prune every node whose bound falls short of the next integer.
    """
    loads = p.loads.tolist()
    first = p.first.tolist()
    infer = p.infer.tolist()
    upload = p.upload.tolist()
    limit = p.limit.tolist()
    weight = p.weight.tolist()
    model = p.model.tolist()
    num_models = len(infer)
    lists: list[list[int]] = [[] for _ in range(num_models)]
    for k in sorted(alone, key=lambda k: (limit[k], -weight[k], k)):
        lists[model[k]].append(k)
    models = [j for j in range(num_models) if lists[j]]
    model_parent, group_parent = tree.model_parent, tree.group_parent
    # Each model's users as (user, upload, limit), and every user ranked once by weight per
    # upload (the σ bound) and by weight per upload and inference (the level bound), so that a
    # node's relaxation walks its candidates in order instead of sorting them.
    rows = [[(k, upload[k], limit[k]) for k in lists[j]] for j in range(num_models)]
    Item = tuple[float, float, float]  # (sort key, weight, size) of a knapsack item
    upload_item: dict[int, Item] = {k: (_key(weight[k], upload[k]), weight[k], upload[k]) for k in alone}
    time_item: dict[int, Item] = {}
    for k in alone:
        size = upload[k] + infer[model[k]]
        time_item[k] = (_key(weight[k], size), weight[k], size)
    candidate = {k: (limit[k], model[k], time_item[k], upload_item[k]) for k in alone}
    by_upload = sorted(alone, key=lambda k: (upload_item[k][0], k))
    by_time = sorted(alone, key=lambda k: (time_item[k][0], limit[k], k))

    best_order = [int(k) for k in incumbent]
    best = sum(weight[k] for k in best_order)
    positive = [w for w in weight if w > 0]
    # Two weights closer than this are a tie (see FrameSchedule.weight_tolerance).
    tie = min(1e-12 * max(1.0, abs(best)), p.weight_tolerance) if positive else 0.0
    slop = 1e-9 * max(1.0, sum(positive))  # rounding of the bounds' sums
    # A heavier schedule weighs more than best + tie, and at least best + unit.
    step = max(tie + slop, unit - slop)

    def load_from(last: int | None, j: int) -> float:
        return first[j] if last is None else (0.0 if last == j else loads[last][j])

    # Loading and inference time of serving model j next, after model `last` (-1: nothing yet).
    step_from = {
        last: [load_from(None if last < 0 else last, j) + infer[j] for j in models] for last in range(-1, num_models)
    }

    # A frame: the node's children not explored yet; the stack's frames hold every open subtree.
    Kid = tuple[float, int, int, int, float, float]  # (deadline, model, position, user, t, σ)
    Node = tuple[tuple[int, ...], int | None, float, float, float]  # (ptr, last, t, σ, weight)
    labels: dict[tuple[tuple[int, ...], int], list[tuple[float, float, float]]] = {}

    def children(node: Node) -> list[Kid]:
        """Every user that can be served next with the partial schedule staying feasible (unsorted:
        a node that is explored sorts them, in deadline order)."""
        ptr, last, t, sigma, _ = node
        kids: list[Kid] = []
        for j, base in zip(models, step_from[-1 if last is None else last], strict=True):
            base += t
            q = ptr[j]
            for k, u, lim in rows[j][q:]:
                t2 = base + u
                s2 = lim - t2
                if sigma - u < s2:
                    s2 = sigma - u
                if s2 >= 0:
                    kids.append((lim, j, q, k, t2, s2))
                q += 1
        return kids

    def relaxation(node: Node, kids: list[Kid], enough: float = -1.0) -> float:
        """Upper bound on the weight that can still be added to the partial schedule ``node``
        (``kids``: its children, the candidates), computed only until it is at most ``enough``:
        then the node is pruned whatever its exact value."""
        _, last, t, sigma, _ = node
        if not kids:
            return 0.0
        pending = {kid[3] for kid in kids}
        if math.isinf(sigma):
            value = sum(weight[k] for k in pending)
        else:
            value = _upload_knapsack([k for k in by_upload if k in pending], weight, upload, sigma)
        if value <= enough:
            return value
        # Best weight per time first, so that each model's items reach _envelope in its order.
        cands = [candidate[k] for k in by_time if k in pending]
        deadlines = sorted(c[0] for c in cands)
        n = len(deadlines)
        levels = sorted(
            {deadlines[n - 1], *(deadlines[(n * i) // LEVELS - 1] for i in range(1, LEVELS) if n * i >= LEVELS)}
        )
        row = -1 if last is None else last
        private, group_cost = tree.private[row + 1], tree.group_cost[row + 1]

        def level(low: float, d: float) -> float:
            """The knapsack of level ``d`` over the candidates with deadlines above ``low``."""
            per: dict[int, list[Item]] = {}
            top: list[Item] = []  # later deadlines: their uploads only
            for dl, j, timed, uploaded in cands:
                if dl <= low:
                    continue
                if dl <= d:
                    per.setdefault(j, []).append(timed)
                else:
                    top.append(uploaded)
            below: dict[int, list[Item]] = {}
            for j, items in per.items():
                below.setdefault(model_parent[j], []).extend(_envelope(private[j], items))
            for g in range(len(group_parent)):
                if g in below:
                    below.setdefault(group_parent[g], []).extend(_envelope(group_cost[g], below.pop(g)))
            top.extend(below.get(-1, []))
            return _fractional(top, d - t)

        # Split by the level of the earliest deadline added: if it lies in (levels[i-1], levels[i]],
        # nobody with an earlier deadline is added and every level from i up holds an added user,
        # so each of those levels' knapsacks binds the users with deadlines above levels[i-1].
        # A case's users are a subset of an earlier case's, so a level that bound an earlier case
        # at most `enough` bounds the later cases up to that level as well.
        heaviest, binding, bound_there = 0.0, -1, math.inf
        for i in range(len(levels)):
            if binding >= i:
                heaviest = max(heaviest, bound_there)
                continue
            low = levels[i - 1] if i else -math.inf
            case = math.inf
            for j in range(i, len(levels)):
                case = min(case, level(low, levels[j]))
                if case <= enough:
                    binding, bound_there = j, case
                    break
            heaviest = max(heaviest, case)
            if heaviest > enough >= 0:
                break
        return min(value, heaviest)

    def child(node: Node, kid: Kid) -> Node:
        ptr, _, _, _, w = node
        _, j, q, k, t2, s2 = kid
        return (*ptr[:j], q + 1, *ptr[j + 1 :]), j, t2, s2, w + weight[k]

    def dominated(node: Node) -> bool:
        ptr, last, t, sigma, w = node
        key = (ptr, -1 if last is None else last)
        mine = labels.get(key)
        if mine is None:
            labels[key] = [(w, t, sigma)]
            return False
        for lw, lt, ls in mine:
            if lw >= w and lt <= t and ls >= sigma:
                return True
        # A label one user behind on one model dominates too (it can pass over that user). Only
        # states reached before are looked at: elsewhere the lookups cost more than they prune.
        for j in models:
            if ptr[j]:
                behind = labels.get(((*ptr[:j], ptr[j] - 1, *ptr[j + 1 :]), key[1]))
                if behind:
                    for lw, lt, ls in behind:
                        if lw >= w and lt <= t and ls >= sigma:
                            return True
        mine[:] = [x for x in mine if not (w >= x[0] and t <= x[1] and sigma >= x[2])]
        mine.append((w, t, sigma))
        return False

    def promising(node: Node, kids: list[Kid]) -> bool:
        enough = best + step - node[4]
        return relaxation(node, kids, enough) > enough

    root: Node = (tuple(0 for _ in range(num_models)), None, 0.0, math.inf, 0.0)
    nodes = 1
    stack: list[tuple[Node, list[Kid], int]] = []
    path: list[int] = []
    done = best >= ceiling - slop
    kids = children(root)
    if not done and promising(root, kids):
        stack.append((root, sorted(kids), 0))
    stopped = False
    while stack and not done:
        node, kids, nxt = stack[-1]
        if nxt >= len(kids):
            stack.pop()
            if path:
                path.pop()
            continue
        stack[-1] = (node, kids, nxt + 1)
        kid = kids[nxt]
        new = child(node, kid)
        if dominated(new):
            continue
        nodes += 1
        if nodes % CHECK_EVERY == 0 and stop(nodes):
            stack[-1] = (node, kids, nxt)  # the kid is still open
            stopped = True
            break
        path.append(kid[3])
        if new[4] > best + tie:
            best, best_order = new[4], list(path)
            if best >= ceiling - slop:
                done = True
                break
        grandkids = children(new)
        if promising(new, grandkids):
            grandkids.sort()
            stack.append((new, grandkids, 0))
        else:
            path.pop()
    if not stopped:
        return VisitSearch(best_order, best, True, best, nodes)
    # Every schedule not yet examined extends an open child of a frame on the stack.
    bound = best
    for node, kids, nxt in stack:
        for kid in kids[nxt:]:
            new = child(node, kid)
            bound = max(bound, new[4] + relaxation(new, children(new)))
    return VisitSearch(best_order, best, False, min(bound, ceiling), nodes)
