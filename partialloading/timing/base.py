"""What every timing model produces: the :class:`Timeline` of a schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from partialloading.arrays import FloatArray, IntArray
from partialloading.tolerance import meets

Evictions = Sequence[Sequence[int] | None]
"""The blocks (indices) evicted right before each request of an order (``None``: the memory
model's default rule for that request)."""


@dataclass(frozen=True)
class Timeline:
    """Per-request timing of a schedule (arrays in service order).

    Attributes
    ----------
    timing
        Name of the timing model that produced the timeline.
    order
        User indices in service order.
    bandwidth
        Bandwidth of each request's user in Hz.
    upload_ends
        Time each request's input has arrived (``a_k / b_k``).
    load
        Loading time before each request (0 when its blocks are already in memory).
    start
        Start of the load before each request.
    infer_start
        Start of inference (at least ``start + load`` and the request's own upload end).
    finish
        Completion time of each request.
    deadline
        Deadline of each request.
    loaded_bytes, reused_bytes
        Bytes loaded for the request and bytes of its model already in GPU memory.
    evicted
        Indices of the blocks evicted right before each request.
    resident_bytes
        Bytes in GPU memory after each request.
    resident_after
        The blocks in GPU memory after the last request, least recently used first.
    batch
        The batch number of each request (members of a batch share its load, start, inference
        start and finish; its loaded and reused bytes and evictions are on its first request).
    """

    timing: str
    order: IntArray
    bandwidth: FloatArray
    upload_ends: FloatArray
    load: FloatArray
    start: FloatArray
    infer_start: FloatArray
    finish: FloatArray
    deadline: FloatArray
    loaded_bytes: FloatArray
    reused_bytes: FloatArray
    evicted: tuple[tuple[int, ...], ...] = ()
    resident_bytes: FloatArray = field(default_factory=lambda: np.zeros(0))
    resident_after: tuple[int, ...] = ()
    batch: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def upload_end(self) -> float:
        """Time the last admitted upload arrives (0 when nothing is served); ``τ`` under frame timing."""
        return float(self.upload_ends.max()) if self.upload_ends.size else 0.0

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
        """Completion time of the last request (the upload end when nothing is served)."""
        return float(self.finish[-1]) if self.finish.size else self.upload_end
