"""Timing model ``pipelined``: the GPU loads while the users upload.

Each admitted user ``k`` uploads from time 0 with a constant bandwidth ``b_k``; its input has
arrived at ``u_k = a_k / b_k``. The GPU serves the order ``π`` back to back: the load before
request ``q`` starts when request ``q − 1`` has finished (the first at time 0, during the
uploads), inference starts at ``S_q = max(C_{q−1} + ℓ_q, u_{π_q})`` and ends at
``C_q = S_q + c_q``. Loads never overlap inferences (the GPU holds one model).

For a fixed order the bandwidth drops out (docs/formulation.md proves it). With the machine
alone — no uploads — request ``q`` could start inference at ``E_q = Σ_{r≤q} ℓ_r + Σ_{r<q} c_r``
(so ``D_q = E_q + c_q`` is its machine completion), and the latest inference starts that keep
everyone after it on time are

    L_q = E_q + min_{r ≥ q} (T_r − D_r)

(the backward recursion ``L_n = T_n − c_n``, ``L_q = min(T_q − c_q, L_{q+1} − ℓ_{q+1} − c_q)``
written in closed form). The order is feasible for some split iff ``E_q ≤ L_q`` and ``L_q > 0``
for every ``q`` and ``Σ_q a_{π_q} / L_q ≤ B``; the split reported is
``b_q = B·(a_q/L_q) / Σ_r (a_r/L_r)``, under which every upload ends at the same fraction
``λ = Σ(a/L)/B`` of its latest start. The completion times then follow in one vectorized pass:
``C_q = D_q + max(0, max_{r≤q} (u_r − E_r))``.

Every frame-feasible order is pipelined-feasible (its uploads all end at ``τ ≤ S_q`` of the frame
schedule), so the pipelined optimum is never below the frame optimum.

:class:`PipelinedSchedule` gives the heuristics the same questions and answers as
:class:`~partialloading.timing.frame.FrameSchedule`; its insertion test checks the machine part
of every gap in one O(n) pass (the frame test with no upload phase) and the bandwidth condition
exactly, in O(n), for the gaps in order of machine makespan until one passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from partialloading.arrays import BoolArray, FloatArray, IntArray
from partialloading.memory import Memory, MemoryPlan, loaded_reused, memory_of
from partialloading.tolerance import EPS, deadline_limit

from .arithmetic import ExactAppender, OrderScores, SlackState
from .base import Evictions, Timeline
from .decomposition import Analysis, analyse, replay, split
from .frame import FrameSchedule
from .steps import Batches, Steps, expand_evicted, instance_steps

if TYPE_CHECKING:
    from partialloading.instance import Instance

EXACT_GAP_CHECKS = 3
"""Gaps between the bandwidth bounds checked exactly, in order of machine makespan, per insertion
(then the best gap the upper bound already proves feasible)."""


@dataclass(frozen=True, eq=False)
class PipelinedSchedule(OrderScores):
    """The arrays of one instance and the pipelined schedule arithmetic.

    Attributes
    ----------
    loads, first, infer, limit, weight, model, memory
        As in :class:`~partialloading.timing.frame.FrameSchedule`.
    upload
        ``a_k / B``: each user's upload time with the whole uplink.
    work
        ``a_k`` in Hz·s.
    bandwidth
        ``B`` in Hz.
    """

    loads: FloatArray
    first: FloatArray
    infer: FloatArray
    upload: FloatArray
    work: FloatArray
    bandwidth: float
    limit: FloatArray
    weight: FloatArray
    model: IntArray
    memory: Memory
    scales: FloatArray
    max_batch: IntArray
    machine: FrameSchedule = field(repr=False)

    timing = "pipelined"

    @classmethod
    def build(cls, instance: Instance, tolerance_share: float = 0.5) -> PipelinedSchedule:
        """The arithmetic of ``instance`` (see :meth:`FrameSchedule.build` for ``tolerance_share``)."""
        memory = memory_of(instance)
        limit = deadline_limit(instance.deadlines, tolerance_share)
        machine = FrameSchedule(
            scales=instance.batch_scales,
            max_batch=instance.max_batch,
            loads=memory.matrix,
            first=memory.first,
            infer=instance.user_infer_times,
            upload=np.zeros(instance.num_users),
            limit=limit,
            weight=instance.weights,
            model=instance.user_models,
            memory=memory,
        )
        return cls(
            loads=memory.matrix,
            first=memory.first,
            infer=instance.user_infer_times,
            upload=instance.upload_times,
            work=instance.upload_work,
            bandwidth=float(instance.bandwidth_hz),
            limit=limit,
            weight=instance.weights,
            model=instance.user_models,
            memory=memory,
            scales=instance.batch_scales,
            max_batch=instance.max_batch,
            machine=machine,
        )

    def analysis(self, order: IntArray, evicted: Evictions | None = None, batch: Batches | None = None) -> Analysis:
        """``E``, ``D``, ``L`` and ``Σ a/L`` of ``order`` (against the loosened deadlines), per
        request, or per step (batch) with batch numbers ``batch``."""
        return self._analysed(order, evicted, None if batch is None else self.steps(order, batch))

    def _analysed(self, order: IntArray, evicted: Evictions | None, steps: Steps | None) -> Analysis:
        """:meth:`analysis` of ``order`` in the given ``steps`` (``None``: one request each)."""
        if steps is None:
            loads = self.loads_of(order, evicted)
            return analyse(loads, self.infer[order], self.limit[order], self.work[order])
        loads = self.model_loads(steps.model, steps.evictions(evicted))
        return analyse(loads, steps.time, steps.min_of(self.limit[order]), steps.sum_of(self.work[order]))

    def finish(
        self,
        order: IntArray,
        tau: float | None = None,
        evicted: Evictions | None = None,
        batch: Batches | None = None,
    ) -> FloatArray:
        """Completion of each request under the reported split (``tau`` is not used)."""
        steps = None if batch is None else self.steps(order, batch)
        return replay(self._analysed(order, evicted, steps), self.work[order], self.bandwidth, steps)[2]

    def state(self, order: IntArray) -> SlackState:
        """The bandwidth the feasible ``order`` needs and its machine slack."""
        a = self.analysis(order)
        slack = float(np.min(self.limit[order] - a.machine_finish)) if order.size else np.inf
        return SlackState(0.0, slack, a.load)

    def savings(self, order: IntArray) -> FloatArray:
        """Machine time saved by removing each user of ``order``, plus its upload with the whole
        uplink (a proxy of the bandwidth it frees)."""
        return self.machine.savings(order) + self.upload[order]

    def drop_savings(self, order: IntArray, first_late: int) -> FloatArray:
        """What each user gives the first late request by leaving (see :meth:`FrameSchedule.drop_savings`)."""
        save = self.savings(order)
        save[first_late + 1 :] = self.upload[order[first_late + 1 :]]
        return save

    # ------------------------------------------------------------------ O(1) tests
    def hopeless(self, state: SlackState, k: int) -> bool:
        """Whether ``k`` cannot be on time even when served alone."""
        return not self.alone_ok(k)

    def absorbs(self, state: SlackState, k: int) -> bool:
        """Whether the order of ``state`` could take ``k``'s bandwidth need (a hint)."""
        room = float(self.limit[k] - self.infer[k])
        return room > 0 and state.need + float(self.work[k]) / room <= self.bandwidth

    def alone_ok(self, k: int) -> bool:
        """Whether ``k`` is on time when served alone (necessary for admitting it anywhere)."""
        m = self.model[k]
        return bool(max(self.first[m], self.upload[k]) + self.infer[k] <= self.limit[k])

    def may_insert(self, state: SlackState, k: int) -> bool:
        """Necessary condition, O(1), for inserting ``k``: it is on time alone, and the bandwidth the
        order needs (which insertion never lowers) plus ``a_k/(T_k − c_k)`` fits ``B``."""
        room = float(self.limit[k] - self.infer[k])
        return self.alone_ok(k) and room > 0 and state.need + float(self.work[k]) / room <= self.bandwidth

    def fits_without(self, order: IntArray, k: int) -> BoolArray:
        """For each position ``j`` of ``order``: a necessary condition of swapping ``order[j]`` for ``k``."""
        return np.full(order.size, self.alone_ok(k))

    def appender(self) -> PipelinedAppender | ExactAppender:
        """An empty order that users can be appended to (O(n) test per user)."""
        return PipelinedAppender(self) if self.pairwise else ExactAppender(self)

    # ------------------------------------------------------------------ insertion
    def _best_gap(
        self, rest: IntArray, segment: IntArray, machine_gaps: BoolArray, makespan: FloatArray
    ) -> tuple[int, float, float] | None:
        candidates = np.flatnonzero(machine_gaps)
        if candidates.size == 0:
            return None
        ranked = candidates[np.lexsort((candidates, makespan[candidates]))][:EXACT_GAP_CHECKS]
        best: tuple[int, float, float] | None = None
        for g in ranked.tolist():
            trial = np.concatenate((rest[:g], segment, rest[g:]))
            finish = self.finish(trial)
            if not np.all(finish <= self.limit[trial]):
                continue
            value = (g, float(finish[-1]), float(np.min(self.limit[trial] - finish)))
            if best is None or value[1] < best[1] - EPS or (value[1] <= best[1] + EPS and value[2] > best[2]):
                best = value
            if value[1] <= float(makespan[g]) + EPS:
                break  # nobody waits for an upload: no later-ranked gap can finish earlier
        return best

    def best_admission(
        self, rest: IntArray, segment: IntArray, state: SlackState | None = None
    ) -> tuple[int, float, float] | None:
        """The feasible gap of ``rest`` for the new users ``segment`` with the smallest makespan
        (then the largest slack), with that makespan and slack; ``None`` when none is found.

        Every gap is classified in one vectorized pass: the machine test, then bounds on the
        bandwidth the order would need (:meth:`need_bounds`); only gaps between the bounds get an
        exact O(n) evaluation.
        """
        gaps = self.machine.insertion(rest, 0.0, segment, 0.0)
        if not gaps.ok.any():
            return None
        if not self.pairwise:  # the bandwidth bounds read the load matrix: check gaps exactly
            return self._best_gap(rest, segment, gaps.ok, gaps.makespan)
        low, high = self.need_bounds(rest, segment, gaps.added)
        maybe = gaps.ok & (low <= self.bandwidth)
        best = self._best_gap(rest, segment, maybe, gaps.makespan)
        sure = gaps.ok & (high <= self.bandwidth)
        if best is None and sure.any():
            best = self._best_gap(rest, segment, sure, gaps.makespan)
        return best

    def need_bounds(self, rest: IntArray, segment: IntArray, added: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds, for each gap ``g``, on ``Σ a/L`` of ``rest`` with ``segment``
        inserted before ``rest[g]`` (``added``: the machine time the insertion adds there).

        After the insertion the latest starts of ``rest[g:]`` are unchanged, the segment's follow
        from its machine times, and those before ``g`` become ``E_q + min(Mpre_q, X_g)`` (``Mpre``:
        the minimum slack of ``rest[q:g]``, ``X_g``: that of everything from the gap on): unchanged
        below the last ``q`` whose ``Mpre_q ≤ X_g`` (found for every gap at once by binary
        lifting over a sparse table of minima), ``E_q + X_g`` above it — that part is bounded
        with the smallest and largest ``E_q`` of its range.
        """
        n = rest.size
        a = self.analysis(rest)
        work = self.work[rest]
        sigma = self.limit[rest] - a.machine_finish
        suffix = np.full(n + 1, np.inf)
        if n:
            suffix[:n] = np.minimum.accumulate(sigma[::-1])[::-1]
        seg_models = self.model[segment]
        inner = np.zeros(segment.size)
        inner[1:] = self.loads[seg_models[:-1], seg_models[1:]]
        offsets = np.cumsum(inner + self.infer[segment])
        into = np.empty(n + 1)
        into[0] = self.first[seg_models[0]]
        if n:
            into[1:] = self.loads[self.model[rest], seg_models[0]]
        ready = np.concatenate(([0.0], a.machine_finish)) + into  # gap × segment machine times below
        seg_finish = ready[:, None] + offsets[None, :]
        seg_earliest = seg_finish - self.infer[segment][None, :]
        seg_slack = self.limit[segment][None, :] - seg_finish
        tail = suffix - added
        room = np.minimum(np.minimum.accumulate(seg_slack[:, ::-1], axis=1)[:, ::-1], tail[:, None])
        seg_latest = seg_earliest + room
        with np.errstate(divide="ignore"):
            seg_need = np.where(
                np.all(seg_latest > 0, axis=1), np.sum(self.work[segment][None, :] / seg_latest, axis=1), np.inf
            )
        x = room[:, 0]
        # t(g): 1 + the last q < g with slack ≤ X_g (0 when none), by binary lifting.
        length = np.zeros(n + 1, dtype=np.int64)
        gaps = np.arange(n + 1)
        tables = [sigma]
        while (1 << len(tables)) <= n:
            prev, half = tables[-1], 1 << (len(tables) - 1)
            tables.append(np.minimum(prev[:-half], prev[half:]))
        for level in range(len(tables) - 1, -1, -1):
            cand = length + (1 << level)
            start = gaps - cand
            valid = start >= 0
            window = np.full(n + 1, -np.inf)
            window[valid] = tables[level][start[valid]]
            grow = valid & (window > x)
            length[grow] = cand[grow]
        t = gaps - length
        with np.errstate(divide="ignore"):
            inverse = np.where(a.latest > 0, work / a.latest, np.inf)
        before = np.concatenate(([0.0], np.cumsum(inverse)))
        cum_work = np.concatenate(([0.0], np.cumsum(work)))
        middle_work = cum_work[gaps] - cum_work[t]
        earliest = np.concatenate((a.earliest, [np.inf]))
        lo_e = earliest[np.minimum(t, n)]
        hi_e = np.concatenate(([np.inf], a.earliest))[gaps]  # E of the last user before the gap
        has_middle = length > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            upper_mid = np.where(has_middle, np.where(lo_e + x > 0, middle_work / (lo_e + x), np.inf), 0.0)
            lower_mid = np.where(has_middle, np.where(hi_e + x > 0, middle_work / (hi_e + x), np.inf), 0.0)
        with np.errstate(invalid="ignore"):  # an infeasible rest (some L ≤ 0) needs inf anyway
            after = before[n] - before[gaps]
            fixed = before[t] + seg_need + after
        return fixed + lower_mid, fixed + upper_mid

    def best_relocation(self, rest: IntArray, segment: IntArray) -> tuple[int, float, float] | None:
        """:meth:`best_admission` for admitted users (``segment``) taken out of ``rest``."""
        return self.best_admission(rest, segment)

    def added_processing(self, order: IntArray, k: int) -> FloatArray:
        """Machine time that inserting ``k`` at each gap of ``order`` adds in front of the rest."""
        return self.machine.added_processing(order, k)


class PipelinedAppender:
    """An order built by appending users; each test is one O(n) numpy pass (the latest starts of
    everyone already admitted may fall)."""

    def __init__(self, schedule: PipelinedSchedule) -> None:
        self.p = schedule
        self.order: list[int] = []
        size = schedule.num_users
        self._earliest = np.empty(size)
        self._room = np.empty(size)  # per position: min over the suffix of limit − D
        self._work = np.empty(size)
        self.busy = 0.0  # machine completion of the last request
        self.last: int | None = None
        self.need = 0.0  # Σ a/L

    @property
    def tau(self) -> float:
        """Time before which no request can start without its upload: 0 (the GPU starts at once)."""
        return 0.0

    @property
    def min_slack(self) -> float:
        """Smallest machine slack of the order (``inf`` when empty)."""
        return float(self._room[0]) if self.order else np.inf

    @property
    def makespan(self) -> float:
        """Completion of the last request under the reported split."""
        return float(self.p.finish(np.asarray(self.order, dtype=np.int64))[-1]) if self.order else 0.0

    def next_load(self, k: int) -> float:
        """Loading time of ``k`` if appended now."""
        m = int(self.p.model[k])
        return float(self.p.first[m] if self.last is None else self.p.loads[self.last, m])

    def _trial(self, k: int) -> tuple[float, float, float] | None:
        p = self.p
        start = self.busy + self.next_load(k)
        own = float(p.limit[k]) - (start + float(p.infer[k]))
        if own < 0 or start + own <= 0:
            return None
        n = len(self.order)
        need = float(p.work[k]) / (start + own)
        if n:
            latest = self._earliest[:n] + np.minimum(self._room[:n], own)
            if latest.min() <= 0:
                return None
            need += float(np.sum(self._work[:n] / latest))
        if need > p.bandwidth:
            return None
        return start, own, need

    def fits(self, k: int) -> bool:
        """Whether appending ``k`` keeps everyone on time."""
        return self._trial(k) is not None

    def absorbs(self, k: int) -> bool:
        """Whether the current order could take ``k``'s bandwidth need (a heuristic hint)."""
        return self.p.absorbs(SlackState(0.0, self.min_slack, self.need), k)

    def hopeless(self, k: int) -> bool:
        """Whether ``k`` cannot be on time even when served alone."""
        return self.p.hopeless(SlackState(0.0, self.min_slack, self.need), k)

    def append(self, k: int) -> None:
        """Append ``k`` (the caller has checked :meth:`fits`)."""
        trial = self._trial(k)
        if trial is None:  # pragma: no cover - guarded by fits()
            raise ValueError("appending an infeasible user")
        start, own, need = trial
        n = len(self.order)
        np.minimum(self._room[:n], own, out=self._room[:n])
        self._room[n] = own
        self._earliest[n] = start
        self._work[n] = self.p.work[k]
        self.order.append(k)
        self.busy = start + float(self.p.infer[k])
        self.last = int(self.p.model[k])
        self.need = need

    def reset(self, order: IntArray) -> None:
        """Replace the order by the feasible ``order``."""
        a = self.p.analysis(order)
        n = order.size
        self.order = order.tolist()
        self._earliest[:n] = a.earliest
        self._room[:n] = a.latest - a.earliest
        self._work[:n] = self.p.work[order]
        self.busy = float(a.machine_finish[-1]) if n else 0.0
        self.last = int(self.p.model[order[-1]]) if n else None
        self.need = a.load


@dataclass(frozen=True)
class PipelinedTiming:
    """The pipelined timing model (see the module docstring)."""

    name: str = "pipelined"
    summary: str = "the GPU loads while users upload; each request starts when its own input is there"

    def _parts(
        self, instance: Instance, order: IntArray, evicted: Evictions | None, batch: Batches | None
    ) -> tuple[Memory, Steps, MemoryPlan, Analysis]:
        memory = memory_of(instance)
        steps = instance_steps(instance, order, batch)
        plan = memory.plan(steps.model, steps.evictions(evicted))
        deadline = steps.min_of(instance.deadlines[order])
        parts = analyse(plan.load, steps.time, deadline, steps.sum_of(instance.upload_work[order]))
        return memory, steps, plan, parts

    def bandwidth(
        self, instance: Instance, order: IntArray, evicted: Evictions | None = None, batch: Batches | None = None
    ) -> FloatArray:
        """The split ``b ∝ a/L`` (every upload ends at the same fraction of its latest start;
        a batch's members share their batch's ``L``)."""
        _, steps, _, parts = self._parts(instance, order, evicted, batch)
        return split(instance.upload_work[order], steps.expand(parts.latest), float(instance.bandwidth_hz))

    def timeline(
        self, instance: Instance, order: IntArray, evicted: Evictions | None = None, batch: Batches | None = None
    ) -> Timeline:
        """Timeline of serving ``order`` with :meth:`bandwidth` (``evicted`` and ``batch``: see the
        frame model). A batch starts when its load is done and its last member's upload has
        arrived: ``S_q = max(C_{q−1} + ℓ_q, max_{k∈β_q} u_k)``, ``C_q = S_q + t_q``."""
        memory, steps, plan, parts = self._parts(instance, order, evicted, batch)
        load = plan.load
        bandwidth, uploads, finish = replay(parts, instance.upload_work[order], float(instance.bandwidth_hz), steps)
        step_finish = finish[steps.first]
        start = np.concatenate(([0.0], step_finish[:-1])) if order.size else np.zeros(0)
        loaded, reused = loaded_reused(memory, steps.model, load)
        return Timeline(
            timing=self.name,
            order=order,
            bandwidth=bandwidth,
            upload_ends=uploads,
            load=steps.expand(load),
            start=steps.expand(start),
            infer_start=steps.expand(step_finish - steps.time),
            finish=finish,
            deadline=instance.deadlines[order],
            loaded_bytes=steps.on_first(loaded),
            reused_bytes=steps.on_first(reused),
            evicted=expand_evicted(steps, plan.evicted),
            resident_bytes=steps.expand(plan.resident_bytes),
            resident_after=plan.final,
            batch=steps.of,
        )

    def finish_alone(self, instance: Instance) -> FloatArray:
        """Finish of each user served alone with the whole uplink: ``max(ℓ(i0, m_k), a_k/B) + c_k``."""
        models = instance.user_models
        first = memory_of(instance).first[models]
        return np.maximum(first, instance.upload_times) + instance.user_infer_times

    def schedule(self, instance: Instance, tolerance_share: float = 0.5) -> PipelinedSchedule:
        """The incremental arithmetic of the heuristics (see :class:`PipelinedSchedule`)."""
        return PipelinedSchedule.build(instance, tolerance_share)


PIPELINED = PipelinedTiming()
"""The pipelined timing model."""
