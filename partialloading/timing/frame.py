"""Timing model ``frame`` (the default): the server starts when the last upload has arrived.

Every admitted user uploads from time 0 with its share of the uplink; the server starts at
``τ = max_k a_k / b_k`` and serves the requests back to back, each loading the blocks its model
is missing, then running inference. For a fixed admitted set ``S`` the smallest ``τ`` any split
achieves is ``τ* = Σ_{k∈S} a_k / B``, reached by ``b_k = B·a_k / Σ_S a`` (all uploads end
together; no split ends earlier because ``max_k a_k/b_k ≥ Σ a_k / Σ b_k ≥ Σ a_k / B``). So
admitting user ``k`` delays everybody by exactly ``a_k / B``: this one fact is the whole
incremental arithmetic of the heuristics below.

This module and the branch-and-bound's labels (:mod:`partialloading.solvers.bnb`) are the only
places outside the independent verifier and the exact formulations where the frame rule is
written down. :class:`FrameSchedule` holds the arrays of one instance and answers every question
the heuristics ask (finish times, slack, the O(1) append test, the vectorized test of every
insertion gap); the loads come from the instance's memory model, and the O(1) and vectorized
tests are those of pairwise memories (any other memory is evaluated whole orders at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from partialloading.arrays import BoolArray, FloatArray, IntArray
from partialloading.memory import Memory, loaded_reused, memory_of
from partialloading.tolerance import EPS, deadline_limit

from .arithmetic import BatchAppender, BatchAppending, ExactAppender, Gaps, OrderScores, SlackState
from .base import Evictions, Timeline
from .steps import Batches, expand_evicted, instance_steps

if TYPE_CHECKING:
    from partialloading.instance import Instance


@dataclass(frozen=True, eq=False)
class FrameSchedule(OrderScores):
    """The arrays of one instance and the frame schedule arithmetic.

    Attributes
    ----------
    loads
        ``ℓ[from model, to model]`` in seconds.
    first
        Loading time of each model when it is served first.
    infer
        Inference time ``c_k`` of each user's request (its own, else its model's).
    upload
        ``a_k / B`` of each user: what admitting it adds to the upload phase.
    limit
        Deadline of each user, loosened by a share of the evaluator's relative tolerance.
    weight
        Weight of each user.
    model
        Model index of each user.
    memory
        The instance's memory model (its :attr:`~partialloading.memory.Memory.matrix` is
        :attr:`loads`).
    scales, max_batch
        Each model's batch table as ``t_i(b) / t_i(1)``, and its largest batch.
    """

    loads: FloatArray
    first: FloatArray
    infer: FloatArray
    upload: FloatArray
    limit: FloatArray
    weight: FloatArray
    model: IntArray
    memory: Memory
    scales: FloatArray
    max_batch: IntArray

    timing = "frame"

    @classmethod
    def build(cls, instance: Instance, tolerance_share: float = 0.5) -> FrameSchedule:
        """The arithmetic of ``instance``.

        Parameters
        ----------
        tolerance_share
            Share of :data:`RELATIVE_TOLERANCE` by which deadlines are loosened. Heuristics use
            half (the other half absorbs the different summation order of :func:`timeline`);
            searches whose orders are re-evaluated anyway use all of it.
        """
        memory = memory_of(instance)
        return cls(
            scales=instance.batch_scales,
            max_batch=instance.max_batch,
            loads=memory.matrix,
            first=memory.first,
            infer=instance.user_infer_times,
            upload=instance.upload_times,
            limit=deadline_limit(instance.deadlines, tolerance_share),
            weight=instance.weights,
            model=instance.user_models,
            memory=memory,
        )

    # ------------------------------------------------------------------ whole orders
    def finish(
        self,
        order: IntArray,
        tau: float | None = None,
        evicted: Evictions | None = None,
        batch: Batches | None = None,
    ) -> FloatArray:
        """Completion time of each request of ``order`` (``tau``: upload phase, default ``Σ a/B``;
        ``batch``: batch numbers, ``None``: one request per batch)."""
        if tau is None:
            tau = float(self.upload[order].sum())
        if batch is None:
            return tau + np.cumsum(self.loads_of(order, evicted) + self.infer[order])
        steps = self.steps(order, batch)
        load = self.model_loads(steps.model, steps.evictions(evicted))
        return steps.expand(tau + np.cumsum(load + steps.time))

    def state(self, order: IntArray) -> SlackState:
        """Upload phase and minimum slack of the feasible ``order``."""
        tau = float(self.upload[order].sum())
        return SlackState(tau, self.min_slack(order, tau))

    def savings(self, order: IntArray) -> FloatArray:
        """Makespan saved by removing each user of ``order`` (upload, inference and load change;
        with the memory's pairwise estimate of the loads when they are not pairwise)."""
        m = self.model[order]
        load = self.loads_of(order)
        save = self.upload[order] + load + self.infer[order]
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
    def hopeless(self, state: SlackState, k: int) -> bool:
        """Whether ``k`` is late even when served first right after the upload phase of ``state``."""
        return bool(state.tau + self.upload[k] + self.infer[k] > self.limit[k])

    def absorbs(self, state: SlackState, k: int) -> bool:
        """Whether every user of ``state``'s order can absorb ``k``'s upload."""
        return bool(state.min_slack >= self.upload[k])

    def alone_ok(self, k: int) -> bool:
        """Whether ``k`` can be on time right after the upload phase of itself alone (necessary)."""
        return bool(self.upload[k] + self.first[self.model[k]] + self.infer[k] <= self.limit[k])

    def may_insert(self, state: SlackState, k: int) -> bool:
        """Necessary condition, O(1), for inserting ``k`` somewhere in the order of ``state``:
        the admitted users absorb its upload and it fits right after the upload phase."""
        delta = float(self.upload[k])
        return not (state.min_slack < delta or state.tau + delta + float(self.infer[k]) > self.limit[k])

    def fits_without(self, order: IntArray, k: int) -> BoolArray:
        """For each position ``j`` of ``order``: can ``k`` start on time after the upload phase
        once ``order[j]`` is removed (a necessary condition of swapping them)?"""
        tau = float(self.upload[order].sum())
        return np.asarray(tau - self.upload[order] + float(self.upload[k]) + float(self.infer[k]) <= self.limit[k])

    def appender(self) -> Appender | ExactAppender:
        """An empty order that users can be appended to (the O(1) frame test with pairwise loads)."""
        return Appender(self) if self.pairwise else ExactAppender(self)

    def batch_appender(self) -> BatchAppending:
        """An empty order that users can be appended to in batches (joining the last batch or
        opening one): the O(1) frame test with pairwise loads, else whole evaluations."""
        return BatchTail(self) if self.pairwise else BatchAppender(self)

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
        if not self.pairwise:
            return self.exact_gaps(rest, segment)  # the uploads follow the order: ``tau`` is theirs
        n = rest.size
        seg_models = self.model[segment]
        inner = np.zeros(segment.size)
        inner[1:] = self.loads[seg_models[:-1], seg_models[1:]]
        offsets = np.cumsum(inner + self.infer[segment])
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
            finish = tau + np.cumsum(load + self.infer[rest])
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

    def added_processing(self, order: IntArray, k: int) -> FloatArray:
        """Processing time that inserting ``k`` at each gap of ``order`` adds in front of the rest."""
        return self.insertion(order, float(self.upload[order].sum()), np.array([k]), float(self.upload[k])).added


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
        delta = float(p.upload[k])
        step = self.next_load(k) + float(p.infer[k])
        finish = self.tau + delta + self.busy + step
        return bool(finish <= p.limit[k] and self.min_slack >= delta)

    def append(self, k: int) -> None:
        """Append ``k`` (the caller has checked :meth:`fits`)."""
        p = self.p
        m = int(p.model[k])
        delta = float(p.upload[k])
        step = self.next_load(k) + float(p.infer[k])
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
        return self.p.absorbs(SlackState(self.tau, self.min_slack), k)

    def hopeless(self, k: int) -> bool:
        """Whether ``k`` cannot be on time even when served first after this order's uploads."""
        return self.p.hopeless(SlackState(self.tau, self.min_slack), k)

    def reset(self, order: IntArray) -> None:
        """Replace the order by the feasible ``order``."""
        p = self.p
        finish = p.finish(order)
        self.order = order.tolist()
        self.tau = float(p.upload[order].sum())
        self.busy = float(finish[-1]) - self.tau if order.size else 0.0
        self.min_slack = float(np.min(p.limit[order] - finish)) if order.size else np.inf
        self.last = int(p.model[order[-1]]) if order.size else None


class BatchTail:
    """:class:`~partialloading.timing.arithmetic.BatchAppender` with the frame test in O(1) per user
    (pairwise loads).

    The last batch stays open. Its members finish together at ``τ + busy + load + t``; admitting
    ``k`` delays everyone by ``a_k/B``; joining the open batch lengthens it to
    ``max c · s(b+1)``, which only its members feel; opening a batch closes it, whose members'
    slack is then ``d − finish`` (``d``: its earliest deadline). So ``k`` fits when the closed
    batches' least slack absorbs its upload and the batch it ends up in finishes by its
    earliest deadline.
    """

    def __init__(self, schedule: FrameSchedule) -> None:
        self.p = schedule
        self.order: list[int] = []
        self.batch: list[int] = []
        self.tau = 0.0
        self.closed = 0.0  # processing time of the closed batches (their loads and inferences)
        self.closed_slack = np.inf
        # The open batch: model, members, longest member's time, earliest deadline, load, time.
        self.last: int | None = None
        self.size = 0
        self.longest = 0.0
        self.due = np.inf
        self.load = 0.0
        self.time = 0.0
        self._trial: tuple[int, tuple[bool, float] | None] | None = None  # the last k tested

    def _options(self, k: int) -> tuple[bool, float] | None:
        """``(joins the open batch, finish)`` of the better way to append ``k``, or ``None``
        (remembered for ``k`` until the order changes: ``fits`` then ``append`` test it once)."""
        if self._trial is not None and self._trial[0] == k:
            return self._trial[1]
        p = self.p
        m = int(p.model[k])
        delta, c, limit = float(p.upload[k]), float(p.infer[k]), float(p.limit[k])
        best: tuple[bool, float] | None = None
        if self.last == m and self.size < int(p.max_batch[m]):
            time = max(self.longest, c) * float(p.scales[m, self.size])
            finish = self.tau + delta + self.closed + self.load + time
            if self.closed_slack >= delta and finish <= min(self.due, limit):
                best = (True, finish)
        load = float(p.first[m] if self.last is None else p.loads[self.last, m])
        end = self.tau + self.closed + self.load + self.time  # the open batch's finish
        finish = end + delta + load + c
        opens = min(self.closed_slack, self.due - end) >= delta and finish <= limit
        if opens and (best is None or finish < best[1]):
            best = (False, finish)
        self._trial = (k, best)
        return best

    def fits(self, k: int) -> bool:
        """Whether appending ``k`` (in the last batch or a new one) keeps everyone on time."""
        return self._options(k) is not None

    def append(self, k: int) -> None:
        """Append ``k`` the better way (the caller has checked :meth:`fits`)."""
        best = self._options(k)
        if best is None:
            raise ValueError(f"user {k} does not fit")
        p = self.p
        m, c = int(p.model[k]), float(p.infer[k])
        delta = float(p.upload[k])
        if best[0]:
            self.size += 1
            self.longest = max(self.longest, c)
            self.due = min(self.due, float(p.limit[k]))
            self.time = self.longest * float(p.scales[m, self.size - 1])
            self.closed_slack -= delta
            self.batch.append(self.batch[-1])
        else:
            end = self.tau + self.closed + self.load + self.time
            self.closed_slack = min(self.closed_slack, self.due - end) - delta
            self.closed += self.load + self.time
            self.load = float(p.first[m] if self.last is None else p.loads[self.last, m])
            self.last, self.size, self.longest, self.due, self.time = m, 1, c, float(p.limit[k]), c
            self.batch.append(self.batch[-1] + 1 if self.batch else 0)
        self.tau += delta
        self.order.append(k)
        self._trial = None


@dataclass(frozen=True)
class FrameTiming:
    """The frame timing model (see the module docstring)."""

    name: str = "frame"
    summary: str = "the server starts when the last upload has arrived"

    def bandwidth(
        self, instance: Instance, order: IntArray, evicted: Evictions | None = None, batch: Batches | None = None
    ) -> FloatArray:
        """Closed-form optimal split ``b_k = B·a_k / Σ_S a`` for the admitted users, in ``order``
        (the same with batches: every upload ends at ``τ``)."""
        work = instance.upload_work[order]
        if order.size == 0:
            return np.zeros(0)
        # B·a_k first (the usual rounding); where that overflows (B near the float limit), B·(a_k/Σa).
        with np.errstate(over="ignore"):
            split = float(instance.bandwidth_hz) * work / work.sum()
        return split if np.all(np.isfinite(split)) else float(instance.bandwidth_hz) * (work / work.sum())

    def timeline(
        self, instance: Instance, order: IntArray, evicted: Evictions | None = None, batch: Batches | None = None
    ) -> Timeline:
        """Timeline of serving ``order`` with the closed-form split (``evicted``: the blocks evicted
        before each request; ``None``: the memory's default rule; ``batch``: the batch number of
        each request, ``None``: one request per batch).

        Each step (batch) loads what its model misses and runs one inference; all its members
        finish together: ``C_q = τ + Σ_{r≤q} (ℓ_r + t_r)``.
        """
        memory = memory_of(instance)
        tau = float(instance.upload_work[order].sum() / float(instance.bandwidth_hz))
        steps = instance_steps(instance, order, batch)
        plan = memory.plan(steps.model, steps.evictions(evicted))
        load = plan.load
        elapsed = np.cumsum(load + steps.time)
        start = tau + np.concatenate(([0.0], elapsed[:-1]))
        loaded, reused = loaded_reused(memory, steps.model, load)
        return Timeline(
            timing=self.name,
            order=order,
            bandwidth=self.bandwidth(instance, order),
            upload_ends=np.full(order.size, tau),
            load=steps.expand(load),
            start=steps.expand(start),
            infer_start=steps.expand(start + load),
            finish=steps.expand(tau + elapsed),
            deadline=instance.deadlines[order],
            loaded_bytes=steps.on_first(loaded),
            reused_bytes=steps.on_first(reused),
            evicted=expand_evicted(steps, plan.evicted),
            resident_bytes=steps.expand(plan.resident_bytes),
            resident_after=plan.final,
            batch=steps.of,
        )

    def finish_alone(self, instance: Instance) -> FloatArray:
        """Finish of each user served alone: ``a_k/B + ℓ(i0, m_k) + c_k``."""
        models = instance.user_models
        return instance.upload_times + memory_of(instance).first[models] + instance.user_infer_times

    def schedule(self, instance: Instance, tolerance_share: float = 0.5) -> FrameSchedule:
        """The incremental arithmetic of the heuristics (see :class:`FrameSchedule`)."""
        return FrameSchedule.build(instance, tolerance_share)


FRAME = FrameTiming()
"""The frame timing model."""

__all__ = ["FRAME", "Appender", "FrameSchedule", "FrameTiming"]
