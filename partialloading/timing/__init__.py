"""The system-model seam: one module per timing model, behind one small protocol.

A *timing model* turns an ordered set of admitted users into a :class:`Timeline` (when each
upload ends, when each load and inference starts and ends), gives the bandwidth split it
assumes, the finish time of each user served alone and the incremental schedule arithmetic the
heuristics use. Which model applies is the instance's ``timing`` field. What has to be loaded
before each request is the memory model's answer (:mod:`partialloading.memory`, the second
seam), so every GPU memory fits under every timing model. Timing models evaluate; they never
search (the searches live with the solvers that use them).

Everything that evaluates a schedule goes through :func:`timeline` (the solution, the plots,
the command line, ``solve()``'s re-evaluation); the exact formulations write their own algebra
but take their constants (tolerance, the users servable alone) from here. The independent
verifier (:mod:`partialloading.validation.verify`) re-derives every timeline on purpose.

Adding a timing model: write a module with a class that satisfies :class:`TimingModel`, add its
instance to :data:`TIMING_MODELS`, and declare in the method registry
(:mod:`partialloading.methods`) which methods support it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from partialloading.arrays import FloatArray, IntArray
from partialloading.errors import InstanceError
from partialloading.tolerance import meets

from .base import Evictions, Timeline
from .frame import FRAME, FrameSchedule, FrameTiming
from .pipelined import PIPELINED, PipelinedSchedule, PipelinedTiming
from .steps import Batches, Steps, instance_steps

Schedule = FrameSchedule | PipelinedSchedule
"""The schedule arithmetic of a timing model (same questions, same answers' meaning)."""

if TYPE_CHECKING:
    from partialloading.instance import Instance


class TimingModel(Protocol):
    """What every timing model provides."""

    @property
    def name(self) -> str:
        """Name used in instance files (``"timing"``) and on the command line."""
        ...

    @property
    def summary(self) -> str:
        """One line for the documentation and ``--help``."""
        ...

    def timeline(
        self, instance: Instance, order: IntArray, evicted: Evictions | None = None, batch: Batches | None = None
    ) -> Timeline:
        """Timeline of serving ``order`` (valid user indices, no repeats) with :meth:`bandwidth`,
        with the given evictions (``None``: the memory's default rule), in the batches ``batch``
        (``None``: one request per batch; see :mod:`partialloading.timing.steps`)."""
        ...

    def bandwidth(
        self, instance: Instance, order: IntArray, evicted: Evictions | None = None, batch: Batches | None = None
    ) -> FloatArray:
        """The bandwidth split of the admitted users, in ``order``."""
        ...

    def finish_alone(self, instance: Instance) -> FloatArray:
        """Finish time of each user when it is the only one admitted."""
        ...

    def schedule(self, instance: Instance, tolerance_share: float = 0.5) -> Schedule:
        """The incremental schedule arithmetic the heuristics use."""
        ...


TIMING_MODELS: dict[str, TimingModel] = {FRAME.name: FRAME, PIPELINED.name: PIPELINED}
"""Every timing model, by name."""

TIMING_NAMES: tuple[str, ...] = tuple(TIMING_MODELS)
"""Names of the timing models (valid values of an instance's ``timing`` field)."""


def timing_of(instance: Instance) -> TimingModel:
    """The timing model of ``instance`` (its ``timing`` field).

    This registry is the only place that turns the name into a timing model: the data model
    stores the name, and the reader calls this so that a bad name fails at read time.

    Raises
    ------
    InstanceError
        At ``timing``: an unknown timing model.
    """
    model = TIMING_MODELS.get(instance.timing) if isinstance(instance.timing, str) else None
    if model is None:
        raise InstanceError("timing", f"unknown timing model {instance.timing!r} (known: {', '.join(TIMING_MODELS)})")
    return model


def _indices(instance: Instance, order: Sequence[int] | IntArray) -> IntArray:
    idx = np.asarray(order, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= instance.num_users):
        raise IndexError("user index out of range")
    if np.unique(idx).size != idx.size:
        raise ValueError("a user appears twice in the order")
    return idx


def timeline(
    instance: Instance,
    order: Sequence[int] | IntArray,
    evicted: Evictions | None = None,
    batch: Batches | None = None,
) -> Timeline:
    """Timeline of serving ``order`` (user indices) under the instance's timing model.

    Parameters
    ----------
    instance
        The instance.
    order
        Indices of the admitted users in service order (no repeats).
    evicted
        Indices of the blocks evicted right before each request (``None``: the memory model's
        default rule); a batch's evictions are on its first request.
    batch
        The batch number of each request (0-based; consecutive requests with one number form a
        batch of one model); ``None``: one request per batch.

    Raises
    ------
    IndexError, ValueError
        An index out of range, a user listed twice, evictions the memory cannot make, or batch
        numbers that do not form batches (see :func:`~partialloading.timing.steps.steps_of`).
    """
    idx = _indices(instance, order)
    if evicted is not None and len(evicted) != idx.size:
        raise ValueError("one list of evicted blocks per request is needed")
    return timing_of(instance).timeline(instance, idx, evicted, batch)


def bandwidth_split(
    instance: Instance,
    order: Sequence[int] | IntArray,
    evicted: Evictions | None = None,
    batch: Batches | None = None,
) -> FloatArray:
    """The bandwidth of each admitted user (in ``order``) under the instance's timing model."""
    return timing_of(instance).bandwidth(instance, _indices(instance, order), evicted, batch)


def finish_alone(instance: Instance) -> FloatArray:
    """Finish time of each user if it were the only one admitted."""
    return timing_of(instance).finish_alone(instance)


def servable_alone(instance: Instance) -> IntArray:
    """Indices of the users that meet their deadline when served alone.

    No other user can ever be admitted, under every timing and memory model: the admissible sets
    are closed under removal (removing a user never delays the others, a promise of every
    memory model), so a user late on its own is late in every schedule. Exact methods
    drop the others up front; the weight of these users is an upper bound on the objective.
    """
    return np.flatnonzero(meets(finish_alone(instance), instance.deadlines)).astype(np.int64)


def schedule(instance: Instance, tolerance_share: float = 0.5) -> Schedule:
    """The incremental schedule arithmetic of the instance's timing model."""
    return timing_of(instance).schedule(instance, tolerance_share)


__all__ = [
    "FRAME",
    "PIPELINED",
    "TIMING_MODELS",
    "TIMING_NAMES",
    "Batches",
    "FrameSchedule",
    "FrameTiming",
    "PipelinedSchedule",
    "PipelinedTiming",
    "Schedule",
    "Steps",
    "Timeline",
    "TimingModel",
    "bandwidth_split",
    "finish_alone",
    "instance_steps",
    "schedule",
    "servable_alone",
    "timeline",
    "timing_of",
]
