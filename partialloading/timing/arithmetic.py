"""What the schedule arithmetic of every timing model shares (one base class).

:class:`OrderScores` derives feasibility, score and slack from a timing model's ``finish``, and
asks the instance's memory model for the loads of an order. When the memory is
:data:`~partialloading.memory.PAIRWISE` the timing modules answer the incremental questions
(appending a user, inserting a segment at every gap) in O(1) or one vectorized pass; for any
other memory :class:`ExactAppender` and :meth:`OrderScores.exact_gaps` answer them by
evaluating whole orders, exactly and more slowly.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from partialloading.arrays import BoolArray, FloatArray, IntArray
from partialloading.memory import PAIRWISE

from .base import Evictions
from .steps import Batches, Steps, steps_of

if TYPE_CHECKING:
    from partialloading.memory import Memory


class Gaps(NamedTuple):
    """Outcome of inserting a segment at each gap of an order (see ``FrameSchedule.insertion``)."""

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


class BatchAppending(Protocol):
    """An order built by appending users in batches (:class:`BatchAppender` and the timing
    models' faster ones): ``order``, ``batch``, ``fits(k)``, ``append(k)``."""

    order: list[int]
    batch: list[int]

    def fits(self, k: int) -> bool: ...

    def append(self, k: int) -> None: ...


class OrderScores:
    """The base of every timing model's schedule arithmetic.

    Subclasses are frozen dataclasses with these array fields (and :attr:`memory`); they define
    :meth:`finish`, :meth:`state`, :meth:`hopeless` and :meth:`absorbs`.
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

    @property
    def pairwise(self) -> bool:
        """Whether the memory's loads are the matrix :attr:`loads` (the fast tests apply)."""
        return PAIRWISE in self.memory.structure

    @property
    def num_users(self) -> int:
        """Number of users."""
        return int(self.model.size)

    def loads_of(self, order: IntArray, evicted: Evictions | None = None) -> FloatArray:
        """Load time before each request of ``order`` (the memory model's answer; ``evicted``:
        the evictions, ``None``: the memory's default rule)."""
        return self.model_loads(self.model[order], evicted)

    def model_loads(self, models: IntArray, evicted: Evictions | None = None) -> FloatArray:
        """Load time before each step running ``models`` (one entry per step), as :meth:`loads_of`."""
        if evicted is not None or not self.pairwise:
            return self.memory.plan(models, evicted).load
        load = np.empty(models.size)
        if models.size:
            load[0] = self.first[models[0]]
            load[1:] = self.loads[models[:-1], models[1:]]
        return load

    def steps(self, order: IntArray, batch: Batches | None) -> Steps:
        """The steps (batches) of ``order`` with batch numbers ``batch`` (``None``: one request each)."""
        return steps_of(self.model[order], self.infer[order], batch, self.scales, self.max_batch)

    def finish(
        self,
        order: IntArray,
        tau: float | None = None,
        evicted: Evictions | None = None,
        batch: Batches | None = None,
    ) -> FloatArray:
        """Completion of each request of ``order`` (each timing model defines it)."""
        raise NotImplementedError

    def state(self, order: IntArray) -> SlackState:
        """What the O(1) admission tests need of the feasible ``order`` (each timing model defines it)."""
        raise NotImplementedError

    def hopeless(self, state: SlackState, k: int) -> bool:
        """Whether ``k`` cannot be on time even when served first after the order of ``state``."""
        raise NotImplementedError

    def absorbs(self, state: SlackState, k: int) -> bool:
        """Whether the order of ``state`` could take ``k``'s upload (a hint for the drop rule)."""
        raise NotImplementedError

    def batch_appender(self) -> BatchAppending:
        """An empty order that users can be appended to in batches (each test a whole evaluation;
        a timing model may answer faster)."""
        return BatchAppender(self)

    def feasible(self, order: IntArray, evicted: Evictions | None = None, batch: Batches | None = None) -> bool:
        """Whether every user of ``order`` is on time (with ``evicted``, else the default rule;
        in batches ``batch``, else one request per batch)."""
        return bool(np.all(self.finish(order, evicted=evicted, batch=batch) <= self.limit[order]))

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

    def exact_gaps(self, rest: IntArray, segment: IntArray) -> Gaps:
        """Insert ``segment`` at every gap of ``rest`` by evaluating each resulting order whole.

        The answer for memories without pairwise loads (O(n) per gap): ``added`` is the total
        processing the insertion adds (the makespan's growth beyond the uploads it adds).
        """
        n = rest.size
        ok = np.zeros(n + 1, dtype=bool)
        makespan = np.full(n + 1, np.inf)
        min_slack = np.full(n + 1, -np.inf)
        base = float(self.finish(rest)[-1]) if n else 0.0
        for g in range(n + 1):
            trial = np.concatenate((rest[:g], segment, rest[g:]))
            finish = self.finish(trial)
            slack = self.limit[trial] - finish
            ok[g] = bool(np.all(slack >= 0))
            makespan[g] = float(finish[-1])
            min_slack[g] = float(slack.min())
        added = makespan - base - float(self.upload[segment].sum())
        return Gaps(ok, added, makespan, min_slack)


class ExactAppender:
    """An order built by appending users, each test an evaluation of the whole order.

    The appender of memories without pairwise loads, where appending a request may change what
    the earlier ones load; same members as the timing models' fast appenders.
    """

    def __init__(self, schedule: OrderScores) -> None:
        self.p = schedule
        self.order: list[int] = []
        self._state = schedule.state(np.zeros(0, dtype=np.int64))

    def _array(self, extra: list[int] | None = None) -> IntArray:
        return np.asarray(self.order + (extra or []), dtype=np.int64)

    def next_load(self, k: int) -> float:
        """Estimated loading time of ``k`` if appended now (the memory's pairwise estimate)."""
        p = self.p
        m = int(p.model[k])
        last = int(p.model[self.order[-1]]) if self.order else None
        return float(p.first[m] if last is None else p.loads[last, m])

    def fits(self, k: int) -> bool:
        """Whether appending ``k`` keeps everyone on time."""
        return self.p.feasible(self._array([k]))

    def append(self, k: int) -> None:
        """Append ``k`` (the caller has checked :meth:`fits`)."""
        self.order.append(k)
        self._state = self.p.state(self._array())

    @property
    def makespan(self) -> float:
        """Completion of the last request."""
        return float(self.p.finish(self._array())[-1]) if self.order else 0.0

    def absorbs(self, k: int) -> bool:
        """Whether the order could take ``k``'s upload (a hint)."""
        return self.p.absorbs(self._state, k)

    def hopeless(self, k: int) -> bool:
        """Whether ``k`` cannot be on time even when served first."""
        return self.p.hopeless(self._state, k)

    def reset(self, order: IntArray) -> None:
        """Replace the order by the feasible ``order``."""
        self.order = order.tolist()
        self._state = self.p.state(order)


class BatchAppender:
    """An order built by appending users in batches: each user either joins the last batch (same
    model, room in its table) or opens a new one, whichever keeps everyone on time with the
    earlier finish (joining on a tie). Each test evaluates the whole order (O(n)).

    Same members as the other appenders, plus :attr:`batch` (the batch number of each request).
    """

    def __init__(self, schedule: OrderScores) -> None:
        self.p = schedule
        self.order: list[int] = []
        self.batch: list[int] = []
        self._size = 0
        self._trial: tuple[int, int, float] | None = None

    def _best(self, k: int) -> tuple[int, float] | None:
        if self._trial is not None and self._trial[0] == k:
            return self._trial[1], self._trial[2]
        p = self.p
        m = int(p.model[k])
        order = np.asarray([*self.order, k], dtype=np.int64)
        options = [self.batch[-1] + 1 if self.batch else 0]
        if self.order and int(p.model[self.order[-1]]) == m and self._size < int(p.max_batch[m]):
            options.insert(0, self.batch[-1])
        best: tuple[int, float] | None = None
        for b in options:
            finish = p.finish(order, batch=[*self.batch, b])
            if np.all(finish <= p.limit[order]) and (best is None or float(finish[-1]) < best[1]):
                best = (b, float(finish[-1]))
        self._trial = None if best is None else (k, *best)
        return best

    def fits(self, k: int) -> bool:
        """Whether appending ``k`` (in the last batch or a new one) keeps everyone on time."""
        return self._best(k) is not None

    def append(self, k: int) -> None:
        """Append ``k`` the better way (the caller has checked :meth:`fits`)."""
        best = self._best(k)
        if best is None:
            raise ValueError(f"user {k} does not fit")
        joined = bool(self.batch) and best[0] == self.batch[-1]
        self._size = self._size + 1 if joined else 1
        self.order.append(k)
        self.batch.append(best[0])
        self._trial = None
