"""Batch-slot MILP: a schedule is a sequence of batches, each of one model (frame timing, the
one-model memory).

Slots ``q = 1 … n`` (``n`` candidate users) hold at most one batch each, the occupied slots
first. ``runs[i, q]`` says slot ``q`` runs model ``i``, ``assign[k, q]`` puts user ``k`` in it and
the size indicators ``size[i, b, q]`` say it holds ``b`` requests, so the slot's inference time is
read from the model's batch table: ``Σ_b t_i(b) · size[i, b, q]`` (with per-request times, at
least ``c_k · t_i(b)/t_i(1)`` for every member ``k``: the longest member paces the batch). Loads
depend on the models of consecutive slots (``switch`` as in the position-based model). Every
member of a slot finishes at the slot's completion and must meet its own deadline.

With tables of one entry every slot holds one request and this is the position-based model of
:mod:`partialloading.formulations.general`. Every component's name is the one in
``docs/batching.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap

from partialloading.arrays import FloatArray
from partialloading.instance import Instance

from .capacity import BlockData, add_residency
from .common import ScheduleData, empty_model
from .general import add_load_parameters, add_switches, add_user_parameters


@dataclass(frozen=True)
class BatchData:
    """The batch tables of the models of a :class:`ScheduleData`.

    Attributes
    ----------
    scale
        Per model of the data: ``t_i(b) / t_i(1)`` for ``b = 1 … B_i``, cut at the model's
        number of candidates (no batch can hold more).
    """

    scale: tuple[FloatArray, ...]

    @classmethod
    def of(cls, instance: Instance, data: ScheduleData) -> BatchData:
        """The tables of ``data``'s models in ``instance``."""
        scales = []
        for p, i in enumerate(data.models.tolist()):
            users = int(np.count_nonzero(data.user_model == p))
            row = instance.batch_scales[i]
            scales.append(row[: min(int(instance.max_batch[i]), max(users, 1))].copy())
        return cls(tuple(scales))

    def sizes(self, p: int) -> range:
        """The batch sizes model ``p`` may run."""
        return range(1, self.scale[p].size + 1)


def build(
    data: ScheduleData, batches: BatchData, blocks: BlockData | None = None, pipelined: bool = False
) -> pyo.ConcreteModel:
    """Build the batch-slot model of ``data`` (times in ms): the one-model memory's loads, or with
    ``blocks`` the resident blocks of a memory with a capacity
    (:func:`~partialloading.formulations.capacity.add_residency`, a slot in place of a position);
    frame timing, or with ``pipelined`` the pipelined rows (a MINLP for SCIP).

    Returns
    -------
    pyomo.environ.ConcreteModel
        The model; its objective ``served_weight`` is maximized.
    """
    if data.n_users == 0:
        return empty_model("partialloading_batched")
    m = pyo.ConcreteModel(name="partialloading_batched")
    n = data.n_users
    users, models = list(data.user_names), list(data.model_names)
    model_of = {users[k]: models[int(data.user_model[k])] for k in range(n)}
    index = {name: p for p, name in enumerate(models)}
    _sets_and_parameters(m, data, batches, users, models, one_model=blocks is None)

    m.assign = pyo.Var(m.K, m.Q, domain=pyo.Binary, doc="user k is served in slot q")
    m.runs = pyo.Var(m.I, m.Q, domain=pyo.Binary, doc="slot q runs model i")
    m.size = pyo.Var(m.IB, m.Q, domain=pyo.Binary, doc="slot q runs b requests of model i")
    m.slot_time = pyo.Var(m.Q, bounds=(0, None), doc="inference time of slot q (ms)")
    m.finish = pyo.Var(m.Q, bounds=(0, None), doc="completion time of slot q (ms)")

    m.admitted = pyo.Expression(m.K, rule=lambda m, k: sum(m.assign[k, q] for q in m.Q))
    m.occupied = pyo.Expression(m.Q, rule=lambda m, q: sum(m.runs[i, q] for i in m.I))
    m.upload_end = pyo.Expression(expr=sum(m.upload[k] * m.admitted[k] for k in m.K))

    m.serve_once = pyo.Constraint(m.K, rule=lambda m, k: m.admitted[k] <= 1)
    m.one_model_per_slot = pyo.Constraint(m.Q, rule=lambda m, q: m.occupied[q] <= 1)
    m.contiguous = pyo.Constraint(m.Q2, rule=lambda m, q: m.occupied[q] <= m.occupied[q - 1])
    m.same_model = pyo.Constraint(m.K, m.Q, rule=lambda m, k, q: m.assign[k, q] <= m.runs[model_of[k], q])
    m.one_size = pyo.Constraint(
        m.I, m.Q, rule=lambda m, i, q: sum(m.size[i, b, q] for b in batches.sizes(index[i])) == m.runs[i, q]
    )
    m.batch_count = pyo.Constraint(
        m.I,
        m.Q,
        rule=lambda m, i, q: (
            sum(m.assign[k, q] for k in m.K if model_of[k] == i)
            == sum(b * m.size[i, b, q] for b in batches.sizes(index[i]))
        ),
    )
    _slot_times(m, data, batches, model_of, index)
    if not pipelined:
        # Property (d) of docs/batching.md; under pipelined timing a swap changes the batches' uploads.
        _deadline_order(m, data, batches)
    load: Callable[[pyo.ConcreteModel, int], Any]
    if blocks is None:
        add_switches(m, lambda m, q, i: m.runs[i, q])
        load = _switch_loads
    else:
        load = add_residency(m, blocks, models, lambda m, q, i: m.runs[i, q])
    if pipelined:
        _pipelined_rows(m, load)
    else:
        m.finish_first = pyo.Constraint(expr=m.finish[1] >= m.upload_end + load(m, 1) + m.slot_time[1])
        m.finish_next = pyo.Constraint(
            m.Q2, rule=lambda m, q: m.finish[q] >= m.finish[q - 1] + load(m, q) + m.slot_time[q]
        )
    # Every member meets its own deadline; the latest deadline is the tightest valid big-M.
    m.meet_deadline = pyo.Constraint(
        m.K, m.Q, rule=lambda m, k, q: m.finish[q] <= m.deadline[k] + m.horizon * (1 - m.assign[k, q])
    )
    m.served_weight = pyo.Objective(expr=sum(m.weight[k] * m.admitted[k] for k in m.K), sense=pyo.maximize)
    return m


