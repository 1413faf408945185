"""What every memory model provides: the :class:`Memory` protocol and the structure flags.

A memory model answers one question for the timing models — how long the load before each
request of a service order takes — and, for the exact searches, the same question one request at
a time from a hashable memory state. Methods that rely on more (loads that depend only on the
previous model) declare it in the method registry through :data:`PAIRWISE`, and the memory
models that have it say so in :attr:`Memory.structure`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from partialloading.arrays import FloatArray, IntArray

if TYPE_CHECKING:
    from partialloading.instance import Instance

PAIRWISE = "pairwise"
"""Structure flag: the load before a request depends only on the model served just before it
(``ℓ(i, i')``, a matrix), and these loads satisfy the triangle inequality
``ℓ(i, i'') ≤ ℓ(i, i') + ℓ(i', i'')``. The dynamic program, the branch-and-bound, CP-SAT and the
MILP formulations are written on that matrix."""

BOUNDED = "bounded"
"""Structure flag: no request loads more than :attr:`Memory.matrix` says after the model served
before it (and :attr:`Memory.first` first), whatever the evictions, as long as they are lazy.
An order feasible under the matrix is then feasible under this memory: the matrix is a
conservative stand-in for fast searches."""


@dataclass(frozen=True)
class MemoryPlan:
    """What the memory does for one service order.

    Attributes
    ----------
    load
        Loading time before each request (seconds).
    evicted
        Indices of the blocks evicted right before each request.
    resident_bytes
        Bytes resident after each request.
    final
        The blocks resident after the last request, least recently used first (the state the
        next round of a simulation starts from).
    """

    load: FloatArray
    evicted: tuple[tuple[int, ...], ...]
    resident_bytes: FloatArray
    final: tuple[int, ...] = ()


class Memory(Protocol):
    """The GPU memory of one instance.

    Every memory model keeps one promise the exact methods rely on: removing a request from an
    order never delays the others (the blocks it loaded are loaded later at most once), so the
    admissible sets are closed under removal.

    Attributes
    ----------
    name, summary
        The model's name (the instance's ``memory`` field, ``server.memory`` in files) and one
        line for the docs.
    structure
        Structure flags (:data:`PAIRWISE`, :data:`BOUNDED`) that methods may require.
    first
        Loading time of each model when it is served first, from the initial state (exact).
    matrix
        ``ℓ[from model, to model]``: exact when :data:`PAIRWISE` is in :attr:`structure`, else
        an estimate that heuristics use only to rank their choices (never to decide feasibility).
    load_speed
        Bytes per second, to turn times into bytes.
    model_sizes
        Size of each model in bytes.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    structure: ClassVar[frozenset[str]]
    needs: ClassVar[tuple[str, ...]]
    """The server fields (instance attributes) the memory needs set, e.g. ``memory_bytes``."""
    implied_by: ClassVar[str | None]
    """The server field whose presence makes this memory the one an instance that names none
    has (``None``: the memory of an instance with none of those fields). Files name a memory
    (``server.memory``) only when it is not the implied one."""
    evictions_in_files: ClassVar[bool]
    """Whether solution files carry this memory's evictions (``evicted``): where they are
    decisions, not a consequence of the order."""

    @property
    def first(self) -> FloatArray: ...

    @property
    def matrix(self) -> FloatArray: ...

    @property
    def load_speed(self) -> float: ...

    @property
    def model_sizes(self) -> FloatArray: ...

    @property
    def blocks_of(self) -> tuple[frozenset[int], ...]:
        """The blocks (indices) of each model."""
        ...

    @classmethod
    def of(cls, instance: Instance) -> Memory:
        """The memory of ``instance``."""
        ...

    def plan(self, models: IntArray, evicted: Sequence[Sequence[int] | None] | None = None) -> MemoryPlan:
        """Serve requests of ``models`` in that order: with the given evictions (block indices
        evicted right before each request), or the memory's default rule where ``None``.

        Raises
        ------
        ValueError
            The evictions are not possible (a block not resident, or needed by the request, or
            memory beyond its capacity).
        """
        ...

    def start(self) -> Hashable:
        """The memory state at time 0."""
        ...

    def choices(
        self, state: Hashable, model: int, later: frozenset[int] | None = None
    ) -> Sequence[tuple[float, Hashable, tuple[int, ...]]]:
        """Every way worth considering to serve a request of ``model`` in ``state``: its loading
        time, the state after it and the blocks evicted (the exact searches try each).
        ``later``: the blocks the requests still to come may need (``None``: unknown)."""
        ...


def loaded_reused(memory: Memory, models: IntArray, load: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Bytes loaded before each request and bytes of its model already in GPU memory."""
    loaded = load * memory.load_speed
    return loaded, np.maximum(memory.model_sizes[models] - loaded, 0.0)
