"""Timing model ``frame`` (the default): the server starts when the last upload has arrived.

Every admitted user uploads from time 0 with its share of the uplink; the server starts at
``τ = max_k a_k / b_k`` and serves the requests back to back, each loading the blocks its model
is missing, then running inference. For a fixed admitted set ``S`` the smallest ``τ`` any split
achieves is ``τ* = Σ_{k∈S} a_k / B``, reached by ``b_k = B·a_k / Σ_S a`` (all uploads end
together; no split ends earlier because ``max_k a_k/b_k ≥ Σ a_k / Σ b_k ≥ Σ a_k / B``). So
admitting user ``k`` delays everybody by exactly ``a_k / B``: this one fact is the whole
incremental arithmetic of the heuristics below.

This module and its exact search (:mod:`partialloading.timing.frame_search`, the branch-and-bound's
labels) are the only places outside the independent verifier and the exact formulations where
the frame rule is written down. :class:`FrameSchedule` holds the arrays of one instance and sharing
mode and answers every question the heuristics ask (finish times, slack, the O(1) append test,
the vectorized test of every insertion gap, the exact set-feasibility search of ``enumerate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from partialloading.arrays import BoolArray, FloatArray, IntArray

from .base import RELATIVE_TOLERANCE, Timeline, deadline_limit
from .memory import SingleModelMemory

if TYPE_CHECKING:
    from partialloading.instance import Instance

EPS = 1e-12
"""Smallest makespan decrease (seconds) that counts as an improvement."""

INSERT_OVERHEAD = 300
"""Effort charged per vectorized evaluation on top of its length (the fixed cost of a numpy pass)."""


class Spender(Protocol):
    """An effort budget (see :class:`partialloading.solvers.local_search.Budget`)."""

    def spend(self, amount: float) -> bool:
        """Charge ``amount``; ``False`` when the budget is exhausted."""
        ...


class Gaps(NamedTuple):
    """Outcome of inserting a segment at each gap of an order (see :meth:`FrameSchedule.insertion`)."""

    ok: BoolArray
    added: FloatArray
    makespan: FloatArray
    min_slack: FloatArray


class SlackState(NamedTuple):
    """What the O(1) admission tests need to know of a feasible order (every timing model)."""

    tau: float
    """Upload phase of the order (frame timing; 0 under pipelined timing)."""
    min_slack: float
    """Smallest ``limit − finish`` over the order (``inf`` when empty)."""
    need: float = 0.0
    """Bandwidth the order needs, ``Σ a/L`` (pipelined timing; 0 under frame timing)."""


class OrderScores:
    """What every timing model's arithmetic derives from its ``finish``: feasibility, score, slack."""

    limit: FloatArray
    weight: FloatArray

    def finish(self, order: IntArray, tau: float | None = None) -> FloatArray:
        """Completion of each request of ``order`` (each timing model defines it)."""
        raise NotImplementedError

    def feasible(self, order: IntArray) -> bool:
        """Whether every user of ``order`` is on time."""
        return bool(np.all(self.finish(order) <= self.limit[order]))

    def score(self, order: IntArray) -> tuple[float, float, float]:
        """``(served weight, −makespan, minimum slack)``: larger is better."""
        if order.size == 0:
            return 0.0, 0.0, np.inf
        finish = self.finish(order)
        return float(self.weight[order].sum()), -float(finish[-1]), float(np.min(self.limit[order] - finish))

    @cached_property
    def weight_tolerance(self) -> float:
        """Largest gap between two served weights that still counts as a tie.

        A quarter of the smallest positive weight: below any real difference of two admitted
        sets, above the rounding of their sums (a relative tolerance alone would treat a unit
        weight beside weights of 10^12 as noise). When the weights span so much that a float sum
        cannot hold the smallest one (10^17 beside 1.5), the rounding of the total decides.
        """
        positive = self.weight[self.weight > 0]
        if not positive.size:
            return float("inf")
        rounding = 64 * float(np.finfo(float).eps) * float(positive.sum())
        return max(0.25 * float(positive.min()), rounding)

    def min_slack(self, order: IntArray, tau: float | None = None) -> float:
        """Smallest ``limit − finish`` over ``order`` (``inf`` when empty)."""
        return float(np.min(self.limit[order] - self.finish(order, tau))) if order.size else np.inf


