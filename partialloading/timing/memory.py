"""GPU memory: what must be loaded before each request of a service order.

The timing models ask the memory model one question, the loading time before each request of
an order (:meth:`SingleModelMemory.loads`), so a memory that keeps several models' blocks
within a capacity (with evictions) can replace this one without touching them: its answer
depends on the whole history, which the order carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from partialloading.arrays import FloatArray, IntArray

if TYPE_CHECKING:
    from partialloading.instance import Instance


@dataclass(frozen=True, eq=False)
class SingleModelMemory:
    """The GPU holds the blocks of the model it loaded last (at time 0, the initial model).

    Switching from model ``i`` to ``i'`` loads the blocks of ``i'`` missing from ``i``
    (``sharing=True``) or the whole of ``i'`` (``sharing=False``); the same model again loads
    nothing. These loading times satisfy the triangle inequality, which several exactness
    arguments use.

    Attributes
    ----------
    matrix
        ``ℓ[from model, to model]`` in seconds.
    first
        Loading time of each model when it is served first (from the initial state).
    load_speed
        Bytes per second, to turn times back into bytes.
    model_sizes
        Size of each model in bytes.
    """

    matrix: FloatArray
    first: FloatArray
    load_speed: float
    model_sizes: FloatArray

    @classmethod
    def of(cls, instance: Instance, sharing: bool = True) -> SingleModelMemory:
        """The memory of ``instance`` with or without parameter sharing."""
        return cls(
            matrix=np.ascontiguousarray(instance.load_matrix(sharing)),
            first=np.asarray(instance.initial_load(sharing)),
            load_speed=float(instance.load_speed_bytes_per_s),
            model_sizes=instance.model_sizes,
        )

    def loads(self, models: IntArray) -> FloatArray:
        """Loading time before each request, for requests of ``models`` served in that order."""
        load = np.empty(models.size)
        if models.size:
            load[0] = self.first[models[0]]
            load[1:] = self.matrix[models[:-1], models[1:]]
        return load

    def load_after(self, previous: int | None, model: int) -> float:
        """Loading time of ``model`` right after ``previous`` (``None``: served first)."""
        return float(self.first[model] if previous is None else self.matrix[previous, model])

    def loaded_reused(self, models: IntArray, load: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Bytes loaded before each request and bytes of its model already in memory."""
        loaded = load * self.load_speed
        return loaded, np.maximum(self.model_sizes[models] - loaded, 0.0)
