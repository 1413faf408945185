"""The branch-and-bound with batches (``method="bnb"`` on an instance with batch tables).

A schedule is a sequence of batches; a batch of ``b`` requests of model ``j`` takes
``t_j(b) = c_j · s_j(b)`` (the model's table, every request of the model taking ``c_j`` alone),
and all its members finish when it ends.

**Users of one model are still served in deadline order** (with equal times per model, which the
registry requires). Take an optimal schedule and give the model's served users back to its
batches, keeping every batch's size, in deadline order: the earliest deadlines go to the earliest
batches. The sequence of models, the batch sizes and the served set are unchanged, so every
batch ends when it did, and matching sorted deadlines to sorted completion times is feasible
whenever any matching is (an exchange of two users placed against that order keeps both on
time, as in :mod:`.search`). So one pointer per model still describes a partial schedule, and a
batch is a run of the model's list taken in order, passing over (rejecting) the users between
its members.

**Moves.** The last batch stays *open*: the next user of its model may join it (while the table
allows), or a new batch starts, of any model. Write ``t`` for the uploads of the users served
plus the loads and batch times so far, ``σ_c`` for the least slack of the *closed* batches and
``d`` for the deadline of the open batch's first member (the earliest of its members). Its
members finish at ``t`` plus the uploads of the users admitted later, so

- a user ``k`` (upload ``u``) joining the open batch of ``b`` members:
  ``t' = t + u + t_j(b+1) − t_j(b)``, ``σ_c' = σ_c − u``, ``d`` unchanged;
- ``k`` of model ``m`` starting a batch after model ``j``:
  ``t' = t + u + ℓ(j, m) + t_m(1)``, ``σ_c' = min(σ_c, d − t) − u``, ``d' = T_k``;

and the partial schedule stays feasible whatever follows exactly while
``σ = min(σ_c', d' − t') ≥ 0``: later users only delay the served ones (by their uploads, and
the open batch's members also by later members' share of the batch), and removing a member
never lengthens a batch (tables are nondecreasing). A label ``(weight, t, σ_c, d − t)`` at a
state ``(pointers, model in memory, size of the open batch)`` dominates another at the same
state when it is at least as heavy, no later and no tighter in both slacks.

**Bounds.** The relaxations of :mod:`.search` stay valid when every user is charged its least
share of a batch, ``c̃_j = c_j · min_b s_j(b)/b`` (a batch of ``b`` takes at least ``b·c̃_j``),
and the open batch is charged only ``b·c̃_j`` of its ``t_j(b)``: growing it to ``b'`` members
costs ``t_j(b') − t_j(b) ≥ (b' − b)·c̃_j − (t_j(b) − b·c̃_j)``. So a node is bounded as the
unbatched search's node at time ``t − t_j(b) + b·c̃_j`` with slack ``σ``, its candidates the
users that could each be served next, joining the open batch or starting one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from partialloading.batch_tables import least_shares
from partialloading.timing import FrameSchedule

from .bounds import SetupTree
from .search import BranchAndBound, Kid, Node

BatchKid = tuple[float, int, int, int, float, float, float, int]
"""A child: ``(deadline, model, position in the model's list, user, t, σ_c, d, members of the
open batch)``; a member count above one means the user joins the open batch."""

BatchNode = tuple[tuple[int, ...], int | None, float, float, float, float, float, int]
"""A partial schedule: ``(pointers, last model, t, σ, weight, σ_c, d, members of the open
batch)``; the first five read as the unbatched search's node (``σ = min(σ_c, d − t)``)."""


def batch_numbers(entries: Sequence[int]) -> tuple[list[int], list[int]]:
    """The order and batch numbers of a schedule recorded by :meth:`BatchedSearch.entry`
    (``k``: ``k`` starts a batch; ``-1 - k``: ``k`` joins the batch before it)."""
    order, batch = [], []
    number = -1
    for entry in entries:
        number += entry >= 0 or number < 0
        order.append(entry if entry >= 0 else -1 - entry)
        batch.append(number)
    return order, batch