@dataclass(frozen=True, eq=False)
class FrameSchedule(OrderScores):
    """The arrays of one instance under one sharing mode, and the frame schedule arithmetic.

    Attributes
    ----------
    loads
        ``ℓ[from model, to model]`` in seconds.
    first
        Loading time of each model when it is served first.
    infer
        Inference time of each model.
    upload
        ``a_k / B`` of each user: what admitting it adds to the upload phase.
    limit
        Deadline of each user, loosened by a share of the evaluator's relative tolerance.
    weight
        Weight of each user.
    model
        Model index of each user.
    """

    loads: FloatArray
    first: FloatArray
    infer: FloatArray
    upload: FloatArray
    limit: FloatArray
    weight: FloatArray
    model: IntArray

    timing = "frame"
    evaluation_cost = 1.0
    """Cost of one evaluated position relative to a frame one (the unit of the local-search budget)."""
    exact_resequence_users = 0
    """Largest set the local search re-sequences by exact search (none: the frame insertion test
    already checks every gap exactly)."""

    @classmethod
    def build(cls, instance: Instance, sharing: bool, tolerance_share: float = 0.5) -> FrameSchedule:
        """The arithmetic of ``instance`` with (``sharing=True``) or without parameter sharing.

        Parameters
        ----------
        tolerance_share
            Share of :data:`RELATIVE_TOLERANCE` by which deadlines are loosened. Heuristics use
            half (the other half absorbs the different summation order of :func:`timeline`);
            searches whose orders are re-evaluated anyway use all of it.
        """
        memory = SingleModelMemory.of(instance, sharing)
        return cls(
            loads=memory.matrix,
            first=memory.first,
            infer=instance.infer_times,
            upload=instance.upload_times,
            limit=deadline_limit(instance.deadlines, tolerance_share),
            weight=instance.weights,
            model=instance.user_models,
        )

    @property
    def num_users(self) -> int:
        """Number of users."""
        return int(self.model.size)

    # ------------------------------------------------------------------ whole orders
    def loads_of(self, order: IntArray) -> FloatArray:
        """Load time before each request of ``order``."""
        load = np.empty(order.size)
        if order.size:
            m = self.model[order]
            load[0] = self.first[m[0]]
            load[1:] = self.loads[m[:-1], m[1:]]
        return load

    def finish(self, order: IntArray, tau: float | None = None) -> FloatArray:
        """Completion time of each request of ``order`` (``tau``: upload phase, default ``Σ a/B``)."""
        if tau is None:
            tau = float(self.upload[order].sum())
        return tau + np.cumsum(self.loads_of(order) + self.infer[self.model[order]])

    def state(self, order: IntArray) -> SlackState:
        """Upload phase and minimum slack of the feasible ``order``."""
        tau = float(self.upload[order].sum())
        return SlackState(tau, self.min_slack(order, tau))

    def savings(self, order: IntArray) -> FloatArray:
        """Makespan saved by removing each user of ``order`` (upload, inference and load change)."""
        m = self.model[order]
        load = self.loads_of(order)
        save = self.upload[order] + load + self.infer[m]
        n = order.size
        if n > 1:
            # Removing position q joins q-1 and q+1: the load of q+1 changes.
            bridge = np.empty(n - 1)
            bridge[0] = self.first[m[1]]
            bridge[1:] = self.loads[m[:-2], m[2:]]
            save[:-1] += load[1:] - bridge
        return save

    def drop_savings(self, order: IntArray, first_late: int) -> FloatArray:
        """Time each user of an order whose first late request is at ``first_late`` gives that
        request by leaving: users up to it save their whole time, users after it their upload."""
        save = self.savings(order)
        save[first_late + 1 :] = self.upload[order[first_late + 1 :]]
        return save

    # ------------------------------------------------------------------ O(1) tests
    def alone_ok(self, k: int) -> bool:
        """Whether ``k`` can be on time right after the upload phase of itself alone (necessary)."""
        return bool(self.upload[k] + self.first[self.model[k]] + self.infer[self.model[k]] <= self.limit[k])

    def may_insert(self, state: SlackState, k: int) -> bool:
        """Necessary condition, O(1), for inserting ``k`` somewhere in the order of ``state``:
        the admitted users absorb its upload and it fits right after the upload phase."""
        delta = float(self.upload[k])
        return not (state.min_slack < delta or state.tau + delta + float(self.infer[self.model[k]]) > self.limit[k])

    def fits_without(self, order: IntArray, k: int) -> BoolArray:
        """For each position ``j`` of ``order``: can ``k`` start on time after the upload phase
        once ``order[j]`` is removed (a necessary condition of swapping them)?"""
        tau = float(self.upload[order].sum())
        return np.asarray(
            tau - self.upload[order] + float(self.upload[k]) + float(self.infer[self.model[k]]) <= self.limit[k]
        )

    def appender(self) -> Appender:
        """An empty order that users can be appended to with the O(1) frame test."""
        return Appender(self)

    # ------------------------------------------------------------------ insertion
    def insertion(self, rest: IntArray, tau: float, segment: IntArray, delta: float) -> Gaps:
        """Every position at which ``segment`` can be inserted into ``rest``, in one O(n) pass.

        With ``slack = limit − finish`` of the current order, inserting a segment that adds
        ``δ`` to the upload phase and ``added[g]`` to the processing before the users at
        positions ``≥ g`` is feasible iff ``min(slack[:g]) ≥ δ``, ``min(slack[g:]) ≥ δ + added[g]``
        and the segment itself is on time.

        Parameters
        ----------
        rest
            A feasible order (with upload phase ``tau``).
        tau
            Upload phase of ``rest`` (it may already include the segment's uploads).
        segment
            Users to insert, contiguously and in this order.
        delta
            What the insertion adds to the upload phase (0 when relocating admitted users).

        Returns
        -------
        Gaps
            For each gap ``g = 0 … len(rest)`` (insert before ``rest[g]``): feasibility, the
            processing time added in front of ``rest[g:]``, the resulting makespan and minimum
            slack.
        """
        n = rest.size
        seg_models = self.model[segment]
        inner = np.zeros(segment.size)
        inner[1:] = self.loads[seg_models[:-1], seg_models[1:]]
        offsets = np.cumsum(inner + self.infer[seg_models])
        seg_total = float(offsets[-1])
        # The segment is on time iff its first load ends by this time.
        seg_ready = float(np.min(self.limit[segment] - offsets))
        head, tail = int(seg_models[0]), int(seg_models[-1])
        into = np.empty(n + 1)
        into[0] = self.first[head]
        change = np.zeros(n + 1)
        if n:
            m = self.model[rest]
            load = self.loads_of(rest)
            into[1:] = self.loads[m, head]
            change[:n] = self.loads[tail, m] - load
            finish = tau + np.cumsum(load + self.infer[m])
            slack = self.limit[rest] - finish
            before = np.empty(n + 1)
            before[0] = np.inf
            np.minimum.accumulate(slack, out=before[1:])
            after = np.empty(n + 1)
            after[n] = np.inf
            after[:n] = np.minimum.accumulate(slack[::-1])[::-1]
            starts = np.empty(n + 1)
            starts[0] = tau
            starts[1:] = finish
            end = float(finish[-1])
        else:
            before = after = np.full(1, np.inf)
            starts = np.full(1, tau)
            end = tau
        added = into + seg_total + change
        seg_slack = seg_ready - (starts + delta + into)
        ok = (before >= delta) & (after >= delta + added) & (seg_slack >= 0)
        min_slack = np.minimum(np.minimum(before - delta, after - delta - added), seg_slack)
        return Gaps(ok, added, end + delta + added, min_slack)

    def best_insertion(
        self, rest: IntArray, tau: float, segment: IntArray, delta: float
    ) -> tuple[int, float, float] | None:
        """The feasible gap with the smallest makespan, then the largest minimum slack (ties:
        earliest), with that makespan and slack; ``None`` when no gap is feasible."""
        gaps = self.insertion(rest, tau, segment, delta)
        if not gaps.ok.any():
            return None
        cost = np.where(gaps.ok, gaps.makespan, np.inf)
        near = gaps.ok & (cost <= cost.min() + EPS)
        g = int(np.argmax(np.where(near, gaps.min_slack, -np.inf)))
        return g, float(cost[g]), float(gaps.min_slack[g])

    def best_admission(
        self, rest: IntArray, segment: IntArray, state: SlackState | None = None
    ) -> tuple[int, float, float] | None:
        """:meth:`best_insertion` of users not yet admitted into the feasible ``rest`` (``state``:
        that of ``rest``, when the caller has it)."""
        tau = float(self.upload[rest].sum()) if state is None else state.tau
        return self.best_insertion(rest, tau, segment, float(self.upload[segment].sum()))

    def best_relocation(self, rest: IntArray, segment: IntArray) -> tuple[int, float, float] | None:
        """:meth:`best_insertion` of admitted users (``segment``) taken out of ``rest``."""
        tau = float(self.upload[rest].sum()) + float(self.upload[segment].sum())
        return self.best_insertion(rest, tau, segment, 0.0)

    def insert_all(self, seq: IntArray, order: IntArray | None = None, budget: Spender | None = None) -> IntArray:
        """Insert the users of ``seq``, in that order, each at the feasible position that lengthens
        the schedule least (users that fit nowhere are skipped), into ``order`` (default: empty).
        Each O(n) evaluation is charged to ``budget``; when it runs out the rest is skipped."""
        return insert_all(self, seq, order, budget)

    def drop_until_feasible(self, order: IntArray, max_weight: float = np.inf) -> IntArray | None:
        """Drop users until everyone is on time: each time the one saving most time per weight.

        Users up to the first late position save their whole time; users after it only their
        upload (that is all that delays the late user). Returns ``None`` as soon as the dropped
        weight exceeds ``max_weight`` (the caller would reject the result anyway).
        """
        return drop_until_feasible(self, order, max_weight)

    def added_processing(self, order: IntArray, k: int) -> FloatArray:
        """Processing time that inserting ``k`` at each gap of ``order`` adds in front of the rest."""
        return self.insertion(order, float(self.upload[order].sum()), np.array([k]), float(self.upload[k])).added

    # ------------------------------------------------------------------ exact set feasibility
    def find_order(self, users: Sequence[int]) -> tuple[list[int] | None, int]:
        """A feasible service order of ``users``, or ``None`` if none exists; and the nodes visited.

        Depth-first search over orders with dominance on ``(served subset, model in memory) →
        earliest time``: with ``τ`` fixed by the set, a state reached later is never better.
        """
        loads = self.loads.tolist()
        first = self.first.tolist()
        model = self.model.tolist()
        infer = self.infer.tolist()
        limit = self.limit.tolist()
        tau = sum(float(self.upload[k]) for k in users)
        # Earliest deadline first among the choices finds a feasible order early when one exists.
        ranked = sorted(users, key=lambda k: (limit[k], model[k], k))
        full = (1 << len(ranked)) - 1
        best: dict[tuple[int, int | None], float] = {}
        path: list[int] = []
        nodes = 0

        def dfs(mask: int, last: int | None, t: float) -> bool:
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
                t2 = t + float((first[m] if last is None else loads[last][m]) + infer[m])
                if tau + t2 > limit[k]:
                    continue
                key = (mask | 1 << pos, m)
                if best.get(key, np.inf) <= t2:
                    continue
                best[key] = t2
                path.append(k)
                if dfs(mask | 1 << pos, m, t2):
                    return True
                path.pop()
            return False

        return (list(path) if dfs(0, None, 0.0) else None), nodes