def _switch_loads(m: pyo.ConcreteModel, q: int) -> pyo.Expression:
    """The load before slot ``q`` under the one-model memory: the first model's whole load, then
    the transition from the previous slot's model (``switch``)."""
    if q == 1:
        return sum(m.first_load[i] * m.runs[i, 1] for i in m.I)
    return sum(m.load_time[i, i2] * m.switch[q, i, i2] for i in m.I for i2 in m.I if m.load_time[i, i2] > 0)


def _pipelined_rows(m: pyo.ConcreteModel, load: Callable[[pyo.ConcreteModel, int], pyo.Expression]) -> None:
    """Pipelined timing: the GPU loads from time 0; slot ``q`` starts once its load is done
    (after the previous slot) and its members' uploads have arrived. A slot's members share the
    bandwidth ``B·share[q]`` in proportion to their uploads, so all arrive by ``start[q]`` exactly
    when ``share[q]·start[q] ≥ Σ_{k∈q} a_k/B``, and ``Σ_q share[q] ≤ 1``. The row is bilinear and,
    with several members per slot, not convex in the relaxation: SCIP branches on it spatially."""
    m.share = pyo.Var(m.Q, bounds=(0, 1), doc="share of the uplink given to slot q's members")
    # Every slot starts and ends by the latest deadline (an empty slot with the occupied one before it).
    horizon = float(pyo.value(m.horizon))
    m.start = pyo.Var(m.Q, bounds=(0, horizon), doc="inference start of slot q (ms)")
    m.finish.setub(horizon)
    m.after_load_first = pyo.Constraint(expr=m.start[1] >= load(m, 1))
    m.after_load = pyo.Constraint(m.Q2, rule=lambda m, q: m.start[q] >= m.finish[q - 1] + load(m, q))
    m.finish_is = pyo.Constraint(m.Q, rule=lambda m, q: m.finish[q] >= m.start[q] + m.slot_time[q])
    m.uploaded = pyo.Constraint(
        m.Q, rule=lambda m, q: m.share[q] * m.start[q] >= sum(m.upload[k] * m.assign[k, q] for k in m.K)
    )
    m.uplink = pyo.Constraint(expr=sum(m.share[q] for q in m.Q) <= 1)


def _sets_and_parameters(
    m: pyo.ConcreteModel, data: ScheduleData, batches: BatchData, users: list[str], models: list[str], one_model: bool
) -> None:
    n = data.n_users
    m.K = pyo.Set(initialize=users, ordered=True, doc="candidate users")
    m.I = pyo.Set(initialize=models, ordered=True, doc="models requested by candidates")
    m.IB = pyo.Set(
        initialize=[(i, b) for p, i in enumerate(models) for b in batches.sizes(p)],
        dimen=2,
        ordered=True,
        doc="model and batch size pairs of the tables",
    )
    m.Q = pyo.RangeSet(1, n, doc="batch slots")
    m.Q2 = pyo.RangeSet(2, n, doc="slots with a predecessor")
    add_user_parameters(m, data)
    m.scale = pyo.Param(
        m.IB,
        initialize={(i, b): float(batches.scale[p][b - 1]) for p, i in enumerate(models) for b in batches.sizes(p)},
        doc="t_i(b) / t_i(1)",
    )
    if one_model:
        add_load_parameters(m, data)