class BatchedSearch(BranchAndBound):
    """:class:`BranchAndBound` whose steps are batches (see the module's text).

    Parameters are :class:`BranchAndBound`'s, and ``incumbent_batch``: the batch numbers of the
    incumbent (``None``: one request per batch).
    """

    def __init__(
        self,
        p: FrameSchedule,
        tree: SetupTree,
        alone: Sequence[int],
        incumbent: Sequence[int],
        incumbent_batch: Sequence[int] | None = None,
        ceiling: float = math.inf,
        unit: float = 0.0,
        compiled: bool = False,
    ) -> None:
        scales = np.asarray(p.scales, dtype=float)
        least = least_shares(scales)
        # The inherited bounds see each user at its least share of a batch.
        shares = p.infer * least[p.model]
        super().__init__(dataclasses.replace(p, infer=shares), tree, alone, incumbent, ceiling, unit, compiled)
        infer = [0.0] * self.num_models
        for j in self.models:
            infer[j] = float(p.infer[self.rows[j][0][0]])
        # t_j(b) for b = 0 … B_j (t_j(0) = 0), and what the bounds charge for b members.
        self.batch_time = [
            [0.0, *(infer[j] * float(s) for s in scales[j, : p.max_batch[j]])] for j in range(len(infer))
        ]
        self.share = [infer[j] * float(least[j]) for j in range(len(infer))]
        number = list(incumbent_batch) if incumbent_batch is not None else list(range(len(incumbent)))
        self.best_order = [k if q == 0 or number[q] != number[q - 1] else -1 - k for q, k in enumerate(self.best_order)]
        self.labels_b: dict[tuple[tuple[int, ...], int, int], list[tuple[float, float, float, float]]] = {}

    def entry(self, kid: Kid) -> int:
        """``k`` for a user starting a batch, ``-1 - k`` for one joining the open batch."""
        k = kid[3]
        return -1 - k if kid[7] > 1 else k  # type: ignore[misc]

    def root(self) -> Node:
        return (tuple(0 for _ in range(self.num_models)), None, 0.0, math.inf, 0.0, math.inf, math.inf, 0)  # type: ignore[return-value]

    def children(self, node: Node) -> list[Kid]:
        ptr, last, t, _, _, closed, first_deadline, members = node  # type: ignore[misc]
        rows = self.rows
        kids: list[BatchKid] = []
        if last is not None and members < len(self.batch_time[last]) - 1:
            table = self.batch_time[last]
            extra = t + table[members + 1] - table[members]
            q = ptr[last]
            for k, u, lim in rows[last][q:]:
                t2 = extra + u
                if closed - u >= 0 and first_deadline - t2 >= 0:
                    kids.append((lim, last, q, k, t2, closed - u, first_deadline, members + 1))
                q += 1
        before = min(closed, first_deadline - t)
        load = self.load[-1 if last is None else last]
        for j in self.models:
            base = t + load[j] + self.batch_time[j][1]
            q = ptr[j]
            for k, u, lim in rows[j][q:]:
                t2 = base + u
                if before - u >= 0 and lim - t2 >= 0:
                    kids.append((lim, j, q, k, t2, before - u, lim, 1))
                q += 1
        return kids  # type: ignore[return-value]

    def child(self, node: Node, kid: Kid) -> Node:
        ptr, _, _, _, w, *_ = node
        _, j, q, k, t2, closed, first_deadline, members = kid  # type: ignore[misc]
        sigma = min(closed, first_deadline - t2)
        return ((*ptr[:j], q + 1, *ptr[j + 1 :]), j, t2, sigma, w + self.weight[k], closed, first_deadline, members)  # type: ignore[return-value]

    def relaxation(self, node: Node, kids: list[Kid], enough: float = -1.0) -> float:
        ptr, last, t, sigma, w, _, _, members = node  # type: ignore[misc]
        if last is not None:
            t -= self.batch_time[last][members] - members * self.share[last]
        unique = list({kid[3]: kid for kid in kids}.values())
        return super().relaxation((ptr, last, t, sigma, w), unique, enough)

    def dominated(self, node: Node) -> bool:
        ptr, last, t, _, w, closed, first_deadline, members = node  # type: ignore[misc]
        open_slack = first_deadline - t
        code = -1 if last is None else last
        state = (ptr, code, members)
        mine = self.labels_b.get(state)
        if mine is None:
            self.labels_b[state] = [(w, t, closed, open_slack)]
            return False
        if any(lw >= w and lt <= t and lc >= closed and lo >= open_slack for lw, lt, lc, lo in mine):
            return True
        for j in self.models:
            if ptr[j]:
                behind = self.labels_b.get(((*ptr[:j], ptr[j] - 1, *ptr[j + 1 :]), code, members))
                if behind and any(
                    lw >= w and lt <= t and lc >= closed and lo >= open_slack for lw, lt, lc, lo in behind
                ):
                    return True
        mine[:] = [x for x in mine if not (w >= x[0] and t <= x[1] and closed >= x[2] and open_slack >= x[3])]
        mine.append((w, t, closed, open_slack))
        return False

    def _label_count(self) -> int:
        return sum(len(kept) for kept in self.labels_b.values())
