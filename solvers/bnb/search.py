"""Exact branch-and-bound over model visits for the frame timing model (``method="bnb"``).

Two facts shape the search.

**Users of one model are served in deadline order**, whatever their inference times. Take a
feasible order, and two admitted users ``x``, ``y`` of one model with ``T_x ≤ T_y`` where ``y``
is served before ``x`` and no user of their model lies between them. Move ``y`` to just after
``x``. The admitted set, hence the upload phase, is unchanged. Every position from ``y``'s old
place to ``x`` finishes ``c_y`` earlier, or earlier still: where ``y`` was alone in its visit,
the two loads around it become one that is no longer (``ℓ(i, i'') ≤ ℓ(i, i') + ℓ(i', i'')``: the
blocks ``i''`` misses after ``i`` were missing after ``i'``, or from ``i'`` after ``i``). ``y``
loads nothing after ``x`` (their model is in memory) and finishes when ``x`` did, at
``C_x ≤ T_x ≤ T_y``; whoever follows starts when it did. Everyone stays on time, and the move
removes one inversion of the model's users against the order (deadline, then heavier first,
then index) and adds none, since none of the model's users lies between. So some optimal order
serves each model's admitted users in that fixed order, across all the model's visits, and a
partial schedule is summarized by one pointer per model: how far down its list the users have
been decided (served, or passed over and rejected). (Swapping ``x`` and ``y`` instead, the
textbook exchange, works only when both take one time: the positions between would move by
``c_y − c_x``.)

**Admitting a user delays everybody by its upload.** Write ``t`` for the upload phase of the
users served so far plus their loads and inferences (the frame completion time of the last one
if nobody else were admitted) and ``σ`` for the smallest slack ``T_k − (U + P_k)`` over them
(``U``: their uploads, ``P_k``: loads and inferences up to ``k``). Serving ``k`` of model ``j``
next, with upload ``u`` and load ``ℓ`` from the model in memory, gives

    t' = t + u + ℓ + c_k,        σ' = min(σ − u, T_k − t'),

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
  LP bound is a knapsack with setups (upper concave envelopes, merged up the tree;
  :mod:`.bounds`). Which
  levels bind depends on the earliest deadline added: if it lies above the level ``d_{i−1}``
  and at most ``d_i``, nobody with an earlier deadline is added and every level from ``d_i``
  up binds. The bound is the largest, over ``i``, of the smallest of those levels' knapsacks
  over the users with deadlines above ``d_{i−1}``.

Both bounds ignore the order of the remainder, so they are weakest where the visit order
decides; they are strongest deep in the tree, where most of the time is committed. With numba a
third one, computed first, sees the order: the Lagrangian path relaxation (:mod:`.paths`); and
the labels are then searched layer by layer in compiled code (:mod:`.labelling`) instead of depth
first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from partialloading.progress import report
from partialloading.stop import Deadline
from partialloading.timing import FrameSchedule

from . import bounds
from .bounds import LevelRelaxation, SetupTree
from .knapsack import key, upload_knapsack
from .paths import MAX_USERS, PathBound, PathRelaxation, grouped, step_matrix
from .records import Candidate, Item, VisitSearch

CHECK_EVERY = 256
"""Nodes between two looks at the clock."""

WRAP_UP_S = 0.25
"""Seconds, after a stop, to bound the subtrees left open one by one before one bound per frame
covers the rest (at 300 users the stack holds thousands of open children, each a relaxation)."""

Kid = tuple[float, int, int, int, float, float]
"""A child of a node: ``(deadline, model, position in the model's list, user, t, σ)``."""

Node = tuple[tuple[int, ...], int | None, float, float, float]
"""A partial schedule: ``(pointers, last model, t, σ, weight)``."""


def load_table(p: FrameSchedule) -> dict[int, list[float]]:
    """``table[last][j]``: the time to load model ``j`` after model ``last`` (``-1``: first, from
    the initial state; ``0`` after ``j`` itself), for every model."""
    loads, first = p.loads.tolist(), p.first.tolist()
    models = range(len(first))
    table = {-1: first}
    for last in models:
        table[last] = [0.0 if last == j else loads[last][j] for j in models]
    return table


class BranchAndBound:
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
    ceiling
        A proven upper bound (e.g. a relaxation's): reaching it ends the search, proven.
    unit
        Every weight is a whole multiple of ``unit`` (:attr:`Instance.weight_unit`; ``0``: no
        such unit), so only a bound of ``best + unit`` or more is worth exploring: integer
        weights prune every node whose bound falls short of the next integer.
    """

    def __init__(
        self,
        p: FrameSchedule,
        tree: SetupTree,
        alone: Sequence[int],
        incumbent: Sequence[int],
        ceiling: float = math.inf,
        unit: float = 0.0,
        compiled: bool = False,
        groups: Sequence[int] | None = None,
    ) -> None:
        self.compiled = compiled
        self.groups = None if groups is None else list(groups)
        self.weight: list[float] = p.weight.tolist()
        self.ceiling = ceiling
        self._lists(p, alone)
        self._items(p, alone, tree)
        self.best_order = [int(k) for k in incumbent]
        self.best = sum(self.weight[k] for k in self.best_order)
        positive = [w for w in self.weight if w > 0]
        # Two weights closer than this are a tie (see FrameSchedule.weight_tolerance).
        self.tie = min(1e-12 * max(1.0, abs(self.best)), p.weight_tolerance) if positive else 0.0
        self.slop = 1e-9 * max(1.0, sum(positive))  # rounding of the bounds' sums
        # A heavier schedule weighs more than best + tie, and at least best + unit.
        self.step = max(self.tie + self.slop, unit - self.slop)
        self.labels: dict[tuple[tuple[int, ...], int], list[tuple[float, float, float]]] = {}
        self.nodes = 0
        self.paths: PathBound | None = None
        self.group_paths: PathBound | None = None
        self.group_entry: list[int] = []  # per model: the column of its group's entry in group_paths

    def _lists(self, p: FrameSchedule, alone: Sequence[int]) -> None:
        """Each model's users in deadline order (heavier first, then index), as rows of
        ``(user, upload, limit)``; the loading time of each model after each, and each user's own
        inference time (per-request times keep the order: see the module's text)."""
        upload, limit, model = p.upload.tolist(), p.limit.tolist(), p.model.tolist()
        num_models = len(p.first)
        lists: list[list[int]] = [[] for _ in range(num_models)]
        for k in sorted(alone, key=lambda k: (limit[k], -self.weight[k], k)):
            lists[model[k]].append(k)
        self.num_models = num_models
        self.models = [j for j in range(num_models) if lists[j]]
        self.list_model = list(range(num_models))  # the model of each list (each model's list here)
        self.own_step = p.infer.tolist()  # what serving a user adds to its list's step
        self.rows = [[(k, upload[k], limit[k]) for k in lists[j]] for j in range(num_models)]
        self.load = load_table(p)
        # Loading model j next, after model `last` (-1: nothing yet); each user adds its own time.
        self.step_from = {last: [self.load[last][j] for j in self.models] for last in self.load}

    def _items(self, p: FrameSchedule, alone: Sequence[int], tree: SetupTree) -> None:
        """Every user ranked once by weight per upload (the σ bound) and by weight per upload and
        inference (the level bound), so that a node's relaxation walks its candidates in order
        instead of sorting them."""
        weight, infer = self.weight, p.infer.tolist()
        upload, limit, model = p.upload.tolist(), p.limit.tolist(), p.model.tolist()
        self.upload = upload
        upload_item: dict[int, Item] = {k: (key(weight[k], upload[k]), weight[k], upload[k]) for k in alone}
        time_item: dict[int, Item] = {}
        for k in alone:
            size = upload[k] + infer[k]
            time_item[k] = (key(weight[k], size), weight[k], size)
        candidate: dict[int, Candidate] = {k: (limit[k], model[k], time_item[k], upload_item[k]) for k in alone}
        self.by_upload = sorted(alone, key=lambda k: (upload_item[k][0], k))
        self.by_time = sorted(alone, key=lambda k: (time_item[k][0], limit[k], k))
        self.levels = LevelRelaxation(tree, candidate, self.compiled)

    def path_relaxation(self) -> PathRelaxation | None:
        """The Lagrangian path relaxation of the users (:mod:`.paths`): only compiled (its dynamic
        programme has too many steps for Python) and up to :data:`~.paths.MAX_USERS` users."""
        if not (self.compiled and bounds.compiled_available()) or sum(map(len, self.rows)) > MAX_USERS:
            return None
        users = len(self.weight)
        model, rank, limit = [0] * users, [0] * users, [-1.0] * users
        order = sorted(
            ((lim, -self.weight[k], k, j) for j in self.models for k, _, lim in self.rows[j]),
        )
        for place, (lim, _, k, j) in enumerate(order):
            model[k], rank[k], limit[k] = j, place, lim
        step, first = step_matrix(self.step_from, self.models, self.num_models)
        # A user's upload joins its step: the uploads of everyone served by then precede its end.
        own = [c + u for c, u in zip(self.own_step, self.upload, strict=True)]
        return PathRelaxation(model, rank, limit, self.weight, step, first, own)

    def group_relaxation(self) -> PathRelaxation | None:
        """The grouped path relaxation (:func:`.paths.grouped`): each group of ``groups`` one
        model, consecutive users of one group in deadline order; ``None`` without groups that
        merge two models with users, or where :meth:`path_relaxation` is not set up."""
        groups = self.groups
        if groups is None or len({groups[j] for j in self.models}) == len(self.models):
            return None
        relaxation = self.path_relaxation()
        if relaxation is None:
            return None
        step, first = grouped(relaxation.step, relaxation.first.tolist(), groups, self.models)
        users = len(self.weight)
        group = [groups[int(j)] for j in relaxation.model[:users]]
        self.group_entry = [users + g for g in groups]
        return PathRelaxation(
            group, relaxation.rank[:users].tolist(), relaxation.limit[:users].tolist(), self.weight, step,
            first.tolist(), relaxation.own[:users].tolist(), entries=len(step),
        )  # fmt: skip

    def relax_paths(self, until: Deadline) -> PathBound | None:
        """Set up the third bound, the path relaxation (and the grouped one, the two sharing the
        time), their multipliers tuned until ``until``."""
        relaxation = self.path_relaxation()
        if relaxation is None:
            return None
        grouped_relaxation = self.group_relaxation()
        target = self.best + self.step
        self.paths = relaxation.tune(target, until if grouped_relaxation is None else until.share(0.5))
        if grouped_relaxation is not None:
            self.group_paths = grouped_relaxation.tune(target, until)
        return self.paths

    # ------------------------------------------------------------------ nodes
    def children(self, node: Node) -> list[Kid]:
        """Every user that can be served next with the partial schedule staying feasible (unsorted:
        a node that is explored sorts them, in deadline order)."""
        ptr, last, t, sigma, _ = node
        rows, own = self.rows, self.own_step
        kids: list[Kid] = []
        for j, base in zip(self.models, self.step_from[-1 if last is None else last], strict=True):
            base += t
            q = ptr[j]
            for k, u, lim in rows[j][q:]:
                t2 = base + u + own[k]
                s2 = lim - t2
                if sigma - u < s2:
                    s2 = sigma - u
                if s2 >= 0:
                    kids.append((lim, j, q, k, t2, s2))
                q += 1
        return kids

    def relaxation(self, node: Node, kids: list[Kid], enough: float = -1.0) -> float:
        """Upper bound on the weight that can still be added to the partial schedule ``node``
        (``kids``: its children, the candidates), computed only until it is at most ``enough``:
        then the node is pruned whatever its exact value."""
        ptr, last, t, sigma, _ = node
        if not kids:
            return 0.0
        if self.paths is not None:
            # The last user served is the one before the pointer of the last model.
            after = None if last is None else self.rows[last][ptr[last] - 1][0]
            lam = self.paths.multipliers
            value = self.paths.gain(after, t) + sum(lam[kid[3]] for kid in kids)
            if self.group_paths is not None:  # the grouped relaxation, from the group's entry
                lam = self.group_paths.multipliers
                entry = None if last is None else self.group_entry[last]
                value = min(value, self.group_paths.gain(entry, t) + sum(lam[kid[3]] for kid in kids))
            if value <= enough:
                return value
        else:
            value = math.inf
        pending = {kid[3] for kid in kids}
        if math.isinf(sigma):
            value = min(value, sum(self.weight[k] for k in pending))
        else:
            ranked = [k for k in self.by_upload if k in pending]
            value = min(value, upload_knapsack(ranked, self.weight, self.upload, sigma))
        if value <= enough:
            return value
        # Best weight per time first, so that each model's items reach the envelopes in its order.
        ranked = [k for k in self.by_time if k in pending]
        return min(value, self.levels.bound(ranked, self.in_memory(last), t, enough))

    def in_memory(self, last: int | None) -> int | None:
        """The model in memory after a node whose last step was ``last`` (a model's list here)."""
        return last

    def child(self, node: Node, kid: Kid) -> Node:
        """The partial schedule ``node`` followed by ``kid``."""
        ptr, _, _, _, w = node
        _, j, q, k, t2, s2 = kid
        return (*ptr[:j], q + 1, *ptr[j + 1 :]), j, t2, s2, w + self.weight[k]

    def dominated(self, node: Node) -> bool:
        """Whether a label seen before dominates ``node`` (else ``node``'s label is recorded)."""
        ptr, last, t, sigma, w = node
        state = (ptr, -1 if last is None else last)
        mine = self.labels.get(state)
        if mine is None:
            self.labels[state] = [(w, t, sigma)]
            return False
        for lw, lt, ls in mine:
            if lw >= w and lt <= t and ls >= sigma:
                return True
        # A label one user behind on one model dominates too (it can pass over that user). Only
        # states reached before are looked at: elsewhere the lookups cost more than they prune.
        for j in self.models:
            if ptr[j]:
                behind = self.labels.get(((*ptr[:j], ptr[j] - 1, *ptr[j + 1 :]), state[1]))
                if behind:
                    for lw, lt, ls in behind:
                        if lw >= w and lt <= t and ls >= sigma:
                            return True
        mine[:] = [x for x in mine if not (w >= x[0] and t <= x[1] and sigma >= x[2])]
        mine.append((w, t, sigma))
        return False

    def entry(self, kid: Kid) -> int:
        """What the schedule records of ``kid``: its user (a batched search adds more)."""
        return kid[3]

    def promising(self, node: Node, kids: list[Kid]) -> bool:
        """Whether ``node``'s subtree may hold a schedule heavier than the best by a step."""
        enough = self.best + self.step - node[4]
        return self.relaxation(node, kids, enough) > enough

    # ------------------------------------------------------------------ search
    def root(self) -> Node:
        """The empty schedule: nothing decided, no model loaded by the search, no slack spent."""
        return (tuple(0 for _ in self.rows), None, 0.0, math.inf, 0.0)

    def root_bound(self) -> float:
        """The bound of the empty schedule: the most any schedule weighs."""
        root = self.root()
        return self.relaxation(root, self.children(root))

    def run(self, stop: Callable[[int], bool], wrap_up_s: float = WRAP_UP_S) -> VisitSearch:
        """Search depth first; ``stop(nodes)`` is asked every :data:`CHECK_EVERY` nodes and
        ``True`` ends the search (then the result is not proven, and the bound of the subtrees
        left open is computed in about ``wrap_up_s`` seconds more)."""
        root = self.root()
        self.nodes = 1
        # A frame: the node's children not explored yet; the stack's frames hold every open subtree.
        stack: list[tuple[Node, list[Kid], int]] = []
        kids = self.children(root)
        if self.best < self.ceiling - self.slop and self.promising(root, kids):
            stack.append((root, sorted(kids), 0))
        if self._explore(stack, stop):
            return VisitSearch(self.best_order, self.best, True, self.best, self.nodes, self._label_count())
        bound = self._open_bound(stack, Deadline.after(wrap_up_s))
        return VisitSearch(self.best_order, self.best, False, min(bound, self.ceiling), self.nodes, self._label_count())

    def _label_count(self) -> int:
        return sum(len(kept) for kept in self.labels.values())

    def _explore(self, stack: list[tuple[Node, list[Kid], int]], stop: Callable[[int], bool]) -> bool:
        """Run the depth-first loop on ``stack``; ``False`` when ``stop`` ended it (the stack then
        holds every open subtree)."""
        path: list[int] = []
        while stack:
            node, kids, nxt = stack[-1]
            if nxt >= len(kids):
                stack.pop()
                if path:
                    path.pop()
                continue
            stack[-1] = (node, kids, nxt + 1)
            kid = kids[nxt]
            new = self.child(node, kid)
            if self.dominated(new):
                continue
            self.nodes += 1
            if self.nodes % CHECK_EVERY == 0:
                # The ceiling is the bound proven before the search (the warm start's).
                report("bnb", self.best, None if math.isinf(self.ceiling) else self.ceiling)
                if stop(self.nodes):
                    stack[-1] = (node, kids, nxt)  # the kid is still open
                    return False
            path.append(self.entry(kid))
            if new[4] > self.best + self.tie:
                self.best, self.best_order = new[4], list(path)
                if self.best >= self.ceiling - self.slop:
                    return True
            grandkids = self.children(new)
            if self.promising(new, grandkids):
                grandkids.sort()
                stack.append((new, grandkids, 0))
            else:
                path.pop()
        return True

    def _open_bound(self, stack: list[tuple[Node, list[Kid], int]], wrap_up: Deadline) -> float:
        """Every schedule not yet examined extends an open child of a frame on the stack: the
        largest bound of those children. When ``wrap_up`` passes first, one bound of the frame
        reached (its node, with all its children as candidates) covers that frame and every
        deeper one, which lie in its subtree: a looser bound, but in bounded time."""
        bound = self.best
        for node, kids, nxt in stack:
            for kid in kids[nxt:]:
                if wrap_up.expired():
                    return max(bound, node[4] + self.relaxation(node, kids))
                new = self.child(node, kid)
                bound = max(bound, new[4] + self.relaxation(new, self.children(new)))
        return bound
