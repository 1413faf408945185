"""A GPU memory with a capacity: it keeps whatever blocks fit, with evictions.

The state is the set ``R`` of resident blocks, ``Σ_{j∈R} s_j ≤ M``; at time 0 the initial
model's blocks or the instance's initial blocks. Serving a request of model ``i``: first evict a
set ``E ⊆ R \\ P_i`` (never a block the request needs), then load ``P_i \\ R`` in
``Σ_{j ∈ P_i \\ R} s_j / v`` seconds; afterwards ``R ← (R \\ E) ∪ P_i`` must fit. Evicting is
instantaneous and nothing is loaded ahead of need.

**The default rule** turns a bare order into evictions: evict lazily (only while the request
does not fit), one block at a time, the block of ``R \\ P_i`` whose next use in the rest of the
order is furthest (never again counts as furthest), then the least recently used (an initial
block is older than any request; among initial blocks, their order), then the largest, then the
smallest id. It is Belady's rule with sizes: not optimal in general, so the exact methods choose
the evictions themselves (:meth:`CapacityMemory.choices`: every inclusion-minimal set that makes
the request fit; keeping more blocks never lengthens a later load, since evicting is free).

Whatever the lazy evictions, the blocks of the model served just before are resident, so no
request loads more than the one-model memory's ``ℓ(previous, model)``: the matrix of
:class:`~partialloading.memory.single.SingleModelMemory` bounds every load
(:data:`~partialloading.memory.BOUNDED`), and an order the one-model memory serves on time is
served on time here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from partialloading.arrays import FloatArray, IntArray

from .base import BOUNDED, MemoryPlan
from .single import SingleModelMemory

if TYPE_CHECKING:
    from partialloading.instance import Instance

ROOM = 1e-9
"""Relative slack of the capacity test (sums of block sizes in another order differ in the last bits)."""


@dataclass(frozen=True, eq=False)
class CapacityMemory:
    """The memory of an instance with ``server.memory_bytes`` (see the module docstring).

    Attributes
    ----------
    capacity
        ``M`` in bytes.
    sizes
        Size of each block in bytes.
    block_ids
        Id of each block (the last tie-break of the default rule).
    blocks_of
        The blocks of each model.
    initial
        The blocks resident at time 0, least recently used first.
    first, matrix
        The one-model memory's loads: exact for the first request, an upper bound after.
    load_speed, model_sizes
        Bytes per second; size of each model in bytes.
    """

    capacity: float
    sizes: tuple[float, ...]
    block_ids: tuple[str, ...]
    blocks_of: tuple[frozenset[int], ...]
    initial: tuple[int, ...]
    first: FloatArray
    matrix: FloatArray
    load_speed: float
    model_sizes: FloatArray

    name: ClassVar[str] = "capacity"
    summary: ClassVar[str] = "the GPU keeps whatever blocks fit in memory_bytes, evicting by plan"
    structure: ClassVar[frozenset[str]] = frozenset({BOUNDED})
    needs: ClassVar[tuple[str, ...]] = ("memory_bytes",)
    implied_by: ClassVar[str | None] = "memory_bytes"
    evictions_in_files: ClassVar[bool] = True
    look_ahead: ClassVar[bool] = True
    """Whether the default rule looks at the rest of the order (furthest next use first)."""

    @classmethod
    def of(cls, instance: Instance) -> CapacityMemory:
        """The memory of ``instance`` (which has ``memory_bytes``)."""
        single = SingleModelMemory.of(instance)
        return cls(
            capacity=float(instance.memory_bytes or math.inf),
            sizes=tuple(float(b.size_bytes) for b in instance.blocks),
            block_ids=tuple(b.id for b in instance.blocks),
            blocks_of=single.blocks_of,
            initial=instance.initial_resident,
            first=single.first,
            matrix=single.matrix,
            load_speed=single.load_speed,
            model_sizes=single.model_sizes,
        )

    def _fits(self, total: float) -> bool:
        return total <= self.capacity * (1.0 + ROOM)

    # ------------------------------------------------------------------ whole orders
    def plan(self, models: IntArray, evicted: Sequence[Sequence[int] | None] | None = None) -> MemoryPlan:
        """The loads, evictions and resident bytes of serving ``models`` in order: with the given
        ``evicted`` (checked; an entry ``None`` and ``evicted=None`` take the default rule)."""
        order = [int(m) for m in models]
        # Recency: the initial blocks are older than any request, in their order.
        recency = {j: pos - len(self.initial) for pos, j in enumerate(self.initial)}
        resident = set(self.initial)
        total = sum(self.sizes[j] for j in resident)
        given = [None] * len(order) if evicted is None else list(evicted)
        uses = self._uses(order) if any(e is None for e in given) else {}
        load = np.empty(len(order))
        out: list[tuple[int, ...]] = []
        after = np.empty(len(order))
        for q, m in enumerate(order):
            need = self.blocks_of[m]
            missing = need - resident
            grow = sum(self.sizes[j] for j in missing)
            for j in need if uses else ():
                stack = uses.get(j)
                while stack and stack[-1] <= q:
                    stack.pop()
            chosen = given[q]
            if chosen is None:
                gone = self._default_evictions(need, resident, total + grow, uses, recency)
            else:
                gone = self._checked_evictions(q, need, resident, chosen)
            for j in gone:
                resident.discard(j)
                total -= self.sizes[j]
            resident |= missing
            total += grow
            if not self._fits(total):
                raise ValueError(f"request {q}: {total:g} bytes resident, beyond memory_bytes {self.capacity:g}")
            for j in need:
                recency[j] = q
            load[q] = grow / self.load_speed
            out.append(gone)
            after[q] = total
        final = tuple(sorted(resident, key=lambda j: (recency[j], j)))
        return MemoryPlan(load, tuple(out), after, final)

    def _uses(self, order: list[int]) -> dict[int, list[int]]:
        """Positions at which each block is needed, latest first (popped as the order advances)."""
        uses: dict[int, list[int]] = {}
        for q in range(len(order) - 1, -1, -1):
            for j in self.blocks_of[order[q]]:
                uses.setdefault(j, []).append(q)
        return uses

    def _default_evictions(
        self,
        need: frozenset[int],
        resident: set[int],
        total: float,
        uses: dict[int, list[int]],
        recency: dict[int, int],
    ) -> tuple[int, ...]:
        """The default rule's evictions before a request of blocks ``need`` (``total``: bytes
        resident if nothing goes; ``uses``: each block's later uses, the next one last)."""
        if self._fits(total):
            return ()
        candidates = resident - need

        def rank(j: int) -> tuple[float, float, float, str]:
            stack = uses.get(j)
            next_use = stack[-1] if stack and self.look_ahead else math.inf
            return (-next_use, float(recency.get(j, -len(self.initial) - 1)), -self.sizes[j], self.block_ids[j])

        gone: list[int] = []
        for j in sorted(candidates, key=rank):
            if self._fits(total):
                break
            gone.append(j)
            total -= self.sizes[j]
        return tuple(gone)

    def _checked_evictions(
        self, q: int, need: frozenset[int], resident: set[int], given: Sequence[int]
    ) -> tuple[int, ...]:
        gone = tuple(int(j) for j in given)
        for j in gone:
            if j not in resident:
                raise ValueError(f"request {q}: block {self.block_ids[j]!r} is evicted but not resident")
            if j in need:
                raise ValueError(f"request {q}: block {self.block_ids[j]!r} is evicted but the request needs it")
        if len(set(gone)) != len(gone):
            raise ValueError(f"request {q}: a block is evicted twice")
        return gone

    # ------------------------------------------------------------------ exact searches
    def start(self) -> Hashable:
        """The resident blocks at time 0."""
        return frozenset(self.initial)

    def choices(
        self, state: Hashable, model: int, later: frozenset[int] | None = None
    ) -> Sequence[tuple[float, Hashable, tuple[int, ...]]]:
        """Every inclusion-minimal set of blocks whose eviction lets ``model`` fit (nothing when it
        fits), each with the load and the resident blocks after.

        With ``later`` (the blocks the requests still to come may need), the blocks no later
        request needs go first, all of them: keeping them is worth nothing, so evicting them
        dominates every other choice; only when they do not free enough are the inclusion-minimal
        sets of the others added to them.
        """
        resident: frozenset[int] = state  # type: ignore[assignment]
        need = self.blocks_of[model]
        missing = need - resident
        load = sum(self.sizes[j] for j in missing) / self.load_speed
        after = resident | need
        excess = sum(self.sizes[j] for j in after) - self.capacity * (1.0 + ROOM)
        if excess <= 0:
            return [(load, after, ())]
        candidates = resident - need
        dead: tuple[int, ...] = ()
        if later is not None:
            dead = tuple(sorted(candidates - later))
            excess -= sum(self.sizes[j] for j in dead)
            if excess <= 0:
                return [(load, after - frozenset(dead), dead)]
            candidates = candidates & later
        out = []
        for gone in self._minimal_sets(sorted(candidates), excess):
            evicted = tuple(sorted((*dead, *gone)))
            out.append((load, after - frozenset(evicted), evicted))
        return out

    def _minimal_sets(self, candidates: list[int], excess: float) -> list[tuple[int, ...]]:
        """Every inclusion-minimal subset of ``candidates`` of at least ``excess`` bytes."""
        sets: list[tuple[int, ...]] = []
        for size in range(1, len(candidates) + 1):
            for subset in itertools.combinations(candidates, size):
                if sum(self.sizes[j] for j in subset) < excess:
                    continue
                if any(set(smaller) <= set(subset) for smaller in sets):
                    continue
                sets.append(subset)
        return sets


