"""The GPU memory replayed from the instance data alone, for the independent verifier.

Written out here, not imported from :mod:`partialloading.memory`: the verifier and the toolkit's
evaluator are two implementations checking each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from partialloading.instance import Instance

RELATIVE_TOLERANCE = 1e-9
"""The verifier's relative tolerance (see :data:`partialloading.validation.verify.RELATIVE_TOLERANCE`)."""


class Capacity:
    """The memory with a capacity, replayed from the instance data alone (written out here, not
    imported). Without sharing (when some block is shared at all) every model holds private
    copies ``model/block`` of its blocks (``#n`` appended while a name is taken); a copy is
    resident at time 0 when its model is held whole by the initial blocks, the most recently used
    models first while they fit."""

    def __init__(self, instance: Instance, sharing: bool) -> None:
        self.capacity = float(instance.memory_bytes or math.inf)
        size = {b.id: float(b.size_bytes) for b in instance.blocks}
        if instance.initial_blocks is not None:
            initial = list(instance.initial_blocks)
        elif instance.initial_model is not None:
            initial = list(next(m.blocks for m in instance.models if m.id == instance.initial_model))
        else:
            initial = []
        self.blocks = {m.id: list(m.blocks) for m in instance.models}
        holders: dict[str, int] = {}
        for m in instance.models:
            for b in m.blocks:
                holders[b] = holders.get(b, 0) + 1
        if not sharing and any(count > 1 for count in holders.values()):
            taken, copies = set(size), {}
            for m in instance.models:
                for b in m.blocks:
                    name, n = f"{m.id}/{b}", 1
                    while name in taken:
                        name, n = f"{m.id}/{b}#{n}", n + 1
                    taken.add(name)
                    copies[m.id, b] = name
                    size[name] = size[b]
            self.blocks = {m.id: [copies[m.id, b] for b in m.blocks] for m in instance.models}
            position = {b: i for i, b in enumerate(initial)}
            whole = [m for m in instance.models if all(b in position for b in m.blocks)]
            whole.sort(key=lambda m: (max(position[b] for b in m.blocks), m.id), reverse=True)
            room, kept = self.capacity, []
            for m in whole:
                need = sum(size[b] for b in m.blocks)
                if need <= room:
                    room -= need
                    kept += [(position[b], copies[m.id, b]) for b in m.blocks]
            initial = [name for _, name in sorted(kept)]
        self.size = size
        self.resident = list(initial)  # least recently used first
        self.last_use = {b: i - len(initial) for i, b in enumerate(initial)}

    def default_evictions(self, q: int, models: list[str], model: str) -> list[str]:
        """The default rule before request ``q`` of the order ``models``: while the request does
        not fit, evict the block it does not need that is used again latest (never: first),
        then the least recently used, then the largest, then the smallest id."""
        need = set(self.blocks[model])
        total = sum(self.size[b] for b in set(self.resident) | need)
        later: dict[str, float] = {}
        for r in range(len(models) - 1, q, -1):
            for b in self.blocks.get(models[r], []):
                later[b] = r
        candidates = [b for b in self.resident if b not in need]
        candidates.sort(key=lambda b: (-later.get(b, math.inf), self.last_use[b], -self.size[b], b))
        gone = []
        for b in candidates:
            if total <= self.capacity * (1.0 + RELATIVE_TOLERANCE):
                break
            gone.append(b)
            total -= self.size[b]
        return gone

    def evict_all_but(self, q: int, model: str, evicted: list[str], problem: Callable[[str, str], None]) -> None:
        """The one-model memory (no capacity) before request ``q``: it evicts exactly the
        resident blocks the request does not need; the ``evicted`` a file gives must be those."""
        need = set(self.blocks[model])
        for i, b in enumerate(evicted):
            if b not in self.resident:
                problem(f"schedule[{q}].evicted[{i}]", f"block {b!r} is evicted but not resident")
            elif b in need:
                problem(f"schedule[{q}].evicted[{i}]", f"block {b!r} is evicted but the request needs it")
        kept = sorted(set(self.resident) - need - set(evicted))
        if kept:
            problem(
                f"schedule[{q}].evicted",
                f"the one-model memory evicts every block the request does not need (also {', '.join(kept[:5])})",
            )

    def serve(self, q: int, model: str, evicted: list[str], problem: Callable[[str, str], None]) -> float:
        """Evict, load the missing blocks, check the capacity; returns the bytes loaded."""
        need = self.blocks[model]
        for i, b in enumerate(evicted):
            if b not in self.resident:
                problem(f"schedule[{q}].evicted[{i}]", f"block {b!r} is evicted but not resident")
            elif b in need:
                problem(f"schedule[{q}].evicted[{i}]", f"block {b!r} is evicted but the request needs it")
            else:
                self.resident.remove(b)
        missing = [b for b in need if b not in self.resident]
        self.resident += missing
        for b in need:
            self.last_use[b] = q
        total = sum(self.size[b] for b in self.resident)
        if total > self.capacity * (1.0 + RELATIVE_TOLERANCE):
            problem(f"schedule[{q}].evicted", f"{total:.9g} bytes resident, beyond memory_bytes {self.capacity:.9g}")
        return sum(self.size[b] for b in missing)
