"""What a server's GPU memory holds between the rounds of a simulation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from partialloading.instance import Instance, User
from partialloading.solution import Solution

__all__ = ["GpuState"]


@dataclass(frozen=True)
class GpuState:
    """What GPU memory holds between rounds: the model loaded last (the one-model memory), or the
    resident blocks, least recently used first (a memory with a capacity).

    Attributes
    ----------
    model
        The model in memory (one-model memory), or ``None``.
    blocks
        The resident block ids, least recently used first (with a capacity), or ``None``.
    bytes
        Bytes resident.
    """

    model: str | None
    blocks: tuple[str, ...] | None
    bytes: float

    @classmethod
    def start(cls, server: Instance) -> GpuState:
        """The state at time 0 (the server's initial model or blocks)."""
        resident = server.initial_resident
        size = float(server.block_sizes[list(resident)].sum()) if resident else 0.0
        if server.memory_bytes is None:
            return cls(server.initial_model, None, size)
        return cls(None, tuple(server.blocks[j].id for j in resident), size)

    def round_instance(self, server: Instance, users: tuple[User, ...], index: int) -> Instance:
        """The instance of round ``index``: its users, starting from this state."""
        name = f"{server.name}-round{index}"
        if self.blocks is None:
            return dataclasses.replace(server, users=users, initial_model=self.model, name=name)
        return dataclasses.replace(server, users=users, initial_model=None, initial_blocks=self.blocks, name=name)

    def after(self, solution: Solution) -> GpuState:
        """The state a round's schedule leaves (the blocks of private copies map back to the
        blocks they copy, so that the next round starts from the same bytes)."""
        instance = solution.instance
        line = solution.timeline
        if self.blocks is None:
            last = instance.users[solution.order[-1]].model
            size = float(instance.model_sizes[instance.model_index[last]])
            return GpuState(last, None, size)
        ran = solution.evaluated
        final = line.resident_after
        original = {
            copy: block
            for shared, plain in zip(instance.models, ran.models, strict=True)
            for block, copy in zip(shared.blocks, plain.blocks, strict=True)
        }
        # A block held through two models' copies keeps its most recent use.
        ids = list(dict.fromkeys(original[ran.blocks[j].id] for j in reversed(final)))[::-1]
        size = float(sum(instance.blocks[instance.block_index[b]].size_bytes for b in ids))
        return GpuState(None, tuple(ids), size)
