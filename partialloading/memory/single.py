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

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from partialloading.arrays import FloatArray, IntArray

from .base import PAIRWISE, MemoryPlan

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
    blocks_of
        The blocks of each model (indices).
    initial
        The blocks in memory at time 0 (the initial model's, or the initial blocks).
    """

    matrix: FloatArray
    first: FloatArray
    load_speed: float
    model_sizes: FloatArray
    blocks_of: tuple[frozenset[int], ...]
    initial: frozenset[int]

    name: ClassVar[str] = "single"
    summary: ClassVar[str] = "the GPU holds the blocks of the model it loaded last"
    structure: ClassVar[frozenset[str]] = frozenset({PAIRWISE})
    needs: ClassVar[tuple[str, ...]] = ()
    implied_by: ClassVar[str | None] = None
    evictions_in_files: ClassVar[bool] = False

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
        if i0 is not None:
            first = matrix[i0].copy()
        else:
            resident = np.zeros(len(instance.blocks), dtype=bool)
            resident[list(instance.initial_resident)] = True
            first = ((~resident) * instance.block_sizes) @ member.T / speed
        return cls(
            matrix=_readonly(np.ascontiguousarray(matrix)),
            first=_readonly(np.asarray(first, dtype=float)),
            load_speed=speed,
            model_sizes=instance.model_sizes,
            blocks_of=tuple(frozenset(np.flatnonzero(row).tolist()) for row in instance.membership),
            initial=frozenset(instance.initial_resident),
        )

    def plan(self, models: IntArray, evicted: Sequence[Sequence[int] | None] | None = None) -> MemoryPlan:
        """Loads of the order; the memory evicts every block the next model does not hold (the
        given ``evicted``, if any, must be exactly those)."""
        load = np.empty(models.size)
        if models.size:
            load[0] = self.first[models[0]]
            load[1:] = self.matrix[models[:-1], models[1:]]
        out: list[tuple[int, ...]] = []
        held = self.initial
        for q, m in enumerate(models.tolist()):
            dropped = tuple(sorted(held - self.blocks_of[m]))
            wanted = None if evicted is None else evicted[q]
            if wanted is not None and set(wanted) != set(dropped):
                raise ValueError(
                    f"request {q}: the single-model memory evicts exactly the blocks the request does not need"
                )
            out.append(dropped)
            held = self.blocks_of[m]
        final = tuple(sorted(held))
        return MemoryPlan(load, tuple(out), self.model_sizes[models].astype(float), final)

    def start(self) -> Hashable:
        """The model in memory (``None``: the initial state)."""
        return None

    def choices(
        self, state: Hashable, model: int, later: frozenset[int] | None = None
    ) -> Sequence[tuple[float, Hashable, tuple[int, ...]]]:
        """Load ``model`` after ``state`` (the model in memory): the one way there is."""
        if state is None:
            return [(float(self.first[model]), model, tuple(sorted(self.initial - self.blocks_of[model])))]
        last = int(state)  # type: ignore[call-overload]
        held = self.blocks_of[last]
        return [(float(self.matrix[last, model]), model, tuple(sorted(held - self.blocks_of[model])))]
