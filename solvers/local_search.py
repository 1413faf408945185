"""The improvement phase of the greedy heuristic (``method="greedy"``).

The schedule arithmetic is the timing model's (:mod:`partialloading.timing`): finish times,
slack, the O(1) necessary admission tests and, centrally, the test of *every* position at which
a segment of users could be inserted into an order in one vectorized O(n) pass
(:meth:`~partialloading.timing.frame.FrameSchedule.insertion`). Removing users never makes
anyone late (the load times satisfy the triangle inequality, see
:mod:`partialloading.solvers.enumeration`), so relocation = removal + insertion needs only the
insertion test.

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

from dataclasses import dataclass, field

import numpy as np

from partialloading.arrays import IntArray
from partialloading.errors import SolverError
from partialloading.stop import NEVER, Deadline
from partialloading.timing import Schedule
from partialloading.tolerance import EPS, slop

from .edf import deadline_order
from .order_search import find_order

OVERHEAD = 300
"""Effort charged per vectorized evaluation on top of its length (the fixed cost of a numpy pass)."""

EVALUATION_COST = {"frame": 1.0, "pipelined": 8.0}
"""Cost of one evaluated position of each timing model's arithmetic relative to a frame one (the
unit of the local-search budget): a pipelined insertion bounds every gap and checks a few
exactly, about 8 frame positions."""

EXACT_RESEQUENCE_USERS = {"frame": 0, "pipelined": 10}
"""Largest set the local search re-sequences by the exact order search, per timing model: none
under frame timing (its insertion test already checks every gap exactly), ten under pipelined
timing (its insertion test checks the bandwidth of a few gaps only)."""

RESEQUENCE_MAX_USERS = 200
"""Rebuilding an order by best insertion (O(n²)) is tried up to this many admitted users."""


def visits(problem: Schedule, order: IntArray) -> IntArray:
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
        The wall-clock deadline of the solve (a safety net; default: none).
    """

    effort: float
    deadline: Deadline = NEVER
    timed_out: bool = field(default=False)

    def spend(self, amount: float) -> bool:
        """Charge ``amount``; ``False`` when the budget is exhausted."""
        self.effort -= amount
        if self.effort < 0:
            return False
        if self.deadline.expired():
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


def insert_all(p: Schedule, seq: IntArray, order: IntArray | None = None, budget: Budget | None = None) -> IntArray:
    """Insert the users of ``seq``, in that order, each at the feasible position that lengthens
    the schedule least (users that fit nowhere are skipped), into ``order`` (default: empty),
    under any timing and memory model. Each O(n) evaluation is charged to ``budget``; when it
    runs out the rest is skipped."""
    order = np.zeros(0, dtype=np.int64) if order is None else order
    state = p.state(order)
    for k in seq.tolist():
        if not p.may_insert(state, k):
            continue
        if budget is not None and not budget.spend(order.size + OVERHEAD):
            break
        best = p.best_admission(order, np.array([k]), state)
        if best is None:
            continue
        g = best[0]
        order = np.concatenate((order[:g], [k], order[g:]))
        state = p.state(order)
    return order


def drop_until_feasible(p: Schedule, order: IntArray, max_weight: float = np.inf) -> IntArray | None:
    """Drop users until everyone is on time: each time the one saving most time per weight.

    Users up to the first late position save their whole time; users after it only their
    upload (that is all that delays the late user). Returns ``None`` as soon as the dropped
    weight exceeds ``max_weight`` (the caller would reject the result anyway).
    """
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


def better_score(
    sa: tuple[float, float, float], sb: tuple[float, float, float], weight_tolerance: float = np.inf
) -> bool:
    """Whether score ``sa`` is strictly better than ``sb``: more weight; as much weight and a
    shorter makespan; or as much weight, the same makespan and a larger minimum slack (room to
    admit more users). Ties within tolerances are not improvements; two weights are tied within
    ``1e-12`` relative, and never more than ``weight_tolerance`` apart."""
    tol = min(1e-12 * max(1.0, abs(sb[0])), weight_tolerance)
    if sa[0] > sb[0] + tol:
        return True
    if sa[0] < sb[0] - tol:
        return False
    if sa[1] > sb[1] + EPS:
        return True
    if sa[1] < sb[1] - EPS:
        return False
    return sa[2] > sb[2] + EPS


def better(p: Schedule, a: IntArray, b: IntArray) -> bool:
    """Whether order ``a`` scores strictly better than order ``b`` (see :func:`better_score`)."""
    return better_score(p.score(a), p.score(b), p.weight_tolerance)