class _Arithmetic(Protocol):
    """The members :func:`insert_all` and :func:`drop_until_feasible` use (every timing model has them)."""

    @property
    def limit(self) -> FloatArray: ...
    @property
    def weight(self) -> FloatArray: ...
    def state(self, order: IntArray) -> SlackState: ...
    def may_insert(self, state: SlackState, k: int) -> bool: ...
    def best_admission(
        self, rest: IntArray, segment: IntArray, state: SlackState | None = None
    ) -> tuple[int, float, float] | None: ...
    def finish(self, order: IntArray, tau: float | None = None) -> FloatArray: ...
    def drop_savings(self, order: IntArray, first_late: int) -> FloatArray: ...


def insert_all(p: _Arithmetic, seq: IntArray, order: IntArray | None = None, budget: Spender | None = None) -> IntArray:
    """Best insertion of the users of ``seq`` one by one into ``order``, under any timing model
    (see :meth:`FrameSchedule.insert_all`)."""
    order = np.zeros(0, dtype=np.int64) if order is None else order
    state = p.state(order)
    for k in seq.tolist():
        if not p.may_insert(state, k):
            continue
        if budget is not None and not budget.spend(order.size + INSERT_OVERHEAD):
            break
        best = p.best_admission(order, np.array([k]), state)
        if best is None:
            continue
        g = best[0]
        order = np.concatenate((order[:g], [k], order[g:]))
        state = p.state(order)
    return order


