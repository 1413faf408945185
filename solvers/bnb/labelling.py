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

The kernels that expand the labels run compiled (:mod:`.label_kernels`); the classes here keep
their arrays, grow them, and interleave the two searches by labels counted.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from partialloading.instance import Block, Instance, Model, User
from partialloading.progress import report
from partialloading.stop import Deadline
from partialloading.timing import FrameSchedule

from .bounds import SetupTree
from .label_kernels import (
    DONE,
    F_BEST,
    FULL,
    I_BEST,
    I_COUNT,
    I_DEPTH,
    I_EXPANDED,
    PAUSED,
    advance,
    dive,
    new_states,
    open_bound,
)
from .paths import PathBound
from .records import VisitSearch
from .search import BranchAndBound

CHUNK = 256
"""Labels expanded between two looks at the clock (and the node budget)."""

SHARE = 2
"""Labels the rounds of :func:`descend` expand for each label of the dive beside them."""

MAX_LABELS = 1 << 24
"""Labels kept at most by one search (about 1.1 GB): past it a round stops, unproven, and a dive stops diving."""


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
        # A user's own time beyond its list's step (0 where every list's users share its time).
        own = np.zeros((slots, width))
        for i, j in enumerate(models):
            for q, (k, u, limit) in enumerate(search.rows[j]):
                users[i, q], upl[i, q], lim[i, q], wt[i, q] = k, u, limit, search.weight[k]
                own[i, q] = search.own_step[k]
        length = np.array([len(search.rows[j]) for j in models], dtype=np.int64)
        radix, size = [], 1
        for n in length.tolist():
            radix.append(size)
            size *= n + 1
        if size * (slots + 1) >= 2**62:
            raise OverflowError("too many states for 64-bit codes")
        step_of = np.array([search.step_from[-1], *(search.step_from[j] for j in models)], dtype=float)
        self.top = int(length.sum())
        self.model = (
            users, upl, lim, wt, length, np.array(radix, dtype=np.int64), step_of.reshape(slots + 1, slots), own
        )  # fmt: skip
        real = np.array([search.list_model[j] for j in models], dtype=np.int64)
        # Only schedules heavier than `floor` by a step are looked for, and one of `ceiling` ends it.
        top = search.ceiling if ceiling is None else ceiling
        self.consts = (float(search.step), float(search.tie), float(search.slop), float(top), real)

        def tables(paths: PathBound) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
            lam = np.asarray(paths.multipliers, dtype=float)
            # λ of the users from each place of each model's list on (the undecided ones of a state).
            suffix = np.zeros((slots, width + 1))
            for i in range(slots):
                for q in range(int(length[i]) - 1, -1, -1):
                    suffix[i, q] = suffix[i, q + 1] + lam[users[i, q]]
            return paths.values, lam, paths.delta, suffix

        grouped = search.group_paths
        entry = np.array([search.group_entry[search.list_model[j]] for j in models] if grouped else [], np.int64)
        by_model = tables(search.paths)
        # Without groups the kernels skip the second four (they repeat the first).
        self.paths = (*by_model, *(tables(grouped) if grouped else by_model), entry)
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
            report("bnb", deep.best, target)
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
    # A two-user instance runs every path of the kernels once.
    blocks = (Block("a", 1e6), Block("b", 1e6))
    models = (Model("A", ("a",), 0.01), Model("B", ("b",), 0.01))
    users = (User("u", "A", 1e3, 0.1, spectral_efficiency=1.0), User("v", "B", 1e3, 0.1, spectral_efficiency=1.0))
    inst = Instance(blocks, models, users, bandwidth_hz=1e7, load_speed_bytes_per_s=1e9, name="warm")
    p = FrameSchedule.build(inst, tolerance_share=1.0)
    search = BranchAndBound(p, SetupTree.of(inst), [0, 1], [], compiled=True)
    search.relax_paths(Deadline())
    Layered(search).run(Deadline(), math.inf)
    descend(search, Deadline(), search.root_bound(), 1.0)
