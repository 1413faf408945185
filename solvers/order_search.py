"""Exact order search for a fixed admitted set: does some service order serve everyone on time?

The question behind ``enumerate`` (which asks it for candidate sets, heaviest first) and behind
greedy's exact set search and polish. It is a depth-first search over orders; the timing model
decides the pruning and the memory model the loads, one request at a time from a hashable
memory state (:meth:`partialloading.memory.Memory.choices`: every way worth considering to
serve the request, so a memory whose evictions are decisions has them searched too; with
pairwise loads the state is the model in memory and the loads are read from the matrix).

- **Frame timing.** With the admitted set fixed the upload phase ``τ = Σ a_k/B`` is fixed too,
  so a partial order is summarized by ``(served subset, memory state)`` and its elapsed time: a
  state reached later is never better (dominance). Under a memory with a capacity this is the
  dynamic program over resident sets for the best evictions, run for every order at once.
- **Batches.** Where models carry batch tables a step of the search serves a *batch*: any set
  of pending users of one model, up to its table's length (each set once, led by its first
  user in the search's ranking), taking ``c_max · t(b)/t(1)``; the dominance above holds for
  steps as it does for requests. Without batch tables the steps are single requests and the
  search is the one over orders.
- **Pipelined timing.** Shortcuts first: an order feasible under frame timing is feasible here; a
  set the machine alone cannot serve on time, or whose ``Σ a_k / (T_k − c_k)`` exceeds ``B``
  (each latest start ``L_k`` is at most ``T_k − c_k``), is not. Otherwise the search runs over
  orders, pruned by prefixes: appending requests never raises the latest starts of the earlier
  ones, so a prefix that is already infeasible has no feasible completion.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from itertools import combinations
from typing import NamedTuple

import numpy as np

from partialloading.timing import PipelinedSchedule, Schedule

Choice = tuple[float, Hashable, tuple[int, ...]]
"""One way to serve a request: ``(loading time, memory state after, blocks evicted)``."""

Choices = Callable[[Hashable, int, frozenset[int] | None], Sequence[Choice]]
"""``(memory state, model, blocks needed later) -> every way to serve a request of the model``."""


class OrderSearch(NamedTuple):
    """Outcome of :func:`find_order`."""

    order: list[int] | None
    """A feasible order, or ``None`` when none exists."""
    nodes: int
    """Search nodes visited."""
    evicted: list[tuple[int, ...]] | None = None
    """The evictions that make ``order`` feasible (``None``: the memory's default rule does)."""
    batch: list[int] | None = None
    """The batch number of each request of ``order`` (``None``: one request per batch)."""


class Step(NamedTuple):
    """One step the search can take: a batch of pending users of one model."""

    bits: int
    """The users' bits in the search's mask."""
    users: tuple[int, ...]
    """The users, in the search's ranking."""
    model: int
    time: float
    """The batch's inference time."""
    limit: float
    """The earliest (loosened) deadline of its users: when the batch must finish."""


Steps = Callable[[int], Iterator[Step]]
"""``mask -> every step from the pending users (those not in mask)``."""


def _stepper(p: Schedule, ranked: list[int]) -> Steps:
    """The steps from a mask: single requests, or batches where the models have tables."""
    model, infer, limit = p.model.tolist(), p.infer.tolist(), p.limit.tolist()
    limits = p.max_batch.tolist()

    def singles(mask: int) -> Iterator[Step]:
        for pos, k in enumerate(ranked):
            if not mask >> pos & 1:
                yield Step(1 << pos, (k,), model[k], infer[k], limit[k])

    if max((limits[model[k]] for k in ranked), default=1) <= 1:
        return singles
    scales = p.scales.tolist()

    def batches(mask: int) -> Iterator[Step]:
        for pos, k in enumerate(ranked):
            if mask >> pos & 1:
                continue
            m = model[k]
            # Each batch once: led by its first member in the ranking.
            mates = [q for q in range(pos + 1, len(ranked)) if not mask >> q & 1 and model[ranked[q]] == m]
            for extra in range(min(limits[m] - 1, len(mates)) + 1):
                for group in combinations(mates, extra):
                    members = (k, *(ranked[q] for q in group))
                    bits = (1 << pos) | sum(1 << q for q in group)
                    time = max(infer[u] for u in members) * scales[m][len(members) - 1]
                    yield Step(bits, members, m, time, min(limit[u] for u in members))

    return batches


def _flatten(path: list[Step]) -> tuple[list[int], list[int] | None]:
    """The order and batch numbers of a path of steps (``None`` when every step is one request)."""
    order = [k for step in path for k in step.users]
    if all(len(step.users) == 1 for step in path):
        return order, None
    return order, [b for b, step in enumerate(path) for _ in step.users]


def _chooser(p: Schedule) -> tuple[Choices, Hashable]:
    """The memory's choices and start state (the matrix itself when loads are pairwise)."""
    if not p.pairwise:
        return p.memory.choices, p.memory.start()
    loads, first = p.loads.tolist(), p.first.tolist()

    def choices(last: Hashable, m: int, later: frozenset[int] | None = None) -> Sequence[Choice]:
        return (((first[m] if last is None else loads[last][m]), m, ()),)

    return choices, None


def _later(p: Schedule, ranked: list[int]) -> Callable[[int], frozenset[int] | None]:
    """``mask -> the blocks the users of ``ranked`` outside ``mask`` need`` (for memories whose
    evictions are choices; ``None`` otherwise), memoized by mask."""
    if p.pairwise:
        return lambda mask: None
    blocks_of = p.memory.blocks_of
    needs = [blocks_of[int(p.model[k])] for k in ranked]
    cache: dict[int, frozenset[int]] = {}

    def later(mask: int) -> frozenset[int]:
        found = cache.get(mask)
        if found is None:
            found = frozenset().union(*(need for pos, need in enumerate(needs) if not mask >> pos & 1))
            cache[mask] = found
        return found

    return later


def find_order(p: Schedule, users: Sequence[int]) -> OrderSearch:
    """A feasible service order of ``users`` under ``p``'s timing and memory model (with its
    evictions where the memory has choices), or none; and the search nodes visited."""
    if isinstance(p, PipelinedSchedule):
        return _pipelined_order(p, users)
    tau = sum(float(p.upload[k]) for k in users)
    return _frame_order(p, users, tau)


def _evictions(p: Schedule, path: list[Step], trail: list[tuple[int, ...]]) -> list[tuple[int, ...]] | None:
    """Per-request evictions of a path (a batch's on its first request; ``None`` with pairwise loads)."""
    if p.pairwise:
        return None
    return [gone if i == 0 else () for step, gone in zip(path, trail, strict=True) for i in range(len(step.users))]


def _frame_order(p: Schedule, users: Sequence[int], tau: float) -> OrderSearch:
    """Depth-first search with dominance on ``(served subset, memory state) → earliest time``,
    every request finishing ``tau`` after its machine completion."""
    choose, start = _chooser(p)
    model, infer, limit = p.model.tolist(), p.infer.tolist(), p.limit.tolist()
    # Earliest deadline first among the choices finds a feasible order early when one exists.
    ranked = sorted(users, key=lambda k: (limit[k], model[k], k))
    later = _later(p, ranked)
    steps = _stepper(p, ranked)
    full = (1 << len(ranked)) - 1
    best: dict[tuple[int, Hashable], float] = {}
    path: list[Step] = []
    trail: list[tuple[int, ...]] = []
    nodes = 0

    def dfs(mask: int, state: Hashable, t: float) -> bool:
        nonlocal nodes
        nodes += 1
        if mask == full:
            return True
        for pos, k in enumerate(ranked):
            # A pending user that cannot finish even when served next prunes the branch (a
            # batch holding it takes at least its own time).
            if not mask >> pos & 1 and tau + t + infer[k] > limit[k]:
                return False
        for step in steps(mask):
            for load, after, gone in choose(state, step.model, later(mask | step.bits)):
                t2 = t + float(load + step.time)
                if tau + t2 > step.limit:
                    continue
                key = (mask | step.bits, after)
                if best.get(key, np.inf) <= t2:
                    continue
                best[key] = t2
                path.append(step)
                trail.append(gone)
                if dfs(mask | step.bits, after, t2):
                    return True
                path.pop()
                trail.pop()
        return False

    if dfs(0, start, 0.0):
        order, batch = _flatten(path)
        return OrderSearch(order, nodes, _evictions(p, path, trail), batch)
    return OrderSearch(None, nodes)


def _pipelined_order(p: PipelinedSchedule, users: Sequence[int]) -> OrderSearch:
    """The pipelined search (see the module docstring)."""
    users = list(users)
    if not users:
        return OrderSearch([], 1, [] if not p.pairwise else None)
    framed = _frame_order(p, users, sum(float(p.upload[k]) for k in users))
    nodes = framed.nodes
    if framed.order is not None and _feasible(p, framed.order, framed.evicted, framed.batch):
        return framed
    room = p.limit[users] - p.infer[users]
    if np.any(room <= 0) or float(np.sum(p.work[users] / room)) > p.bandwidth:
        return OrderSearch(None, nodes)
    machine = _frame_order(p, users, 0.0)
    nodes += machine.nodes
    if machine.order is None:
        return OrderSearch(None, nodes)
    choose, start = _chooser(p)
    model, infer = p.model.tolist(), p.infer.tolist()
    limit, work = p.limit.tolist(), p.work.tolist()
    ranked = sorted(users, key=lambda k: (limit[k], model[k], k))
    later = _later(p, ranked)
    steps = _stepper(p, ranked)
    full = (1 << len(ranked)) - 1
    path: list[Step] = []
    trail: list[tuple[int, ...]] = []
    earliest: list[float] = []
    finish: list[float] = []

    def prefix_ok() -> bool:
        # Latest starts of the prefix alone: an upper bound on their final values.
        total, suffix = 0.0, np.inf
        for q in range(len(path) - 1, -1, -1):
            suffix = min(suffix, path[q].limit - finish[q])
            latest = earliest[q] + suffix
            if latest <= 0 or suffix < 0:
                return False
            total += sum(work[k] for k in path[q].users) / latest
        return total <= p.bandwidth

    def dfs(mask: int, state: Hashable, t: float) -> bool:
        nonlocal nodes
        nodes += 1
        if mask == full:
            order, batch = _flatten(path)
            return _feasible(p, order, _evictions(p, path, trail), batch)
        for pos, k in enumerate(ranked):
            if not mask >> pos & 1 and t + infer[k] > limit[k]:
                return False
        for step in steps(mask):
            for load, after, gone in choose(state, step.model, later(mask | step.bits)):
                begin = t + float(load)
                path.append(step)
                trail.append(gone)
                earliest.append(begin)
                finish.append(begin + step.time)
                if prefix_ok() and dfs(mask | step.bits, after, begin + step.time):
                    return True
                path.pop()
                trail.pop()
                earliest.pop()
                finish.pop()
        return False

    if dfs(0, start, 0.0):
        order, batch = _flatten(path)
        return OrderSearch(order, nodes, _evictions(p, path, trail), batch)
    return OrderSearch(None, nodes)


def _feasible(
    p: Schedule, order: list[int], evicted: list[tuple[int, ...]] | None, batch: list[int] | None = None
) -> bool:
    """Whether ``order`` with ``evicted`` (``None``: the default rule) in batches ``batch`` is on
    time under ``p``."""
    return p.feasible(np.asarray(order, dtype=np.int64), evicted, batch)
