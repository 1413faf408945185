"""Greedy with batches: requests of one model share an inference where models have batch tables.

Every candidate schedule is a *plan* (a list of batches); among the on-time candidates the
heaviest wins, then the shortest (in a simulation a round that ends earlier lets the next one
start earlier: on a busy server this decides as much as the weight).

1. **Everyone servable.** When the deadline order (``edf`` with batches) already serves every
   user who can be served alone, that weight is optimal; the candidates are that schedule and the
   deadline-order construction of step 3.
2. **Small instances** (at most :data:`EXACT_USERS` users servable alone): the batched set search
   of ``enumerate`` within :data:`EXACT_NODES` nodes gives the heaviest set (optimal); the
   deadline-order construction is the other candidate.
3. **Otherwise.** The whole greedy method on :meth:`~partialloading.instance.Instance.unbatched`
   (every batch one request): its schedule is a schedule here with the same times, so batching
   never does worse than not batching. Then that schedule with neighbouring batches of one model
   merged where everyone stays on time and the schedule gets no longer, and the users left out
   added heaviest first (each in every batch of its model with room, or as a new batch at
   :data:`GAPS_AROUND` gaps around its deadline position or at the end, the shortest on-time
   option); and a schedule built from scratch the same way in deadline order, merged and filled.

The bound is the cheap relaxation (:func:`~partialloading.relaxations.best_cheap_bound`, which
charges each user its least share of a batch), or the exact weight of steps 1–2; a schedule that
reaches it is optimal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import GreedyParams
from partialloading.relaxations import best_cheap_bound
from partialloading.result import Status
from partialloading.timing import Schedule, schedule, servable_alone
from partialloading.timing.steps import batch_groups
from partialloading.tolerance import reaches

from .. import edf
from ..enumeration import MAX_EVICTABLE, SetSearch, evictable, heaviest_feasible_set

EXACT_USERS = 9
"""Up to this many users servable alone the batched set search runs first (exact)."""

EXACT_NODES = 200_000
"""Order-search nodes the exact part may visit before greedy's own parts take over."""

GAPS_AROUND = 2
"""A new batch is tried at its deadline position, this many gaps either side, and at the end."""

Plan = list[list[int]]
"""A schedule as batches: each a list of users of one model, in service order."""


def flatten(plan: Plan) -> tuple[list[int], list[int]]:
    """The order and batch numbers of ``plan`` (empty batches skipped)."""
    steps = [step for step in plan if step]
    return [k for step in steps for k in step], [b for b, step in enumerate(steps) for _ in step]


class Batcher:
    """Feasibility and length of batch plans under one schedule arithmetic."""

    def __init__(self, p: Schedule) -> None:
        self.p = p
        self._measured: dict[tuple[tuple[int, ...], ...], tuple[bool, float, float]] = {}

    def measure(self, plan: Plan) -> tuple[bool, float, float]:
        """``(on time, makespan, minimum slack)`` of ``plan`` (each plan evaluated once)."""
        key = tuple(tuple(step) for step in plan if step)
        known = self._measured.get(key)
        if known is not None:
            return known
        order, batch = flatten(plan)
        if not order:
            return True, 0.0, np.inf
        idx = np.asarray(order, dtype=np.int64)
        finish = self.p.finish(idx, batch=batch)
        slack = self.p.limit[idx] - finish
        found = (bool((slack >= 0).all()), float(finish[-1]), float(slack.min()))
        self._measured[key] = found
        return found

    def options(self, plan: Plan, k: int) -> list[Plan]:
        """Plans with ``k`` added: in each batch of its model with room, and as a new batch at the
        gaps around its deadline position and at the end."""
        p = self.p
        m = int(p.model[k])
        room = int(p.max_batch[m])
        out: list[Plan] = []
        for s, step in enumerate(plan):
            if step and int(p.model[step[0]]) == m and len(step) < room:
                out.append([*plan[:s], [*step, k], *plan[s + 1 :]])
        due = [float(np.min(p.limit[step])) for step in plan]
        at = int(np.searchsorted(np.asarray(due), float(p.limit[k]), side="right")) if plan else 0
        gaps = {g for g in range(at - GAPS_AROUND, at + GAPS_AROUND + 1) if 0 <= g <= len(plan)} | {len(plan)}
        out.extend([*plan[:g], [k], *plan[g:]] for g in sorted(gaps))
        return out

    def add(self, plan: Plan, k: int) -> Plan | None:
        """The shortest on-time plan of :meth:`options` (ties: the larger slack), or ``None``."""
        best: tuple[float, float] | None = None
        chosen: Plan | None = None
        for option in self.options(plan, k):
            ok, makespan, slack = self.measure(option)
            if ok and (best is None or (makespan, -slack) < best):
                best, chosen = (makespan, -slack), option
        return chosen

    def merge(self, plan: Plan) -> Plan:
        """Neighbouring batches of one model merged, left to right, where everyone stays on time
        and the schedule gets no longer."""
        p = self.p
        plan = [list(step) for step in plan if step]
        _, makespan, _ = self.measure(plan)
        s = 0
        while s + 1 < len(plan):
            a, b = plan[s], plan[s + 1]
            same = int(p.model[a[0]]) == int(p.model[b[0]])
            if same and len(a) + len(b) <= int(p.max_batch[int(p.model[a[0]])]):
                trial = [*plan[:s], a + b, *plan[s + 2 :]]
                ok, length, _ = self.measure(trial)
                if ok and length <= makespan:
                    plan, makespan = trial, length
                    continue
            s += 1
        return plan

    def fill(self, plan: Plan, users: Sequence[int]) -> Plan:
        """``users`` not yet in ``plan`` added one by one where they fit (see :meth:`add`)."""
        served = {k for step in plan for k in step}
        for k in users:
            if k not in served:
                grown = self.add(plan, k)
                if grown is not None:
                    plan = grown
                    served.add(k)
        return plan


