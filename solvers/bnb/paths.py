"""A bound of the branch-and-bound that sees the order: the Lagrangian path relaxation.

The level bound (:mod:`.bounds`) lets every model be loaded once, whatever the deadlines; when
the deadlines interleave the models, the schedules that exist pay for reloads it never sees.
This relaxation keeps time, loads and deadlines, and gives up something else: that a user is
served at most once.

**The relaxation.** A *path* serves users one after the other from the initial model, each by
its deadline, paying its upload, the loading time from the model before and its inference; two
consecutive users of one model are in the search's deadline order, but a user may come back
after other models. Every schedule of the branch-and-bound is a path: a served user finishes
after the upload phase, which holds the uploads of everyone served up to it (and of those served
later, which the path leaves out). With
multipliers ``λ_k ≥ 0`` and gains ``w_k − λ_k``,

    weight(S) = Σ_{k∈S} (w_k − λ_k) + Σ_{k∈S} λ_k ≤ G_λ + Σ_{k∈S} λ_k,

where ``G_λ`` is the heaviest gain of any path, a dynamic programme over (time, last user).
Below a node at time ``t`` after user ``l`` the same holds with ``G_λ(t, l)``, the heaviest gain
of a path continuing from there, and the users still undecided: the node adds at most
``G_λ(t, l) + Σ_{k undecided} λ_k``, for any ``λ ≥ 0``.

**Time.** The programme rounds every step's end down to a grid of ``num_buckets`` steps up to
the latest deadline: a path in the grid starts no later than the real one, so it stays an
overestimate; the rounding costs at most one bucket per user served.

**Grouped.** Over models, a path alternates between two heads of one backbone almost for free
and serves the same valuable users again and again. :func:`grouped` merges each group of models
(:func:`groups_of`: the models whose largest block is the same) into one: no load within a group,
between groups the least load from a model of one to a model of the other, closed under shortest
paths from each group and from the initial state. These loads never exceed the real ones and
satisfy the triangle inequality, so the move of :mod:`.search` (a user moved to just after a
later one of its group with an earlier deadline) applies to the relaxed problem with groups for
models: some heaviest relaxed path serves each group's users in deadline order, and the same
programme over groups, consecutive users of one group in deadline order, bounds every schedule.
A node's schedule need not keep its group's order, so below it the path starts from the
*entry* of its last model's group (:class:`PathRelaxation`'s ``entries``), a state with no
order to keep.

**The multipliers** minimize the root's bound ``G_λ + Σ_k λ_k`` by subgradient steps
(``1 − times k is served`` in the best path) with Polyak's step length towards the incumbent's
weight, halved after ten steps without improvement. A node costs one table lookup and a sum.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from partialloading.instance import Instance
from partialloading.stop import Deadline

MAX_ROUNDS = 150
"""Subgradient steps at most."""

PATIENCE = 10
"""Subgradient steps without improvement before the step length is halved."""

WORK = 1.6e7
"""Operations of one dynamic programme (buckets × users²) the grid is sized for."""

MAX_USERS = 400
"""Above this many users one programme takes most of a second: the relaxation is not set up."""


@dataclass(frozen=True)
class PathBound:
    """The table of the best multipliers found (:func:`relax`).

    Attributes
    ----------
    values
        ``values[b, k]``: the heaviest gain ``G_λ`` of a path after user ``k`` from bucket
        ``b`` on; ``values[0, K]``: from the start.
    multipliers
        ``λ_k`` per user.
    delta
        Seconds per bucket.
    root
        The root's bound ``G_λ + Σ_k λ_k``.
    rounds
        Subgradient steps taken to find it (of :meth:`PathRelaxation.tune`).
    """

    values: np.ndarray
    multipliers: list[float]
    delta: float
    root: float
    rounds: int

    def gain(self, last: int | None, t: float) -> float:
        """``G_λ`` after user ``last`` (``None``: at the start) from time ``t`` on."""
        if last is None:
            return float(self.values[0, -1])
        b = int(t / self.delta)
        while b > 0 and b * self.delta > t:  # the bucket never starts after t
            b -= 1
        return float(self.values[b, last]) if b < self.values.shape[0] else 0.0


class PathRelaxation:
    """The dynamic programme of the path relaxation over a grid of the latest deadline.

    Parameters
    ----------
    model, rank, limit, weight
        Per user: its model, its place in the deadline order, its deadline (negative: never
        served) and weight.
    step, first
        ``step[i, j]``: loading model ``j`` after ``i`` plus ``j``'s inference; ``first[j]``:
        the same from the initial model.
    own
        Per user, what serving it adds to its step (its upload and its own inference time when
        ``step`` holds loads only; ``None``: nothing).
    entries
        Entry states to add after the users, one per model (of ``step``) from ``0`` on: a path
        may start after entry ``j`` in model ``j``'s memory with any of its users next (see
        :func:`grouped`); ``0``: none.
    """

    def __init__(
        self,
        model: Sequence[int],
        rank: Sequence[int],
        limit: Sequence[float],
        weight: Sequence[float],
        step: np.ndarray,
        first: Sequence[float],
        own: Sequence[float] | None = None,
        entries: int = 0,
    ) -> None:
        real = len(model)
        latest = max(float(np.max(limit, initial=0.0)), 1e-12)
        self.model = np.asarray([*model, *range(entries)], dtype=np.int64)
        self.rank = np.asarray([*rank, *([-1] * entries)], dtype=np.int64)
        self.limit = np.asarray([*limit, *([latest] * entries)], dtype=float)
        self.weight = np.asarray([*weight, *([0.0] * entries)], dtype=float)
        self.step = np.asarray(step, dtype=float)
        self.first = np.asarray(first, dtype=float)
        self.own = np.zeros(len(self.model)) if own is None else np.asarray([*own, *([0.0] * entries)], dtype=float)
        self.virtual = np.arange(len(self.model)) >= real
        self.served = (self.limit >= 0) & ~self.virtual
        users = int(self.served.sum())
        num_buckets = int(min(4000, max(500, WORK / max(users, 1) ** 2)))
        self.delta = latest / num_buckets
        self._values = np.zeros((num_buckets + 1, len(self.model) + 1))
        self._choice = np.zeros(self._values.shape, dtype=np.int64)

    def table(self, multipliers: np.ndarray) -> PathBound:
        """The table of ``multipliers`` (``≥ 0`` per user)."""
        from .kernels import path_values

        gain = self.weight - multipliers
        root = path_values(
            self.delta, self.model, self.rank, self.limit, gain, self.step, self.first, self.own, self.virtual,
            self._values, self._choice,
        )  # fmt: skip
        return PathBound(self._values.copy(), multipliers.tolist(), self.delta, root + float(multipliers.sum()), 1)

    def tune(self, target: float, until: Deadline) -> PathBound:
        """The table of the best multipliers found by subgradient steps aiming at ``target`` (the
        incumbent's weight), until the root's bound reaches it, the steps stall or ``until``."""
        from .kernels import path_counts

        multipliers = np.where(self.served, self.weight / 2, 0.0)
        best = current = self.table(multipliers)
        length, since, rounds = 2.0, 0, 1
        while best.root > target and length >= 1e-3 and rounds < MAX_ROUNDS and not until.expired():
            counts = path_counts(self.delta, self.model, self.step, self.first, self.own, self._choice)
            slope = np.where(self.served, 1.0 - counts, 0.0)
            norm = float(slope @ slope)
            if norm == 0:  # the best path serves every user once: it is optimal, nothing to improve
                break
            multipliers = np.maximum(0.0, multipliers - length * max(current.root - target, 1e-9) / norm * slope)
            current = self.table(multipliers)
            rounds += 1
            if current.root < best.root - 1e-9:
                best, since = current, 0
            else:
                since += 1
                if since >= PATIENCE:
                    length, since = length / 2, 0
        return dataclasses.replace(best, rounds=rounds)


def step_matrix(
    step_from: dict[int, list[float]], models: Sequence[int], num_models: int
) -> tuple[np.ndarray, list[float]]:
    """The search's steps (``step_from[last][i]``: serving ``models[i]`` after ``last``, ``-1``:
    first) as a matrix and a first row, the very numbers the search adds."""
    step = np.full((num_models, num_models), math.inf)
    first = [math.inf] * num_models
    for i, j in enumerate(models):
        first[j] = step_from[-1][i]
        for last in models:
            step[last, j] = step_from[last][i]
    return step, first


def largest_blocks(instance: Instance) -> list[str]:
    """Per model, its largest block (by size, then name)."""
    size = {b.id: b.size_bytes for b in instance.blocks}
    return [max(m.blocks, key=lambda b: (size[b], b)) for m in instance.models]


def groups_of(instance: Instance) -> list[int]:
    """Per model, its group for :func:`grouped`: the models whose largest block is the same,
    numbered in the order of the models."""
    number: dict[str, int] = {}
    return [number.setdefault(b, len(number)) for b in largest_blocks(instance)]


def grouped(
    step: np.ndarray, first: Sequence[float], group: Sequence[int], models: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The loads of the grouped relaxation: none within a group, between two groups the least
    load from a model of one to a model of the other (only ``models``, those with users),
    closed under shortest paths from each group and from the initial state. They never exceed
    a real load and satisfy the triangle inequality (see the module's text).

    Returns the matrix ``[g, h]`` and the row from the initial state ``[h]``, over the groups
    ``0 … max(group)``."""
    count = max(group) + 1
    node = np.full((count + 1, count + 1), math.inf)  # the last node: the initial state
    for a in models:
        for b in models:
            node[group[a], group[b]] = min(node[group[a], group[b]], step[a, b])
        node[count, group[a]] = min(node[count, group[a]], first[a])
    np.fill_diagonal(node, 0.0)
    for k in range(count + 1):  # Floyd–Warshall
        node = np.minimum(node, node[:, [k]] + node[[k], :])
    return node[:count, :count], node[count, :count]
