"""Position-based MILP for a GPU memory with a capacity (frame timing), in Pyomo for HiGHS.

The positions, assignments, upload phase, deadlines and objective are those of the general
formulation (:func:`~partialloading.formulations.general.positions`). What changes is the load
before each position: instead of a transition between two models, the model tracks which blocks
are resident after each position and charges every block that becomes resident.

- ``resident[j, q] ∈ {0, 1}``: block ``j`` is in GPU memory after position ``q``
  (``resident[j, 0]`` is the initial state, a constant);
- ``needed``: ``resident[j, q] ≥ holds[q, i]`` for every block ``j`` of model ``i`` — a request
  runs with all its blocks resident;
- ``fits``: ``Σ_j s_j·resident[j, q] ≤ M`` at every position;
- ``on_demand``: ``resident[j, q] ≤ resident[j, q−1] + Σ_{i ∋ j} holds[q, i]`` — a block becomes
  resident only when the request at ``q`` needs it (nothing is loaded ahead of need);
- ``loaded[j, q] ≥ resident[j, q] − resident[j, q−1]`` (continuous, ``≥ 0``): the block is loaded
  before position ``q``, in ``s_j / v``;
- ``finish[q] ≥ finish[q−1] + Σ_j (s_j/v)·loaded[j, q] + Σ_i c_i·holds[q, i]`` (``finish[0]``:
  the upload phase).

A block that leaves the resident set between ``q−1`` and ``q`` is evicted right before the
request at ``q``: the evictions are decisions of the model, decoded with the order
(:func:`decode`). Only blocks of candidate models with a positive size take variables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo

from partialloading.instance import Instance
from partialloading.memory import memory_of

from .common import TIME_UNIT_S, ScheduleData, empty_model
from .general import add_finish_rows, positions

FORMULATION = "capacity"
"""The name this formulation reports (``info["formulation"]``) and writes its model under."""


@dataclass(frozen=True)
class BlockData:
    """The blocks the capacity model tracks.

    Attributes
    ----------
    ids
        Ids of the blocks of the candidate models with a positive size (and of resident
        blocks, which can be evicted).
    index
        Index of each of those blocks in the instance.
    load
        Loading time of each block (ms).
    size
        Size of each block (bytes).
    models
        For each candidate model (in the order of ``ScheduleData.model_names``), the positions
        in ``ids`` of its blocks.
    initial
        Positions in ``ids`` of the blocks resident at time 0.
    capacity
        ``M`` in bytes.
    """

    ids: tuple[str, ...]
    index: tuple[int, ...]
    load: tuple[float, ...]
    size: tuple[float, ...]
    models: tuple[tuple[int, ...], ...]
    initial: tuple[int, ...]
    capacity: float


def block_data(
    data: ScheduleData,
    blocks: Sequence[tuple[str, float]],
    blocks_of: Sequence[Sequence[int]],
    initial: Sequence[int],
    speed: float,
    capacity: float,
) -> BlockData:
    """The tracked blocks of ``data``: ``blocks`` are the instance's ``(id, bytes)``,
    ``blocks_of`` each model's blocks (instance indices), ``initial`` the resident ones."""
    wanted = {j for i in data.models.tolist() for j in blocks_of[i] if blocks[j][1] > 0}
    wanted |= {j for j in initial if blocks[j][1] > 0}
    tracked = sorted(wanted)
    position = {j: p for p, j in enumerate(tracked)}
    scale = 1.0 / TIME_UNIT_S
    return BlockData(
        ids=tuple(blocks[j][0] for j in tracked),
        index=tuple(tracked),
        load=tuple(blocks[j][1] / speed * scale for j in tracked),
        size=tuple(blocks[j][1] for j in tracked),
        models=tuple(tuple(position[j] for j in blocks_of[i] if j in position) for i in data.models.tolist()),
        initial=tuple(position[j] for j in initial if j in position),
        capacity=capacity,
    )