class LocalSearch:
    """First-improvement local search on :meth:`Schedule.score` (see the module docstring)."""

    def __init__(self, problem: Schedule, budget: Budget, *, eject_candidates: int = 12) -> None:
        self.p = problem
        self.budget = budget
        self.eject_candidates = eject_candidates
        self.stats = Stats()

    # --------------------------------------------------------------------- moves
    def insert_rejected(self, order: IntArray) -> tuple[IntArray, bool]:
        """Insert rejected users (heaviest, then earliest deadline first) at their best position."""
        p = self.p
        changed = False
        state = p.state(order)
        for k in self._rejected(order):
            # Necessary conditions, O(1), before the O(n) test of every gap.
            if not p.may_insert(state, int(k)):
                continue
            if not self.budget.spend(order.size + OVERHEAD):
                break
            best = p.best_admission(order, np.array([k]), state)
            if best is not None:
                g = best[0]
                order = np.concatenate((order[:g], [k], order[g:]))
                state = p.state(order)
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
            wk = float(p.weight[k])
            # Candidates: users no heavier than k whose removal lets k start on time after the
            # upload phase, the biggest savers per weight first.
            w = p.weight[order]
            own = p.fits_without(order, k)
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
                best = p.best_admission(rest, np.array([k]))
                if best is None:
                    continue
                g, makespan, slack = best
                value = current[0] - float(p.weight[order[j]]) + wk
                if better_score((value, -makespan, slack), current, p.weight_tolerance):
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
            if np.any(order == k) or not p.alone_ok(k):
                continue
            if not self.budget.spend(order.size + OVERHEAD):
                break
            fixed = self.resequence(order, k)
            if fixed is not None:
                order = fixed
                self.stats.forced += 1
                changed = True
                continue
            added = p.added_processing(order, k)
            gaps = {int(np.searchsorted(p.limit[order], p.limit[k], side="right")), int(np.argmin(added))}
            for g in sorted(gaps):
                trial = drop_until_feasible(p, np.concatenate((order[:g], [k], order[g:])))
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
            trial = insert_all(p, np.append(candidates, j), rest, self.budget)
            if better(p, trial, order):
                order = trial
                self.stats.swapped += 1
                changed = True
                tried.clear()
        return order, changed

    def resequence(self, order: IntArray, k: int) -> IntArray | None:
        """A feasible order of the admitted users plus ``k`` built from scratch, or ``None``.

        Tries earliest deadline first (ties by model), on small instances best insertion of the
        users in deadline order, and on sets of at most :data:`EXACT_RESEQUENCE_USERS` users (per
        timing model) the exact set search.
        """
        p = self.p
        users = np.append(order, k)
        edf = deadline_order(users, p.limit, p.model)
        if p.feasible(edf):
            return edf
        if users.size > RESEQUENCE_MAX_USERS or not self.budget.spend(users.size * (users.size + OVERHEAD)):
            return None
        rebuilt = insert_all(p, edf)
        if rebuilt.size == users.size:
            return rebuilt
        if users.size <= EXACT_RESEQUENCE_USERS[p.timing]:
            # Small sets under a timing model whose insertion test is not exhaustive: decide exactly.
            exact = find_order(p, users.tolist())
            # The order must be on time with the memory's default rule: the search's own
            # evictions do not travel with an order here.
            if self.budget.spend(exact.nodes * OVERHEAD) and exact.order is not None:
                rebuilt = np.asarray(exact.order, dtype=np.int64)
                return rebuilt if exact.evicted is None or p.feasible(rebuilt) else None
        return None

    def relocate(self, order: IntArray, span: int) -> tuple[IntArray, bool]:
        """Move runs of ``span`` consecutive visits (``span=0``: single users) to their best gap."""
        p = self.p
        changed = False
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
            best = p.best_relocation(rest, segment)
            if best is None:
                continue
            g, makespan, slack = best
            if better_score((current[0], -makespan, slack), current, p.weight_tolerance):
                order = np.concatenate((rest[:g], segment, rest[g:]))
                self.stats.relocated += 1
                changed = True
                pos = min(s, g)
        return order, changed

    def run(self, order: IntArray, max_rounds: int = 50, target: float = np.inf) -> IntArray:
        """Apply the moves until none improves, the round limit or the budget is reached, or the
        served weight reaches ``target`` (an upper bound: nothing can improve on it)."""
        start = self.p.score(order)
        reached = target - slop(target)
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
                if self.budget.effort < 0 or self.budget.timed_out or (moved and self.p.score(order)[0] >= reached):
                    break
            if not changed or self.budget.effort < 0 or self.budget.timed_out or self.p.score(order)[0] >= reached:
                break
        final = self.p.score(order)
        if better_score(start, final, self.p.weight_tolerance):
            raise SolverError(f"the local search returned a worse schedule than its start ({final} < {start})")
        return order

    # --------------------------------------------------------------------- helpers
    def _rejected(self, order: IntArray) -> IntArray:
        p = self.p
        mask = np.ones(p.num_users, dtype=bool)
        mask[order] = False
        out = np.flatnonzero(mask)
        return out[np.lexsort((out, p.limit[out], -p.weight[out]))]


def improve(
    problem: Schedule, order: IntArray, budget: Budget, max_rounds: int = 50, target: float = np.inf
) -> tuple[IntArray, Stats]:
    """Run :class:`LocalSearch` from ``order`` (feasible) and return the improved order and
    statistics; ``target``: stop once the served weight reaches it."""
    search = LocalSearch(problem, budget)
    return search.run(np.asarray(order, dtype=np.int64), max_rounds, target), search.stats
