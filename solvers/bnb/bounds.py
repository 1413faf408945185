"""The setup tree and the deadline-level bound of the branch-and-bound (see :mod:`.search`).

- :class:`SetupTree`: lower bounds on the loading time of serving any set of models (blocks
  loaded at least once, grouped by the models that hold them, as a laminar tree);
- :class:`LevelRelaxation`: the bound of a node per deadline level, split by the level of the
  earliest deadline added, on the knapsacks of :mod:`.knapsack`; compiled by :mod:`.kernels`
  when numba is installed (imported only then: numba is optional).
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from .knapsack import envelope, fractional
from .records import LEVELS, Candidate, Item

if TYPE_CHECKING:
    from partialloading.instance import Instance


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
        states: list[int | None] = [None, *range(num_models)]  # before anything, then after each model
        member = instance.membership
        sizes = instance.block_sizes.tolist()
        resident0 = set(instance.initial_resident)
        by_signature: dict[frozenset[int], float] = {}
        missing0: dict[frozenset[int], float] = {}  # what the initial state lacks of each signature
        for b in range(member.shape[1]):
            signature = frozenset(int(m) for m in member[:, b].nonzero()[0])
            if signature:
                by_signature[signature] = by_signature.get(signature, 0.0) + sizes[b]
                missing0[signature] = missing0.get(signature, 0.0) + (0.0 if b in resident0 else sizes[b])
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
            # After model h its blocks are resident; before anything, the initial blocks are.
            lacking = missing0 if h is None else {sig: 0.0 if h in sig else size for sig, size in by_signature.items()}
            own = [0.0] * num_models
            for sig, size in lacking.items():
                if sig in index:
                    continue
                for j in sig:  # the model's own blocks, or an even share of a crossing block
                    own[j] += size / len(sig) / speed
            private_rows.append(tuple(own))
            cost_rows.append(tuple(lacking[sig] / speed for sig in groups))
        return cls(model_parent, group_parent, tuple(private_rows), tuple(cost_rows))


@functools.cache
def compiled_available() -> bool:
    """Whether numba is installed (the ``fast`` extra), so that the compiled bound can run."""
    return importlib.util.find_spec("numba") is not None


class LevelRelaxation:
    """Upper bound on the weight a partial schedule can still add, per deadline level.

    For a few deadline levels ``d`` (quantiles of the candidates' deadlines), once a user with
    ``T_k ≤ d`` is added it must finish by ``d``: the uploads of everybody added, the inferences
    of the users with ``T_k ≤ d`` and at least one load of every block their models miss
    (:class:`SetupTree`) fit in ``d − t``, whose LP bound is a knapsack with setups (upper
    concave envelopes, merged up the tree). Which levels bind depends on the earliest deadline
    added: if it lies in ``(d_{i−1}, d_i]`` nobody with an earlier deadline is added and every
    level from ``d_i`` up binds, so the bound is the largest over ``i`` of the smallest of those
    levels' knapsacks over the users with deadlines above ``d_{i−1}``.

    ``compiled``: :meth:`bound` runs the numba kernel (:mod:`.kernels`, about twice the nodes per
    second of the whole search at 30–40 users) when numba is installed (the ``fast`` extra), else
    the Python :meth:`reference_bound`; both compute the same numbers (tested).
    """

    def __init__(self, tree: SetupTree, candidate: dict[int, Candidate], compiled: bool = False) -> None:
        self.tree = tree
        self.candidate = candidate
        if not (compiled and compiled_available()):
            # The Python bound: without numba (the `fast` extra), and for greedy's short searches
            # on small instances, which should not load a compiler.
            self.bound = self.reference_bound  # type: ignore[method-assign]
            return
        from .kernels import node_level_bound

        self._kernel = cast("Callable[..., float]", node_level_bound)
        # The same data as arrays indexed by user, for the compiled bound (:mod:`.kernels`).
        size = max(candidate, default=-1) + 1
        rows = np.zeros((8, size))
        for k, (dl, j, timed, uploaded) in candidate.items():
            rows[:, k] = (dl, j, *timed, *uploaded)
        self._arrays = (rows[0], rows[1].astype(np.int64), *rows[2:])
        self._parents = (np.asarray(tree.model_parent, dtype=np.int64), np.asarray(tree.group_parent, dtype=np.int64))
        self._private = np.asarray(tree.private, dtype=float).reshape(len(tree.private), -1)
        self._group_cost = np.asarray(tree.group_cost, dtype=float).reshape(len(tree.group_cost), -1)

    @staticmethod
    def levels(deadlines: Sequence[float]) -> list[float]:
        """The levels of the sorted ``deadlines``: :data:`LEVELS` quantiles, always the latest."""
        n = len(deadlines)
        return sorted(
            {deadlines[n - 1], *(deadlines[(n * i) // LEVELS - 1] for i in range(1, LEVELS) if n * i >= LEVELS)}
        )

    def level(self, cands: list[Candidate], row: int, low: float, d: float, room: float) -> float:
        """The knapsack of level ``d`` over the candidates with deadlines above ``low``, in
        ``room`` (``d − t``), after model ``row`` (``-1``: nothing served yet)."""
        tree = self.tree
        private, group_cost = tree.private[row + 1], tree.group_cost[row + 1]
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
            below.setdefault(tree.model_parent[j], []).extend(envelope(private[j], items))
        for g in range(len(tree.group_parent)):
            if g in below:
                below.setdefault(tree.group_parent[g], []).extend(envelope(group_cost[g], below.pop(g)))
        top.extend(below.get(-1, []))
        return fractional(top, room)

    def bound(self, ranked: list[int], last: int | None, t: float, enough: float) -> float:
        """The bound for the candidates ``ranked`` (best weight per time first) of a node whose
        last model is ``last`` at elapsed time ``t``, computed only until it is at most
        ``enough`` (then the node is pruned whatever its exact value); compiled
        (:func:`.kernels.node_level_bound`), the same arithmetic as :meth:`reference_bound`."""
        row = 0 if last is None else last + 1
        return float(
            self._kernel(
                np.asarray(ranked, dtype=np.int64),
                *self._arrays,
                t,
                enough,
                *self._parents,
                self._private[row],
                self._group_cost[row],
            )
        )

    def reference_bound(self, ranked: list[int], last: int | None, t: float, enough: float) -> float:
        """:meth:`bound` in plain Python, the reference the compiled one is tested against."""
        cands = [self.candidate[k] for k in ranked]
        levels = self.levels(sorted(c[0] for c in cands))
        row = -1 if last is None else last
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
                case = min(case, self.level(cands, row, low, levels[j], levels[j] - t))
                if case <= enough:
                    binding, bound_there = j, case
                    break
            heaviest = max(heaviest, case)
            if heaviest > enough >= 0:
                break
        return heaviest