def _weight(instance: Instance, plan: Plan) -> float:
    return float(sum(float(instance.weights[k]) for step in plan for k in step))


def _exact(instance: Instance, alone: list[int], request: SolveRequest) -> SetSearch | None:
    """The batched set search of ``enumerate`` within :data:`EXACT_NODES` nodes, on small
    instances; ``None`` when it does not apply or does not finish."""
    if len(alone) > EXACT_USERS or evictable(instance) > MAX_EVICTABLE:
        return None
    found = heaviest_feasible_set(
        schedule(instance, tolerance_share=1.0),
        alone,
        instance.weights.tolist(),
        lambda nodes: nodes > EXACT_NODES or request.deadline.expired(),
    )
    return None if found.stopped or found.order is None else found


def solve_batched(
    instance: Instance, params: GreedyParams, request: SolveRequest, unbatched: Callable[[], SolverOutput]
) -> SolverOutput:
    """Greedy with batches (see the module docstring); ``unbatched()`` runs greedy on the
    unbatched instance (its order serves here as batches of one), when the exact part does not
    settle the instance."""
    p = schedule(instance)
    info: dict[str, Any] = {}
    alone = servable_alone(instance).tolist()
    batcher = Batcher(p)
    by_value = sorted(alone, key=lambda k: (-float(instance.weights[k]), float(p.limit[k]), k))
    candidates: list[tuple[str, Plan]] = []
    everyone = float(instance.weights[alone].sum())
    edf_plan = batch_groups(*edf.edf_steps(instance))
    if batcher.measure(edf_plan)[0] and reaches(_weight(instance, edf_plan), everyone):
        # Deadline order already serves everyone who can be served (a lightly loaded round): the
        # shortest of its schedules is what is left to find.
        built = batcher.merge(batcher.fill([], edf.edf_order(instance)))
        options = [("edf", edf_plan), ("deadline order", built)]
        name, best = _best(instance, batcher, options)
        order, batch = flatten(best)
        info["result_from"] = f"{name} (serves everyone servable)"
        return SolverOutput(order, Status.OPTIMAL, bound=everyone, info=info, batch=batch)
    bound = best_cheap_bound(instance)
    found = _exact(instance, alone, request)
    if found is not None and found.evicted is not None:
        # Its evictions are decisions (a capacity): the schedule is taken as it is.
        info["result_from"] = "exact set search"
        return SolverOutput(
            found.order or [], Status.OPTIMAL, bound=found.weight, info=info, evicted=found.evicted, batch=found.batch
        )
    evicted = None
    if found is not None:
        bound = min(bound, found.weight)
        candidates.append(("exact set search", batch_groups([int(k) for k in found.order or []], found.batch)))
    else:
        first = unbatched()
        evicted = first.evicted
        info["batches_of_one"] = float(instance.weights[list(first.order)].sum())
        candidates.append(("batches of one", [[int(k)] for k in first.order]))
        if first.evicted is None and params.improve:
            candidates.append(("grouped greedy", batcher.fill(batcher.merge(candidates[0][1]), by_value)))
    if evicted is None and params.improve:
        built = batcher.fill([], edf.edf_order(instance))
        candidates.append(("deadline order", batcher.fill(batcher.merge(built), by_value)))
    name, best = _best(instance, batcher, candidates)
    info["result_from"] = name
    order, batch = flatten(best)
    status = Status.OPTIMAL if reaches(_weight(instance, best), bound) else Status.FEASIBLE
    return SolverOutput(
        order, status, bound=bound, info=info, evicted=evicted if name == "batches of one" else None, batch=batch
    )


def _best(instance: Instance, batcher: Batcher, candidates: list[tuple[str, Plan]]) -> tuple[str, Plan]:
    """The heaviest on-time candidate, then the shortest (a round that ends earlier lets the next
    one start earlier); the first candidate (the exact search's, or batches of one) is on time by
    construction."""
    tolerance = batcher.p.weight_tolerance / 2
    name, best = candidates[0]
    best_length = batcher.measure(best)[1]
    for other, plan in candidates[1:]:
        ok, length, _ = batcher.measure(plan)
        if not ok:
            continue
        ahead = _weight(instance, plan) - _weight(instance, best)
        if ahead > tolerance or (abs(ahead) <= tolerance and length < best_length):
            name, best, best_length = other, plan, length
    return name, best


__all__ = ["Batcher", "flatten", "solve_batched"]
