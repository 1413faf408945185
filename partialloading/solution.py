"""A solution: which users are served, in what order, and the bandwidth split.

The solution stores only the decisions (the ordered admitted users and the sharing mode) and
recomputes everything else — timeline, bandwidth, objective — from the instance (without sharing,
from :meth:`~partialloading.instance.Instance.unshared`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .instance import FloatArray, Instance
from .timing import Timeline, timeline
from .timing.steps import batch_groups


@dataclass(frozen=True, eq=False)
class Solution:
    """Admitted users in service order, evaluated under the instance's timing model.

    Parameters
    ----------
    instance
        The instance the solution belongs to.
    order
        Indices (into ``instance.users``) of the admitted users, in service order.
    sharing
        Whether loads reuse blocks already in GPU memory.
    evicted
        The blocks evicted right before each request (indices into the blocks of
        :attr:`evaluated`), or ``None`` (or a ``None`` entry): the memory model's default rule.
        A batch's evictions are on its first request.
    batch
        The batch number of each request (0-based, nondecreasing; consecutive requests with one
        number form one batch: one load and one inference of their model), or ``None``: one
        request per batch. Batch numbers that give every request its own batch are stored as
        ``None``, so a schedule has one form.
    """

    instance: Instance
    order: tuple[int, ...]
    sharing: bool = True
    evicted: tuple[tuple[int, ...] | None, ...] | None = None
    batch: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", tuple(int(k) for k in self.order))
        if self.evicted is not None:
            plans = tuple(None if e is None else tuple(int(j) for j in e) for e in self.evicted)
            object.__setattr__(self, "evicted", plans)
        if self.batch is not None:
            numbers = tuple(int(b) for b in self.batch)
            object.__setattr__(self, "batch", None if numbers == tuple(range(len(numbers))) else numbers)

    @classmethod
    def from_user_ids(cls, instance: Instance, users: Sequence[str], sharing: bool = True) -> Solution:
        """Build a solution from user ids in service order."""
        return cls(instance, tuple(instance.user_index[u] for u in users), sharing)

    @property
    def evaluated(self) -> Instance:
        """The instance the schedule runs on: :attr:`instance`, or its
        :meth:`~partialloading.instance.Instance.unshared` copy without sharing."""
        return self.instance if self.sharing else self.instance.unshared()

    @cached_property
    def timeline(self) -> Timeline:
        """Per-request timeline (see :func:`partialloading.timing.timeline`)."""
        return timeline(self.evaluated, self.order, self.evicted, self.batch)

    @property
    def batches(self) -> tuple[tuple[str, ...], ...]:
        """The user ids of each batch, in service order."""
        return tuple(tuple(group) for group in batch_groups(self.admitted, self.batch))

    @property
    def evicted_ids(self) -> tuple[tuple[str, ...], ...]:
        """Ids of the blocks evicted right before each request (of :attr:`evaluated`)."""
        blocks = self.evaluated.blocks
        return tuple(tuple(blocks[j].id for j in gone) for gone in self.timeline.evicted)

    @cached_property
    def bandwidth(self) -> FloatArray:
        """Bandwidth of each admitted user in Hz, in service order (the timing model's split)."""
        return self.timeline.bandwidth

    @property
    def feasible(self) -> bool:
        """Whether every admitted user finishes by its deadline."""
        return self.timeline.feasible

    @cached_property
    def objective(self) -> float:
        """Total weight of the admitted users (the number served with unit weights)."""
        return float(self.instance.weights[list(self.order)].sum()) if self.order else 0.0

    @property
    def admitted(self) -> tuple[str, ...]:
        """Ids of the admitted users in service order."""
        return tuple(self.instance.users[k].id for k in self.order)

    @property
    def rejected(self) -> tuple[str, ...]:
        """Ids of the users not served, in instance order."""
        served = set(self.order)
        return tuple(u.id for k, u in enumerate(self.instance.users) if k not in served)

    @property
    def loaded_bytes(self) -> float:
        """Total bytes loaded into GPU memory."""
        return float(np.sum(self.timeline.loaded_bytes))

    @property
    def reused_bytes(self) -> float:
        """Total bytes of requested models that were already in GPU memory."""
        return float(np.sum(self.timeline.reused_bytes))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Solution):
            return NotImplemented
        return (
            self.instance is other.instance
            and self.order == other.order
            and self.sharing == other.sharing
            and self.evicted == other.evicted
            and self.batch == other.batch
        )

    __hash__ = None  # type: ignore[assignment]