def _slot_times(
    m: pyo.ConcreteModel, data: ScheduleData, batches: BatchData, model_of: dict[str, str], index: dict[str, int]
) -> None:
    """``slot_time[q]``: the table's time at the slot's size, paced by its longest member."""
    users = list(data.user_names)
    model_time = {name: float(data.infer[k]) for k, name in enumerate(users)}
    own: dict[str, set[float]] = {model_of[k]: set() for k in users}
    for k in users:
        own[model_of[k]].add(model_time[k])
    if all(len(times) == 1 for times in own.values()):
        # Equal times within each model: the slot's time is read from the table.
        base = {i: next(iter(times)) for i, times in own.items()}
        m.slot_time_is = pyo.Constraint(
            m.Q,
            rule=lambda m, q: (
                m.slot_time[q]
                == sum(base[i] * m.scale[i, b] * m.size[i, b, q] for i in m.I for b in batches.sizes(index[i]))
            ),
        )
        return

    def paced(m: pyo.ConcreteModel, k: str, q: int) -> pyo.Expression:
        i = model_of[k]
        sizes = batches.sizes(index[i])
        most = m.infer[k] * m.scale[i, sizes[-1]]
        return m.slot_time[q] >= m.infer[k] * sum(m.scale[i, b] * m.size[i, b, q] for b in sizes) - most * (
            1 - m.assign[k, q]
        )

    m.slot_time_paced = pyo.Constraint(m.K, m.Q, rule=paced)


def _deadline_order(m: pyo.ConcreteModel, data: ScheduleData, batches: BatchData) -> None:
    """``deadline_order[k2,q]``: among served users of one model whose requests take equal times,
    the earlier deadline is in an earlier or the same slot (property (d) of ``docs/batching.md``:
    swapping two such users between their batches changes no batch and keeps both on time, so
    some optimum satisfies these rows). For each pair ``k, k2`` of consecutive users of a model in
    deadline order: ``Σ_{r≤q} y[k2,r] ≤ Σ_{r≤q} y[k,r] + 1 − X[k]``."""
    users = list(data.user_names)
    pairs = []
    for p in range(data.n_models):
        mine = data.users_of(p)  # earliest deadline first
        for a, b in itertools.pairwise(mine):
            if data.infer[a] == data.infer[b]:
                pairs.append((users[a], users[b]))
    m.P = pyo.Set(initialize=pairs, dimen=2, ordered=True, doc="consecutive users of a model in deadline order")
    m.deadline_order = pyo.Constraint(
        m.P,
        m.Q,
        rule=lambda m, k, k2, q: (
            sum(m.assign[k2, r] for r in m.Q if r <= q)
            <= sum(m.assign[k, r] for r in m.Q if r <= q) + 1 - m.admitted[k]
        ),
    )


def decode(m: pyo.ConcreteModel, data: ScheduleData) -> tuple[list[int], list[int]]:
    """Instance indices of the admitted users in service order, and their batch numbers."""
    names = list(m.K)
    order: list[int] = []
    batch: list[int] = []
    slot = 0
    for q in m.Q:
        members = [pos for pos, k in enumerate(names) if (m.assign[k, q].value or 0.0) > 0.5]
        if not members:
            continue
        order += [int(data.users[pos]) for pos in members]
        batch += [slot] * len(members)
        slot += 1
    return order, batch


def start_values(
    m: pyo.ConcreteModel, data: ScheduleData, batches: BatchData, order: list[int], batch: list[int] | None
) -> ComponentMap | None:
    """Values of every variable for the schedule ``order`` in batches ``batch``, as a MIP start
    (``None`` when a user of ``order`` is not a candidate of ``data``)."""
    if data.n_users == 0:
        return None
    position = {int(k): p for p, k in enumerate(data.users.tolist())}
    if any(int(k) not in position for k in order):
        return None
    numbers = list(range(len(order))) if batch is None else list(batch)
    users, models = list(m.K), list(m.I)
    values = ComponentMap((var, 0.0) for var in m.component_data_objects(pyo.Var))
    slots: list[list[int]] = []
    for q, k in enumerate(order):
        if q == 0 or numbers[q] != numbers[q - 1]:
            slots.append([])
        slots[-1].append(position[int(k)])
    clock = float(sum(data.upload[p] for group in slots for p in group))
    previous: int | None = None
    for q, group in enumerate(slots, start=1):
        i = int(data.user_model[group[0]])
        size = len(group)
        if size > batches.scale[i].size:
            return None
        for p in group:
            values[m.assign[users[p], q]] = 1.0
        values[m.runs[models[i], q]] = 1.0
        values[m.size[models[i], size, q]] = 1.0
        time = max(float(data.infer[p]) for p in group) * float(batches.scale[i][size - 1])
        values[m.slot_time[q]] = time
        if previous is None:
            clock += float(data.first_load[i])
        else:
            values[m.switch[q, models[previous], models[i]]] = 1.0
            clock += float(data.load[previous, i])
        clock += time
        values[m.finish[q]] = clock
        previous = i
    for q in range(len(slots) + 1, data.n_users + 1):
        values[m.finish[q]] = clock
    return values
