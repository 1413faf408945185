"""Schedule arithmetic and the improvement phase of the greedy heuristic (``method="greedy"``).

:class:`Problem` holds the arrays of one sharing mode and evaluates orders with numpy (the
frame timeline is a cumulative sum, O(n)). Its central primitive, :meth:`Problem.insertion`,
checks *every* position at which a segment of users could be inserted into an order in one
vectorized O(n) pass: with ``slack = limit − finish`` of the current order, inserting a segment
that adds ``δ`` to the upload phase and ``added[g]`` to the processing before the users at
positions ``≥ g`` is feasible iff ``min(slack[:g]) ≥ δ``, ``min(slack[g:]) ≥ δ + added[g]`` and
the segment itself is on time. Removing users never makes anyone late (the load times satisfy
the triangle inequality, see :mod:`partialloading.solvers.enumeration`), so relocation =
removal + insertion needs only the insertion test.

:func:`improve` is a deterministic first-improvement local search on the lexicographic score
(served weight ↑, makespan ↓, minimum slack ↑): insert rejected users; insert a rejected user
while ejecting one admitted user; force a rejected user in (rebuild the order, or drop users by
the drop rule) and refill; remove one admitted user and refill ("one out, any in"); relocate
segments (one model visit — a maximal run of users of one model —, two or three consecutive
visits, or a single user). Every accepted move strictly improves the score, so the search
terminates; its effort is counted in evaluated positions, which keeps the result independent of
the machine's speed (a wall-clock cut exists only as a safety net when the caller sets a time
limit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from partialloading.evaluate import RELATIVE_TOLERANCE
from partialloading.instance import FloatArray, Instance, IntArray

EPS = 1e-12
"""Smallest makespan decrease (seconds) that counts as an improvement."""

OVERHEAD = 300
"""Effort charged per vectorized evaluation on top of its length (the fixed cost of a numpy pass)."""

RESEQUENCE_MAX_USERS = 200
"""Rebuilding an order by best insertion (O(n²)) is tried up to this many admitted users."""

BoolArray = npt.NDArray[np.bool_]


class Gaps(NamedTuple):
    """Outcome of inserting a segment at each gap of an order (see :meth:`Problem.insertion`)."""

    ok: BoolArray
    added: FloatArray
    makespan: FloatArray
    min_slack: FloatArray


@dataclass(frozen=True, eq=False)
class Problem:
    """The arrays of one instance under one sharing mode.

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
        Deadline of each user, loosened by half the evaluator's relative tolerance (the other
        half absorbs the different summation order of :func:`partialloading.evaluate.evaluate`).
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

    @classmethod
    def build(cls, instance: Instance, sharing: bool) -> Problem:
        """The problem of ``instance`` with (``sharing=True``) or without parameter sharing."""
        return cls(
            loads=np.ascontiguousarray(instance.load_matrix(sharing)),
            first=np.asarray(instance.initial_load(sharing)),
            infer=instance.infer_times,
            upload=instance.upload_times,
            limit=instance.deadlines * (1.0 + 0.5 * RELATIVE_TOLERANCE),
            weight=instance.weights,
            model=instance.user_models,
        )

    @property
    def num_users(self) -> int:
        """Number of users."""
        return int(self.model.size)

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

    def feasible(self, order: IntArray) -> bool:
        """Whether every user of ``order`` is on time."""
        return bool(np.all(self.finish(order) <= self.limit[order]))

    def score(self, order: IntArray) -> tuple[float, float, float]:
        """``(served weight, −makespan, minimum slack)``: larger is better (see :func:`better`)."""
        if order.size == 0:
            return 0.0, 0.0, np.inf
        finish = self.finish(order)
        return float(self.weight[order].sum()), -float(finish[-1]), float(np.min(self.limit[order] - finish))

    def savings(self, order: IntArray) -> FloatArray:
        """Makespan saved by removing each user of ``order`` (upload, inference and load change)."""
        p = self
        m = p.model[order]
        load = p.loads_of(order)
        save = p.upload[order] + load + p.infer[m]
        n = order.size
        if n > 1:
            # Removing position q joins q-1 and q+1: the load of q+1 changes.
            bridge = np.empty(n - 1)
            bridge[0] = p.first[m[1]]
            bridge[1:] = p.loads[m[:-2], m[2:]]
            save[:-1] += load[1:] - bridge
        return save

    def drop_until_feasible(self, order: IntArray, max_weight: float = np.inf) -> IntArray | None:
        """Drop users until everyone is on time: each time the one saving most time per weight.

        Users up to the first late position save their whole time; users after it only their
        upload (that is all that delays the late user). Returns ``None`` as soon as the dropped
        weight exceeds ``max_weight`` (the caller would reject the result anyway).
        """
        dropped = 0.0
        while order.size:
            finish = self.finish(order)
            late = np.flatnonzero(finish > self.limit[order])
            if late.size == 0:
                break
            first_late = int(late[0])
            save = self.savings(order)
            save[first_late + 1 :] = self.upload[order[first_late + 1 :]]
            ratio = save / self.weight[order]
            # Ties: the latest position (the newest user).
            q = int(order.size - 1 - np.argmax(ratio[::-1]))
            dropped += float(self.weight[order[q]])
            if dropped > max_weight * (1.0 + 1e-12):
                return None
            order = np.delete(order, q)
        return order

    def insert_all(self, seq: IntArray, order: IntArray | None = None, budget: Budget | None = None) -> IntArray:
        """Insert the users of ``seq``, in that order, each at the feasible position that lengthens
        the schedule least (users that fit nowhere are skipped), into ``order`` (default: empty).
        Each O(n) evaluation is charged to ``budget``; when it runs out the rest is skipped."""
        order = np.zeros(0, dtype=np.int64) if order is None else order
        tau = float(self.upload[order].sum())
        min_slack = float(np.min(self.limit[order] - self.finish(order, tau))) if order.size else np.inf
        for k in seq.tolist():
            delta = float(self.upload[k])
            if min_slack < delta or tau + delta + float(self.infer[self.model[k]]) > self.limit[k]:
                continue
            if budget is not None and not budget.spend(order.size + OVERHEAD):
                break
            best = self.best_insertion(order, tau, np.array([k]), delta)
            if best is None:
                continue
            g = best[0]
            order = np.concatenate((order[:g], [k], order[g:]))
            tau += delta
            min_slack = float(np.min(self.limit[order] - self.finish(order, tau)))
        return order

    def insertion(self, rest: IntArray, tau: float, segment: IntArray, delta: float) -> Gaps:
        """Every position at which ``segment`` can be inserted into ``rest``.

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

    def min_slack(self, order: IntArray) -> float:
        """Smallest ``limit − finish`` over ``order`` (``inf`` when empty)."""
        return float(np.min(self.limit[order] - self.finish(order))) if order.size else np.inf


def visits(problem: Problem, order: IntArray) -> IntArray:
    """Start positions of the maximal runs of one model in ``order`` (plus ``len(order)``)."""
    if order.size == 0:
        return np.zeros(1, dtype=np.int64)
    m = problem.model[order]
    cuts = np.flatnonzero(m[1:] != m[:-1]) + 1
    return np.concatenate(([0], cuts, [order.size])).astype(np.int64)


@dataclass
class Budget:
    """Effort bound of the local search, in evaluated positions, with an optional wall-clock cut.

    Attributes
    ----------
    effort
        Evaluated positions left; each vectorized evaluation of an order of length ``n`` costs
        ``n + 1``. Machine-independent, so the search is deterministic.
    deadline
        ``time.perf_counter()`` value after which the search stops (``None``: no cut).
    """

    effort: float
    deadline: float | None = None
    timed_out: bool = field(default=False)

    def spend(self, amount: float) -> bool:
        """Charge ``amount``; ``False`` when the budget is exhausted."""
        self.effort -= amount
        if self.effort < 0:
            return False
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self.timed_out = True
            return False
        return True


@dataclass
class Stats:
    """Counts of accepted moves."""

    inserted: int = 0
    forced: int = 0
    ejected: int = 0
    swapped: int = 0
    relocated: int = 0
    rounds: int = 0

    def total(self) -> int:
        """Number of accepted moves."""
        return self.inserted + self.forced + self.ejected + self.swapped + self.relocated


def better_score(sa: tuple[float, float, float], sb: tuple[float, float, float]) -> bool:
    """Whether score ``sa`` is strictly better than ``sb``: more weight; as much weight and a
    shorter makespan; or as much weight, the same makespan and a larger minimum slack (room to
    admit more users). Ties within tolerances are not improvements."""
    tol = 1e-12 * max(1.0, abs(sb[0]))
    if sa[0] > sb[0] + tol:
        return True
    if sa[0] < sb[0] - tol:
        return False
    if sa[1] > sb[1] + EPS:
        return True
    if sa[1] < sb[1] - EPS:
        return False
    return sa[2] > sb[2] + EPS


def better(p: Problem, a: IntArray, b: IntArray) -> bool:
    """Whether order ``a`` scores strictly better than order ``b`` (see :func:`better_score`)."""
    return better_score(p.score(a), p.score(b))


class LocalSearch:
    """First-improvement local search on :meth:`Problem.score` (see the module docstring)."""

    def __init__(self, problem: Problem, budget: Budget, *, eject_candidates: int = 12) -> None:
        self.p = problem
        self.budget = budget
        self.eject_candidates = eject_candidates
        self.stats = Stats()

    # --------------------------------------------------------------------- moves
    def insert_rejected(self, order: IntArray) -> tuple[IntArray, bool]:
        """Insert rejected users (heaviest, then earliest deadline first) at their best position."""
        p = self.p
        changed = False
        tau = float(p.upload[order].sum())
        min_slack = self._min_slack(order, tau)
        for k in self._rejected(order):
            delta = float(p.upload[k])
            # Necessary conditions, O(1): the admitted users absorb k's upload and k fits
            # right after the upload phase.
            if min_slack < delta or tau + delta + float(p.infer[p.model[k]]) > p.limit[k]:
                continue
            if not self.budget.spend(order.size + OVERHEAD):
                break
            best = p.best_insertion(order, tau, np.array([k]), delta)
            if best is not None:
                g = best[0]
                order = np.concatenate((order[:g], [k], order[g:]))
                tau += delta
                min_slack = self._min_slack(order, tau)
                self.stats.inserted += 1
                changed = True
        return order, changed

    def eject(self, order: IntArray) -> tuple[IntArray, bool]:
        """Insert a rejected user while removing one admitted user, when that improves the score."""
        p = self.p
        changed = False
        if order.size == 0:
            return order, False
        saving = p.savings(order)
        for k in self._rejected(order):
            k = int(k)
            if np.any(order == k):
                continue  # admitted meanwhile by a re-insertion after an ejection
            tau = float(p.upload[order].sum())
            wk = float(p.weight[k])
            delta = float(p.upload[k])
            # Candidates: users no heavier than k whose removal lets k start on time after the
            # upload phase, the biggest savers per weight first.
            w = p.weight[order]
            own = tau - p.upload[order] + delta + float(p.infer[p.model[k]]) <= p.limit[k]
            allowed = np.flatnonzero((w <= wk) & own)
            if allowed.size == 0:
                continue
            current = p.score(order)
            ratio = saving[allowed] / w[allowed]
            ranked = allowed[np.lexsort((allowed, -ratio))][: self.eject_candidates]
            for j in ranked:
                if not self.budget.spend(order.size + OVERHEAD):
                    return order, changed
                rest = np.delete(order, j)
                best = p.best_insertion(rest, tau - float(p.upload[order[j]]), np.array([k]), delta)
                if best is None:
                    continue
                g, makespan, slack = best
                value = current[0] - float(p.weight[order[j]]) + wk
                if better_score((value, -makespan, slack), current):
                    order = np.concatenate((rest[:g], [k], rest[g:]))
                    self.stats.ejected += 1
                    changed = True
                    # A freed user may fit elsewhere now.
                    order, _ = self.insert_rejected(order)
                    saving = p.savings(order)
                    break
        return order, changed

    def force(self, order: IntArray) -> tuple[IntArray, bool]:
        """Insert a rejected user even if others become late, drop users (most time saved per
        weight first) until all are on time, re-insert rejected users; keep it if it scores better.

        The insertion is tried at the earliest-deadline position and at the cheapest position.
        """
        p = self.p
        changed = False
        for k in self._rejected(order):
            k = int(k)
            if np.any(order == k) or p.upload[k] + p.first[p.model[k]] + p.infer[p.model[k]] > p.limit[k]:
                continue
            if not self.budget.spend(order.size + OVERHEAD):
                break
            tau = float(p.upload[order].sum())
            fixed = self.resequence(order, k)
            if fixed is not None:
                order = fixed
                self.stats.forced += 1
                changed = True
                continue
            added = p.insertion(order, tau, np.array([k]), float(p.upload[k])).added
            gaps = {int(np.searchsorted(p.limit[order], p.limit[k], side="right")), int(np.argmin(added))}
            for g in sorted(gaps):
                trial = p.drop_until_feasible(np.concatenate((order[:g], [k], order[g:])))
                if trial is None or not self.budget.spend((order.size + OVERHEAD) * (order.size + 1 - trial.size)):
                    continue
                if not np.any(trial == k):
                    continue
                trial, _ = self.insert_rejected(trial)
                if better(p, trial, order):
                    order = trial
                    self.stats.forced += 1
                    changed = True
                    break
        return order, changed

    def swap_out(self, order: IntArray) -> tuple[IntArray, bool]:
        """Remove one admitted user and refill with rejected users (the removed one last): one out,
        any number in. Candidates: the users saving the most time per weight first."""
        p = self.p
        changed = False
        tried: set[int] = set()
        while order.size:
            ratio = p.savings(order) / p.weight[order]
            ranked = [int(j) for j in order[np.lexsort((order, -ratio))] if int(j) not in tried]
            if not ranked:
                break
            j = ranked[0]
            tried.add(j)
            if len(tried) > self.eject_candidates and order.size > self.eject_candidates:
                break
            rest = order[order != j]
            outside = np.setdiff1d(np.arange(p.num_users), order)
            candidates = outside[np.lexsort((outside, p.limit[outside], -p.weight[outside]))]
            if not self.budget.spend(order.size + OVERHEAD):
                break
            trial = p.insert_all(np.append(candidates, j), rest, self.budget)
            if better(p, trial, order):
                order = trial
                self.stats.swapped += 1
                changed = True
                tried.clear()
        return order, changed

    def resequence(self, order: IntArray, k: int) -> IntArray | None:
        """A feasible order of the admitted users plus ``k`` built from scratch, or ``None``.

        Tries earliest deadline first (ties by model) and, on small instances, best insertion
        of the users in deadline order.
        """
        p = self.p
        users = np.append(order, k)
        edf = users[np.lexsort((users, p.model[users], p.limit[users]))]
        if p.feasible(edf):
            return edf
        if users.size > RESEQUENCE_MAX_USERS or not self.budget.spend(users.size * (users.size + OVERHEAD)):
            return None
        rebuilt = p.insert_all(edf)
        return rebuilt if rebuilt.size == users.size else None

    def relocate(self, order: IntArray, span: int) -> tuple[IntArray, bool]:
        """Move runs of ``span`` consecutive visits (``span=0``: single users) to their best gap."""
        p = self.p
        changed = False
        tau = float(p.upload[order].sum())
        pos = 0
        while True:
            bounds = visits(p, order) if span else np.arange(order.size + 1)
            width = max(span, 1)
            starts = bounds[:-width]
            # Resume after the last position examined so that one pass visits every segment once.
            later = starts[starts >= pos]
            if later.size == 0:
                break
            s = int(later[0])
            e = int(bounds[np.searchsorted(bounds, s) + width])
            pos = s + 1
            if not self.budget.spend(order.size + OVERHEAD):
                break
            current = p.score(order)
            segment = order[s:e]
            rest = np.concatenate((order[:s], order[e:]))
            best = p.best_insertion(rest, tau, segment, 0.0)
            if best is None:
                continue
            g, makespan, slack = best
            if better_score((current[0], -makespan, slack), current):
                order = np.concatenate((rest[:g], segment, rest[g:]))
                self.stats.relocated += 1
                changed = True
                pos = min(s, g)
        return order, changed

    def run(self, order: IntArray, max_rounds: int = 50) -> IntArray:
        """Apply the moves until none improves, the round limit or the budget is reached."""
        start = self.p.score(order)
        for _ in range(max_rounds):
            self.stats.rounds += 1
            changed = False
            # Cheap moves first: on large instances the budget may run out within a round.
            for move in (
                self.insert_rejected,
                lambda o: self.relocate(o, 1),
                self.eject,
                self.force,
                self.swap_out,
                lambda o: self.relocate(o, 2),
                lambda o: self.relocate(o, 3),
                lambda o: self.relocate(o, 0),
            ):
                order, moved = move(order)
                changed |= moved
                if self.budget.effort < 0 or self.budget.timed_out:
                    break
            if not changed or self.budget.effort < 0 or self.budget.timed_out:
                break
        assert not better_score(start, self.p.score(order)), "the local search never returns a worse schedule"
        return order

    # --------------------------------------------------------------------- helpers
    def _rejected(self, order: IntArray) -> IntArray:
        p = self.p
        mask = np.ones(p.num_users, dtype=bool)
        mask[order] = False
        out = np.flatnonzero(mask)
        return out[np.lexsort((out, p.limit[out], -p.weight[out]))]

    def _min_slack(self, order: IntArray, tau: float) -> float:
        if order.size == 0:
            return np.inf
        return float(np.min(self.p.limit[order] - self.p.finish(order, tau)))


def improve(problem: Problem, order: IntArray, budget: Budget, max_rounds: int = 50) -> tuple[IntArray, Stats]:
    """Run :class:`LocalSearch` from ``order`` (feasible) and return the improved order and statistics."""
    search = LocalSearch(problem, budget)
    return search.run(np.asarray(order, dtype=np.int64), max_rounds), search.stats