def drop_until_feasible(p: _Arithmetic, order: IntArray, max_weight: float = np.inf) -> IntArray | None:
    """The drop rule under any timing model (see :meth:`FrameSchedule.drop_until_feasible`)."""
    dropped = 0.0
    while order.size:
        finish = p.finish(order)
        late = np.flatnonzero(finish > p.limit[order])
        if late.size == 0:
            break
        ratio = p.drop_savings(order, int(late[0])) / p.weight[order]
        # Ties: the latest position (the newest user).
        q = int(order.size - 1 - np.argmax(ratio[::-1]))
        dropped += float(p.weight[order[q]])
        if dropped > max_weight * (1.0 + 1e-12):
            return None
        order = np.delete(order, q)
    return order


class Appender:
    """An order built by appending users, with the frame test in O(1) per user.

    Admitting ``k`` at the end delays every admitted user by ``a_k/B`` (the upload phase grows),
    so ``k`` fits iff the running minimum slack is at least ``a_k/B`` and ``k`` itself is on time.
    """

    def __init__(self, schedule: FrameSchedule) -> None:
        self.p = schedule
        self.order: list[int] = []
        self.tau = 0.0
        self.busy = 0.0  # processing time after the upload phase
        self.min_slack = np.inf
        self.last: int | None = None

    def next_load(self, k: int) -> float:
        """Loading time of ``k`` if appended now."""
        m = int(self.p.model[k])
        return float(self.p.first[m] if self.last is None else self.p.loads[self.last, m])

    def fits(self, k: int) -> bool:
        """Whether appending ``k`` keeps everyone on time."""
        p = self.p
        m = int(p.model[k])
        delta = float(p.upload[k])
        step = self.next_load(k) + float(p.infer[m])
        finish = self.tau + delta + self.busy + step
        return bool(finish <= p.limit[k] and self.min_slack >= delta)

    def append(self, k: int) -> None:
        """Append ``k`` (the caller has checked :meth:`fits`)."""
        p = self.p
        m = int(p.model[k])
        delta = float(p.upload[k])
        step = self.next_load(k) + float(p.infer[m])
        finish = self.tau + delta + self.busy + step
        self.order.append(k)
        self.tau += delta
        self.busy += step
        self.min_slack = min(self.min_slack - delta, float(p.limit[k]) - finish)
        self.last = m

    @property
    def makespan(self) -> float:
        """Completion of the last request."""
        return self.tau + self.busy

    def absorbs(self, k: int) -> bool:
        """Whether every admitted user can absorb ``k``'s upload (the delay admitting it causes)."""
        return bool(self.min_slack >= self.p.upload[k])

    def hopeless(self, k: int) -> bool:
        """Whether ``k`` cannot be on time even when served first after this order's uploads."""
        p = self.p
        return bool(self.tau + p.upload[k] + p.infer[p.model[k]] > p.limit[k])

    def reset(self, order: IntArray) -> None:
        """Replace the order by the feasible ``order``."""
        p = self.p
        finish = p.finish(order)
        self.order = order.tolist()
        self.tau = float(p.upload[order].sum())
        self.busy = float(finish[-1]) - self.tau if order.size else 0.0
        self.min_slack = float(np.min(p.limit[order] - finish)) if order.size else np.inf
        self.last = int(p.model[order[-1]]) if order.size else None


