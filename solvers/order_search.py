"""Exact order search for a fixed admitted set: does some service order serve everyone on time?

The question behind ``enumerate`` (which asks it for candidate sets, heaviest first) and behind
greedy's exact set search and polish. It is a depth-first search over orders; the timing model
decides the pruning and the memory model the loads, one request at a time from a hashable
memory state (:meth:`partialloading.memory.Memory.step`; with pairwise loads the state is the
model in memory and the loads are read from the matrix directly).

- **Frame timing.** With the admitted set fixed the upload phase ``τ = Σ a_k/B`` is fixed too,
  so a partial order is summarized by ``(served subset, memory state)`` and its elapsed time: a
  state reached later is never better (dominance).
- **Pipelined timing.** Shortcuts first: an order feasible under frame timing is feasible here; a
  set the machine alone cannot serve on time, or whose ``Σ a_k / (T_k − c_k)`` exceeds ``B``
  (each latest start ``L_k`` is at most ``T_k − c_k``), is not. Otherwise the search runs over
  orders, pruned by prefixes: appending requests never raises the latest starts of the earlier
  ones, so a prefix that is already infeasible has no feasible completion.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np

from partialloading.timing import PipelinedSchedule, Schedule

Step = Callable[[Hashable, int], tuple[float, Hashable]]
"""``(memory state, model) -> (loading time, state after)``."""


def _stepper(p: Schedule) -> tuple[Step, Hashable]:
    """The memory's step function and start state (the matrix itself when loads are pairwise)."""
    if not p.pairwise:
        return p.memory.step, p.memory.start()
    loads, first = p.loads.tolist(), p.first.tolist()

    def step(last: Hashable, m: int) -> tuple[float, Hashable]:
        return (first[m] if last is None else loads[last][m]), m

    return step, None


def find_order(p: Schedule, users: Sequence[int]) -> tuple[list[int] | None, int]:
    """A feasible service order of ``users`` under ``p``'s timing and memory model, or ``None``
    if none exists; and the search nodes visited."""
    if isinstance(p, PipelinedSchedule):
        return _pipelined_order(p, users)
    tau = sum(float(p.upload[k]) for k in users)
    return _frame_order(p, users, tau)


def _frame_order(p: Schedule, users: Sequence[int], tau: float) -> tuple[list[int] | None, int]:
    """Depth-first search with dominance on ``(served subset, memory state) → earliest time``,
    every request finishing ``tau`` after its machine completion."""
    step, start = _stepper(p)
    model, infer, limit = p.model.tolist(), p.infer.tolist(), p.limit.tolist()
    # Earliest deadline first among the choices finds a feasible order early when one exists.
    ranked = sorted(users, key=lambda k: (limit[k], model[k], k))
    full = (1 << len(ranked)) - 1
    best: dict[tuple[int, Hashable], float] = {}
    path: list[int] = []
    nodes = 0

    def dfs(mask: int, state: Hashable, t: float) -> bool:
        nonlocal nodes
        nodes += 1
        if mask == full:
            return True
        for pos, k in enumerate(ranked):
            # A pending user that cannot finish even when served next prunes the branch.
            if not mask >> pos & 1 and tau + t + infer[model[k]] > limit[k]:
                return False
        for pos, k in enumerate(ranked):
            if mask >> pos & 1:
                continue
            m = model[k]
            load, after = step(state, m)
            t2 = t + float(load + infer[m])
            if tau + t2 > limit[k]:
                continue
            key = (mask | 1 << pos, after)
            if best.get(key, np.inf) <= t2:
                continue
            best[key] = t2
            path.append(k)
            if dfs(mask | 1 << pos, after, t2):
                return True
            path.pop()
        return False

    return (list(path) if dfs(0, start, 0.0) else None), nodes


def _pipelined_order(p: PipelinedSchedule, users: Sequence[int]) -> tuple[list[int] | None, int]:
    """The pipelined search (see the module docstring)."""
    users = list(users)
    if not users:
        return [], 1
    order, nodes = _frame_order(p, users, sum(float(p.upload[k]) for k in users))
    if order is not None and p.feasible(np.asarray(order, dtype=np.int64)):
        return order, nodes
    room = p.limit[users] - p.infer[p.model[users]]
    if np.any(room <= 0) or float(np.sum(p.work[users] / room)) > p.bandwidth:
        return None, nodes
    machine_order, visited = _frame_order(p, users, 0.0)
    nodes += visited
    if machine_order is None:
        return None, nodes
    step, start = _stepper(p)
    model, infer = p.model.tolist(), p.infer.tolist()
    limit, work = p.limit.tolist(), p.work.tolist()
    ranked = sorted(users, key=lambda k: (limit[k], model[k], k))
    full = (1 << len(ranked)) - 1
    path: list[int] = []
    earliest: list[float] = []
    finish: list[float] = []

    def prefix_ok() -> bool:
        # Latest starts of the prefix alone: an upper bound on their final values.
        total, suffix = 0.0, np.inf
        for q in range(len(path) - 1, -1, -1):
            suffix = min(suffix, limit[path[q]] - finish[q])
            latest = earliest[q] + suffix
            if latest <= 0 or suffix < 0:
                return False
            total += work[path[q]] / latest
        return total <= p.bandwidth

    def dfs(mask: int, state: Hashable, t: float) -> bool:
        nonlocal nodes
        nodes += 1
        if mask == full:
            return p.feasible(np.asarray(path, dtype=np.int64))
        for pos, k in enumerate(ranked):
            if not mask >> pos & 1 and t + infer[model[k]] > limit[k]:
                return False
        for pos, k in enumerate(ranked):
            if mask >> pos & 1:
                continue
            m = model[k]
            load, after = step(state, m)
            begin = t + float(load)
            path.append(k)
            earliest.append(begin)
            finish.append(begin + infer[m])
            if prefix_ok() and dfs(mask | 1 << pos, after, begin + infer[m]):
                return True
            path.pop()
            earliest.pop()
            finish.pop()
        return False

    return (list(path) if dfs(0, start, 0.0) else None), nodes