def blocks_of_instance(data: ScheduleData, instance: Instance) -> BlockData:
    """:func:`block_data` of ``instance``'s memory with a capacity (its ``memory_bytes``)."""
    return block_data(
        data,
        [(b.id, float(b.size_bytes)) for b in instance.blocks],
        [sorted(own) for own in memory_of(instance).blocks_of],
        instance.initial_resident,
        float(instance.load_speed_bytes_per_s),
        float(instance.memory_bytes or math.inf),
    )


def build(data: ScheduleData, blocks: BlockData) -> pyo.ConcreteModel:
    """Build the capacity MILP of ``data`` with the tracked ``blocks`` (times in ms)."""
    if data.n_users == 0:
        return empty_model("partialloading_capacity")
    m = positions(data, "partialloading_capacity")
    load = add_residency(m, blocks, list(data.model_names), lambda m, q, i: m.holds[q, i])
    add_finish_rows(m, load)
    return m


def add_residency(
    m: pyo.ConcreteModel,
    blocks: BlockData,
    models: Sequence[str],
    holds: Callable[[pyo.ConcreteModel, int, str], Any],
) -> Callable[[pyo.ConcreteModel, int], Any]:
    """Add the resident blocks of every step ``q ∈ m.Q`` (``holds(m, q, i)``: step ``q`` runs
    model ``i``; a position, or a batch slot): ``resident``, ``loaded``, ``needed``, ``fits``,
    ``on_demand``, ``load_new``. Returns the load before step ``q`` as an expression of ``q``."""
    m.J = pyo.Set(initialize=list(blocks.ids), ordered=True, doc="blocks of the candidate models")
    m.block_load = pyo.Param(m.J, initialize=dict(zip(blocks.ids, blocks.load, strict=True)), doc="s_j/v (ms)")
    m.block_size = pyo.Param(m.J, initialize=dict(zip(blocks.ids, blocks.size, strict=True)), doc="s_j (bytes)")
    m.capacity = pyo.Param(initialize=blocks.capacity, doc="M (bytes)")
    initially = {blocks.ids[p] for p in blocks.initial}
    holders: dict[str, list[str]] = {j: [] for j in blocks.ids}
    for i, own in zip(models, blocks.models, strict=True):
        for p in own:
            holders[blocks.ids[p]].append(i)

    m.resident = pyo.Var(m.J, m.Q, domain=pyo.Binary, doc="block j is resident after step q")
    m.loaded = pyo.Var(m.J, m.Q, bounds=(0, 1), doc="block j is loaded before step q")

    def before(m: pyo.ConcreteModel, j: str, q: int) -> Any:
        return m.resident[j, q - 1] if q > 1 else (1.0 if j in initially else 0.0)

    m.needed = pyo.Constraint(
        [(j, q, i) for j in blocks.ids for q in m.Q for i in holders[j]],
        rule=lambda m, j, q, i: m.resident[j, q] >= holds(m, q, i),
    )
    m.fits = pyo.Constraint(m.Q, rule=lambda m, q: sum(m.block_size[j] * m.resident[j, q] for j in m.J) <= m.capacity)
    m.on_demand = pyo.Constraint(
        m.J, m.Q, rule=lambda m, j, q: m.resident[j, q] <= before(m, j, q) + sum(holds(m, q, i) for i in holders[j])
    )
    m.load_new = pyo.Constraint(m.J, m.Q, rule=lambda m, j, q: m.loaded[j, q] >= m.resident[j, q] - before(m, j, q))
    return lambda m, q: sum(m.block_load[j] * m.loaded[j, q] for j in m.J)


def decode_evictions(m: pyo.ConcreteModel, blocks: BlockData, served: int) -> list[tuple[int, ...]]:
    """The blocks (instance indices) evicted right before each of the first ``served`` positions:
    resident after the previous position, not after this one."""
    out: list[tuple[int, ...]] = []
    for q in range(1, served + 1):
        gone = []
        for p, j in enumerate(blocks.ids):
            was = (m.resident[j, q - 1].value or 0.0) > 0.5 if q > 1 else p in blocks.initial
            now = (m.resident[j, q].value or 0.0) > 0.5
            if was and not now:
                gone.append(blocks.index[p])
        out.append(tuple(sorted(gone)))
    return out
