"""Frame-timing evaluator: the timeline of an ordered set of admitted users.

Timing model ``frame``: every admitted user uploads from time 0 with its share of the uplink;
the server starts when the last upload has arrived, at ``τ``. With the optimal split
(:func:`bandwidth_split`) all uploads end together at ``τ = Σ_S a_k / B``. Then the requests
are served in order; each first loads the blocks its model is missing, then runs inference.

This module is the toolkit's own evaluator; :mod:`partialloading.validation` re-implements the
same rules independently to check it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .instance import FloatArray, Instance, IntArray

RELATIVE_TOLERANCE = 1e-9
"""A finish time counts as on time when ``finish ≤ deadline·(1 + RELATIVE_TOLERANCE)``.

Floating-point sums of the same terms in a different order differ in the last bits; this
tolerance absorbs that and nothing more (solvers aim at ``finish ≤ deadline`` exactly)."""


def meets(finish: float | FloatArray, deadline: float | FloatArray) -> np.bool_ | np.ndarray:
    """Whether ``finish`` is on time for ``deadline`` (within :data:`RELATIVE_TOLERANCE`)."""
    return np.asarray(finish) <= np.asarray(deadline) * (1.0 + RELATIVE_TOLERANCE)


def upload_end(instance: Instance, order: Sequence[int] | IntArray) -> float:
    """``τ* = Σ_{k∈S} a_k / B``: the earliest time every admitted upload can have arrived."""
    idx = np.asarray(order, dtype=np.int64)
    return float(instance.upload_work[idx].sum() / float(instance.bandwidth_hz))


def bandwidth_split(instance: Instance, order: Sequence[int] | IntArray) -> FloatArray:
    """Closed-form optimal bandwidth ``b_k = B·a_k / Σ_S a`` for the admitted users, in ``order``.

    All uploads then end together at :func:`upload_end`; no split ends earlier because
    ``max_k a_k/b_k ≥ Σ a_k / Σ b_k ≥ Σ a_k / B``.
    """
    idx = np.asarray(order, dtype=np.int64)
    work = instance.upload_work[idx]
    total = work.sum()
    if idx.size == 0:
        return np.zeros(0)
    return float(instance.bandwidth_hz) * work / total


def finish_alone(instance: Instance, sharing: bool = True) -> FloatArray:
    """Finish time of each user if it were the only one admitted: ``a_k/B + ℓ(i0, m_k) + c_{m_k}``."""
    models = instance.user_models
    return instance.upload_times + instance.initial_load(sharing)[models] + instance.infer_times[models]


def servable_alone(instance: Instance, sharing: bool = True) -> IntArray:
    """Indices of the users that meet their deadline when served alone.

    No other user can ever be admitted: the admissible sets are closed under removal (removing a
    user never delays the others, by the triangle inequality of ``ℓ``), so a user late on its own
    is late in every schedule. Exact methods drop the others up front; the weight of these users
    is an upper bound on the objective.
    """
    return np.flatnonzero(meets(finish_alone(instance, sharing), instance.deadlines)).astype(np.int64)


@dataclass(frozen=True)
class Timeline:
    """Per-request timing of a schedule (arrays in service order).

    Attributes
    ----------
    order
        User indices in service order.
    upload_end
        ``τ``: the time the server starts.
    load
        Loading time before each request (0 when the model is already in memory).
    start
        Start of the load before each request.
    infer_start
        Start of inference (``start + load``).
    finish
        Completion time of each request.
    deadline
        Deadline of each request.
    loaded_bytes, reused_bytes
        Bytes loaded for the request and bytes of its model already in GPU memory.
    """

    order: IntArray
    upload_end: float
    load: FloatArray
    start: FloatArray
    infer_start: FloatArray
    finish: FloatArray
    deadline: FloatArray
    loaded_bytes: FloatArray
    reused_bytes: FloatArray

    @property
    def on_time(self) -> np.ndarray:
        """Boolean array: each request finishes by its deadline."""
        return np.asarray(meets(self.finish, self.deadline))

    @property
    def feasible(self) -> bool:
        """Whether every admitted request finishes by its deadline."""
        return bool(self.on_time.all())

    @property
    def makespan(self) -> float:
        """Completion time of the last request (``τ`` when nothing is served)."""
        return float(self.finish[-1]) if self.finish.size else self.upload_end


def evaluate(instance: Instance, order: Sequence[int] | IntArray, sharing: bool = True) -> Timeline:
    """Compute the frame-timing timeline of serving ``order`` (user indices) in that order.

    Parameters
    ----------
    instance
        The instance.
    order
        Indices of the admitted users in service order (no repeats).
    sharing
        Load only missing blocks (``True``) or whole models on every switch (``False``).
    """
    idx = np.asarray(order, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= instance.num_users):
        raise IndexError("user index out of range")
    if np.unique(idx).size != idx.size:
        raise ValueError("a user appears twice in the order")
    tau = upload_end(instance, idx)
    models = instance.user_models[idx]
    load = np.empty(idx.size)
    if idx.size:
        load[0] = instance.initial_load(sharing)[models[0]]
        load[1:] = instance.load_matrix(sharing)[models[:-1], models[1:]]
    busy = load + instance.infer_times[models]
    elapsed = np.cumsum(busy)
    finish = tau + elapsed
    start = tau + np.concatenate(([0.0], elapsed[:-1]))
    loaded = load * float(instance.load_speed_bytes_per_s)
    reused = np.maximum(instance.model_sizes[models] - loaded, 0.0)
    return Timeline(
        order=idx,
        upload_end=tau,
        load=load,
        start=start,
        infer_start=start + load,
        finish=finish,
        deadline=instance.deadlines[idx],
        loaded_bytes=loaded,
        reused_bytes=reused,
    )
