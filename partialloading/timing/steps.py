"""Schedule steps: one inference over a batch of requests of one model.

A schedule is a sequence of *steps*. Each step serves a batch ``β_q`` (one or more consecutive
requests of the order, all of one model ``i``) with one load before it and one inference of

    t_q = t_i(|β_q|) · max_{k∈β_q} c_k / c_i

seconds: the model's batch table at the batch's size, paced by its longest member (with
per-request times; without them ``t_q = t_i(|β_q|)``). A batch of one request takes exactly
``c_k``, so an order without batch numbers is the special case of one request per step.

Both timing models evaluate steps (the frame and pipelined timelines are written over the
arrays this module builds), and the memory model plans one load per step, so batching is not a
second code path: :func:`steps_of` turns an order and its batch numbers into step arrays, and
:meth:`Steps.expand` turns each step's value back into one value per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from partialloading.arrays import FloatArray, IntArray

from .base import Evictions

if TYPE_CHECKING:
    from partialloading.instance import Instance

T = TypeVar("T")

Batches = Sequence[int] | IntArray
"""The batch number of each request of an order (0-based, consecutive requests with one number
form one batch)."""


@dataclass(frozen=True, eq=False)
class Steps:
    """The steps of an order (arrays indexed by step unless said otherwise).

    Attributes
    ----------
    of
        The step of each request (indexed by position in the order).
    first
        Position in the order of each step's first request.
    size
        Number of requests of each step.
    model
        The model each step runs.
    time
        Inference time of each step, ``c_max · t_i(b) / t_i(1)``.
    """

    of: IntArray
    first: IntArray
    size: IntArray
    model: IntArray
    time: FloatArray

    @property
    def count(self) -> int:
        """Number of steps."""
        return int(self.first.size)

    @property
    def single(self) -> bool:
        """Whether every step serves one request."""
        return self.count == self.of.size

    def expand(self, values: FloatArray) -> FloatArray:
        """One value per request from one per step (each request gets its step's)."""
        return values if self.single else values[self.of]

    def on_first(self, values: FloatArray) -> FloatArray:
        """One value per request from one per step, on each step's first request (0 elsewhere):
        for amounts counted once per batch, such as the bytes a load brings."""
        if self.single:
            return values
        out = np.zeros(self.of.size)
        out[self.first] = values
        return out

    def min_of(self, values: FloatArray) -> FloatArray:
        """Smallest per-request value of each step (e.g. the deadline a batch must meet)."""
        return values if self.single else np.minimum.reduceat(values, self.first)

    def max_of(self, values: FloatArray) -> FloatArray:
        """Largest per-request value of each step (e.g. when its last member's upload ends)."""
        return values if self.single else np.maximum.reduceat(values, self.first)

    def sum_of(self, values: FloatArray) -> FloatArray:
        """Sum of the per-request values of each step (e.g. its members' upload work)."""
        return values if self.single else np.add.reduceat(values, self.first)

    def evictions(self, evicted: Evictions | None) -> Evictions | None:
        """Per-step evictions from per-request ones (made before a batch, on its first request).

        Raises
        ------
        ValueError
            A request after its batch's first one evicts blocks (the batch's model is already
            loaded: nothing may leave memory in the middle of a batch).
        """
        if evicted is None or self.single:
            return evicted
        for q in range(self.of.size):
            if self.first[self.of[q]] != q and evicted[q]:
                raise ValueError(f"request {q} evicts blocks in the middle of its batch")
        return [evicted[int(q)] for q in self.first]


def steps_of(models: IntArray, infer: FloatArray, batch: Batches | None, scales: FloatArray, limits: IntArray) -> Steps:
    """The steps of an order.

    Parameters
    ----------
    models, infer
        The model and inference time of each request of the order.
    batch
        The batch number of each request (``None``: one request per batch).
    scales
        Row ``i``: ``t_i(b) / t_i(1)`` for ``b = 1 … B_i``
        (:attr:`~partialloading.instance.Instance.batch_scales`).
    limits
        ``B_i`` of each model.

    Raises
    ------
    ValueError
        Batch numbers that do not start at 0 and grow by 0 or 1 along the order, a batch mixing
        models, or a batch larger than its model's table.
    """
    n = int(models.size)
    if batch is None:
        every = np.arange(n, dtype=np.int64)
        return Steps(every, every, np.ones(n, dtype=np.int64), models, infer)
    of = np.asarray(batch, dtype=np.int64)
    if of.ndim != 1 or of.size != n:
        raise ValueError("one batch number per request is needed")
    if n == 0:
        return Steps(of, of, of, of, np.zeros(0))
    # Array methods, not numpy functions: this runs for every evaluation of a batched schedule.
    step = of[1:] - of[:-1]
    if of[0] != 0 or (n > 1 and (step.min() < 0 or step.max() > 1)):
        raise ValueError("batch numbers must start at 0 and grow by 0 or 1 along the order")
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.equal(step, 1, out=starts[1:])
    first = starts.nonzero()[0]
    if first.size == n:
        return Steps(of, first, np.ones(n, dtype=np.int64), models, infer)
    size = np.empty(first.size, dtype=np.int64)
    size[:-1] = first[1:] - first[:-1]
    size[-1] = n - first[-1]
    model = models[first]
    mixed = models != model[of]
    if mixed.any():
        q = int(mixed.nonzero()[0][0])
        raise ValueError(f"batch {int(of[q])} mixes models (request {q})")
    too_big = size > limits[model]
    if too_big.any():
        s = int(too_big.nonzero()[0][0])
        raise ValueError(f"batch {s} holds {int(size[s])} requests (its model's table allows {int(limits[model[s]])})")
    longest = np.maximum.reduceat(infer, first)
    return Steps(of, first, size, model, longest * scales[model, size - 1])


def batch_groups(items: Sequence[T], batch: Batches | None) -> list[list[T]]:
    """``items`` (one per request of an order) grouped into their batches, in service order
    (``batch``: the batch numbers; ``None``: one request per batch)."""
    numbers = range(len(items)) if batch is None else batch
    groups: list[list[T]] = []
    for q, item in enumerate(items):
        if q == 0 or numbers[q] != numbers[q - 1]:
            groups.append([])
        groups[-1].append(item)
    return groups


def expand_evicted(steps: Steps, evicted: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    """Per-request evictions from per-step ones: a batch's on its first request, none on the rest."""
    if steps.single:
        return evicted
    out: list[tuple[int, ...]] = [()] * int(steps.of.size)
    for s, q in enumerate(steps.first.tolist()):
        out[q] = evicted[s]
    return tuple(out)


def instance_steps(instance: Instance, order: IntArray, batch: Batches | None) -> Steps:
    """:func:`steps_of` for ``order`` (user indices) of ``instance``."""
    return steps_of(
        instance.user_models[order], instance.user_infer_times[order], batch, instance.batch_scales, instance.max_batch
    )


__all__ = ["Batches", "Steps", "batch_groups", "expand_evicted", "instance_steps", "steps_of"]