@dataclass(frozen=True, eq=False)
class LruMemory(CapacityMemory):
    """The same capacity, managed as an LRU cache: before a request, the least recently used
    blocks it does not need go (then the largest, then the smallest id) until it fits. There is
    no choice and no look-ahead, so exact methods search the orders only; it is the baseline a
    serving system without planned evictions gets (memory model ``"capacity-lru"``; with
    ``sharing=False``, a whole-model LRU cache)."""

    name: ClassVar[str] = "capacity-lru"
    implied_by: ClassVar[str | None] = None
    summary: ClassVar[str] = "the GPU keeps whatever blocks fit in memory_bytes, evicting the least recently used"
    look_ahead: ClassVar[bool] = False

    def start(self) -> Hashable:
        """The resident blocks at time 0, least recently used first."""
        return tuple(self.initial)

    def choices(
        self, state: Hashable, model: int, later: frozenset[int] | None = None
    ) -> Sequence[tuple[float, Hashable, tuple[int, ...]]]:
        """The one way an LRU cache serves ``model``: the state is the resident blocks, least
        recently used first."""
        order: tuple[int, ...] = state  # type: ignore[assignment]
        need = self.blocks_of[model]
        resident = set(order)
        missing = need - resident
        load = sum(self.sizes[j] for j in missing) / self.load_speed
        total = sum(self.sizes[j] for j in resident | need)
        gone: list[int] = []
        for j in order:
            if self._fits(total):
                break
            if j not in need:
                gone.append(j)
                total -= self.sizes[j]
        kept = [j for j in order if j not in need and j not in gone]
        # The request's blocks are now the most recent; among them the largest goes first (as in
        # the default rule's ranking).
        fresh = sorted(need, key=lambda j: (-self.sizes[j], self.block_ids[j]))
        return [(load, (*kept, *fresh), tuple(sorted(gone)))]