@dataclass(frozen=True)
class FrameTiming:
    """The frame timing model (see the module docstring)."""

    name: str = "frame"
    summary: str = "the server starts when the last upload has arrived"

    def bandwidth(self, instance: Instance, order: IntArray, sharing: bool = True) -> FloatArray:
        """Closed-form optimal split ``b_k = B·a_k / Σ_S a`` for the admitted users, in ``order``."""
        work = instance.upload_work[order]
        if order.size == 0:
            return np.zeros(0)
        return float(instance.bandwidth_hz) * work / work.sum()

    def timeline(self, instance: Instance, order: IntArray, sharing: bool = True) -> Timeline:
        """Timeline of serving ``order`` with the closed-form split."""
        memory = SingleModelMemory.of(instance, sharing)
        tau = float(instance.upload_work[order].sum() / float(instance.bandwidth_hz))
        models = instance.user_models[order]
        load = memory.loads(models)
        elapsed = np.cumsum(load + instance.infer_times[models])
        start = tau + np.concatenate(([0.0], elapsed[:-1]))
        loaded, reused = memory.loaded_reused(models, load)
        return Timeline(
            timing=self.name,
            order=order,
            bandwidth=self.bandwidth(instance, order, sharing),
            upload_ends=np.full(order.size, tau),
            load=load,
            start=start,
            infer_start=start + load,
            finish=tau + elapsed,
            deadline=instance.deadlines[order],
            loaded_bytes=loaded,
            reused_bytes=reused,
        )

    def finish_alone(self, instance: Instance, sharing: bool = True) -> FloatArray:
        """Finish of each user served alone: ``a_k/B + ℓ(i0, m_k) + c_{m_k}``."""
        models = instance.user_models
        return instance.upload_times + instance.initial_load(sharing)[models] + instance.infer_times[models]

    def schedule(self, instance: Instance, sharing: bool = True, tolerance_share: float = 0.5) -> FrameSchedule:
        """The incremental arithmetic of the heuristics (see :class:`FrameSchedule`)."""
        return FrameSchedule.build(instance, sharing, tolerance_share)


FRAME = FrameTiming()
"""The frame timing model."""

__all__ = ["EPS", "FRAME", "RELATIVE_TOLERANCE", "Appender", "FrameSchedule", "FrameTiming", "Gaps", "SlackState"]
