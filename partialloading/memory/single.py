"""The seed's GPU memory: it holds the blocks of the model it loaded last.

Switching from model ``i`` to ``i'`` loads the blocks of ``i'`` missing from ``i``; the same
model again loads nothing; at time 0 the memory holds the initial model (or nothing). The loads
form a matrix ``ℓ(i, i')`` that satisfies the triangle inequality (the blocks ``i''`` misses after
``i`` are missed after ``i'`` or were missing from ``i'`` after ``i``), the structure several
exactness arguments and the fast insertion tests use (:data:`~partialloading.memory.PAIRWISE`).

Without parameter sharing every model owns private copies of its blocks
(:meth:`partialloading.instance.Instance.unshared`), and the same matrix is the whole-model
reload ``ℓ_ns``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from partialloading.arrays import FloatArray, IntArray

from .base import PAIRWISE

if TYPE_CHECKING:
    from partialloading.instance import Instance


def _readonly(array: FloatArray) -> FloatArray:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class SingleModelMemory:
    """The GPU holds the blocks of the model it loaded last (at time 0, the initial model).

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
    initial
        Index of the initial model, or ``None`` for an empty GPU.
    """

    matrix: FloatArray
    first: FloatArray
    load_speed: float
    model_sizes: FloatArray
    initial: int | None

    name: ClassVar[str] = "single"
    summary: ClassVar[str] = "the GPU holds the blocks of the model it loaded last"
    structure: ClassVar[frozenset[str]] = frozenset({PAIRWISE})

    @classmethod
    def of(cls, instance: Instance) -> SingleModelMemory:
        """The memory of ``instance``."""
        member = instance.membership.astype(float)
        speed = float(instance.load_speed_bytes_per_s)
        # Sum only the sizes of missing blocks (no difference of totals) so that ℓ(i, i') is
        # computed as exactly as the verifier's block-by-block sum.
        matrix = ((1.0 - member) * instance.block_sizes) @ member.T / speed
        np.fill_diagonal(matrix, 0.0)
        i0 = instance.initial_model_index
        first = instance.model_sizes / speed if i0 is None else matrix[i0].copy()
        return cls(
            matrix=_readonly(np.ascontiguousarray(matrix)),
            first=_readonly(np.asarray(first, dtype=float)),
            load_speed=speed,
            model_sizes=instance.model_sizes,
            initial=i0,
        )

    def loads(self, models: IntArray) -> FloatArray:
        """Loading time before each request, for requests of ``models`` served in that order."""
        load = np.empty(models.size)
        if models.size:
            load[0] = self.first[models[0]]
            load[1:] = self.matrix[models[:-1], models[1:]]
        return load

    def start(self) -> Hashable:
        """The model in memory at time 0 (``None``: empty)."""
        return self.initial

    def step(self, state: Hashable, model: int) -> tuple[float, Hashable]:
        """Load ``model`` after ``state`` (the model in memory); the state after is ``model``."""
        load = self.first[model] if state is None else self.matrix[state, model]  # type: ignore[index]
        return float(load), model
