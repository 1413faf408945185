"""The branch-and-bound with per-request inference times (``method="bnb"`` when users carry their
own ``infer_time_s``).

**Which users of one model keep their order.** The deadline-order rule of :mod:`.search` swaps
two users of one model; with unequal times the positions between them move. It survives for
pairs where one user is no later and no longer than the other: say ``x ≺ y`` when ``x`` and ``y``
request the same model, ``T_x ≤ T_y`` and ``c_x ≤ c_y``. Take a feasible order serving ``y`` at
position ``p`` and ``x`` at a later position ``p'``, and swap them. The sequence of models, hence
every load, and the admitted set, hence the upload phase, are unchanged. The requests between
``p`` and ``p'`` finish ``c_y − c_x ≥ 0`` earlier; position ``p'`` ends when it did, at
``C_{p'} ≤ T_x ≤ T_y``, now with ``y``; ``x`` at ``p`` ends at ``C_p − c_y + c_x ≤ C_{p'} ≤ T_x``.
Everyone stays on time, and each such swap removes an inversion of the model's users against the
order ``(T, c, index)``, so some optimal order serves every admitted pair ``x ≺ y`` with ``x``
first.

**Chains.** So each model's users are split into chains of ``≺`` (sorted by deadline, then
time, each user put on the chain whose last user has the longest time not above its own: the
fewest chains, by the patience-sorting argument), and the search of :mod:`.search` runs with one
pointer per *chain* instead of per model: serving a chain's user rejects the undecided users
before it on that chain only. With equal times per model every model is one chain and this is
the search of :mod:`.search`. A node's last step names its chain (the last user served is the one
before that chain's pointer) and, through it, the model in memory.

**Bounds.** The upload knapsack and the level knapsacks take each user's own time already. The
path relaxation runs over *chains* instead of models: a step from user ``l`` to user ``k`` costs
``ℓ(m_l, m_k) + c_k`` (the kernel adds ``c_k`` to the step between their chains), and two
consecutive steps of one chain keep its order; two users of one model on different chains may
come in either order, which unequal times allow. It is compiled (numba), and so are the
labels layer by layer (:mod:`.labelling`), their lists the chains and each user's own time added
to its chain's step.
"""

from __future__ import annotations

from collections.abc import Sequence

from partialloading.timing import FrameSchedule

from . import bounds
from .paths import MAX_USERS, PathRelaxation
from .search import BranchAndBound, load_table


class TimedSearch(BranchAndBound):
    """:class:`BranchAndBound` with one pointer per chain of ``≺`` (see the module's text)."""

    def _lists(self, p: FrameSchedule, alone: Sequence[int]) -> None:
        upload, limit, model, infer = p.upload.tolist(), p.limit.tolist(), p.model.tolist(), p.infer.tolist()
        self.num_models = len(p.first)
        chains: list[list[int]] = []
        chain_model: list[int] = []
        tails: dict[int, list[int]] = {}  # per model: its chains (indices)
        for k in sorted(alone, key=lambda k: (limit[k], infer[k], -self.weight[k], k)):
            mine = tails.setdefault(model[k], [])
            # The chain whose last user is the longest not above k's time (fewest chains).
            fits = [c for c in mine if infer[chains[c][-1]] <= infer[k]]
            if fits:
                chains[max(fits, key=lambda c: (infer[chains[c][-1]], -c))].append(k)
            else:
                mine.append(len(chains))
                chains.append([k])
                chain_model.append(model[k])
        self.chain_model = self.list_model = chain_model
        self.models = list(range(len(chains)))  # the lists the pointers run along: the chains
        self.rows = [[(k, upload[k], limit[k]) for k in chain] for chain in chains]
        self.own_step = infer
        self.load = load_table(p)
        # The step into each chain after the last one (-1: first): its model's load; each user
        # adds its own time (own_step), as the compiled labels do.
        self.step_from = {
            last: [self.load[-1 if last < 0 else chain_model[last]][m] for m in chain_model]
            for last in range(-1, len(chains))
        }

    def in_memory(self, last: int | None) -> int | None:
        return None if last is None else self.chain_model[last]

    def path_relaxation(self) -> PathRelaxation | None:
        """The path relaxation over the chains: a step into a chain costs its model's load, each
        user adds its own time, and two consecutive users of one chain keep the chain's order."""
        if not (self.compiled and bounds.compiled_available()) or sum(map(len, self.rows)) > MAX_USERS:
            return None
        import numpy as np

        users = len(self.weight)
        chain, limit = [0] * users, [-1.0] * users
        for c, rows in enumerate(self.rows):
            for k, _, lim in rows:
                chain[k], limit[k] = c, lim
        # The chains' order is the order they were built in: (deadline, time, heavier, index).
        order = sorted((limit[k], self.own_step[k], -self.weight[k], k) for k in range(users) if limit[k] >= 0)
        rank = [0] * users
        for place, (*_, k) in enumerate(order):
            rank[k] = place
        chains = len(self.rows)
        step = np.asarray([self.step_from[c] for c in range(chains)], dtype=float).reshape(chains, chains)
        return PathRelaxation(chain, rank, limit, self.weight, step, self.step_from[-1], self.own_step)
