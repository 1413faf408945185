"""Position-based MILP, valid for every instance (per-user deadlines, weights, initial model).

The schedule is a sequence of ``n`` positions (``n`` = number of candidate users); each position
holds at most one user and the occupied positions come first. A model may appear at several
positions, so it may be loaded several times — which per-user deadlines can require (see the
counterexample in ``docs/formulation.md``). Loading times depend on the models at two
consecutive positions; the transition variables ``switch[q, i, i2]`` make that linear.

Every component's name is the one used in ``docs/formulation.md`` and in LP/MPS files written by
``partialloading formulation``.
"""

from __future__ import annotations

from collections.abc import Callable

import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap

from .common import ScheduleData, empty_model


def build(data: ScheduleData) -> pyo.ConcreteModel:
    """Build the position-based MILP of ``data`` (times in ms).

    Parameters
    ----------
    data
        The reduced instance (:func:`~partialloading.formulations.common.schedule_data`).

    Returns
    -------
    pyomo.environ.ConcreteModel
        The model; its objective ``served_weight`` is maximized.
    """
    if data.n_users == 0:
        return empty_model("partialloading_general")
    m = positions(data, "partialloading_general")
    add_load_parameters(m, data)
    add_switches(m, lambda m, q, i: m.holds[q, i])

    def load(m: pyo.ConcreteModel, q: int) -> pyo.Expression:
        if q == 1:
            return sum(m.first_load[i] * m.holds[1, i] for i in m.I)
        return sum(m.load_time[i, i2] * m.switch[q, i, i2] for i in m.I for i2 in m.I if m.load_time[i, i2] > 0)

    add_finish_rows(m, load)
    return m


def add_load_parameters(m: pyo.ConcreteModel, data: ScheduleData) -> None:
    """``first_load[i]`` and ``load_time[i,i2]`` of the models of ``data`` (ms)."""
    models = list(data.model_names)
    m.first_load = pyo.Param(
        m.I, initialize=dict(zip(models, data.first_load.tolist(), strict=True)), doc="load from the initial state (ms)"
    )
    m.load_time = pyo.Param(
        m.I,
        m.I,
        initialize={(a, b): float(data.load[p, r]) for p, a in enumerate(models) for r, b in enumerate(models)},
        doc="ℓ(i, i2) (ms)",
    )


def add_switches(m: pyo.ConcreteModel, holds: Callable[[pyo.ConcreteModel, int, str], pyo.Expression]) -> None:
    """``switch[q,i,i2]`` with ``switch_into`` and ``switch_from``: the models at two consecutive
    positions (``holds(m, q, i)``: position ``q`` holds model ``i``, 0 or 1)."""
    # Continuous suffices: with integral `holds`, the two switch_* constraints leave one value.
    m.switch = pyo.Var(m.Q2, m.I, m.I, bounds=(0, 1), doc="positions q-1 and q hold models i and i2")
    # Exactly one transition enters the model at an occupied position q ≥ 2 ...
    m.switch_into = pyo.Constraint(
        m.Q2, m.I, rule=lambda m, q, i2: sum(m.switch[q, i, i2] for i in m.I) == holds(m, q, i2)
    )
    # ... and it leaves the model held at position q-1.
    m.switch_from = pyo.Constraint(
        m.Q2, m.I, rule=lambda m, q, i: sum(m.switch[q, i, i2] for i2 in m.I) <= holds(m, q - 1, i)
    )


def add_user_parameters(m: pyo.ConcreteModel, data: ScheduleData) -> None:
    """``upload[k]``, ``deadline[k]``, ``weight[k]``, ``infer[k]`` and ``horizon`` of the candidates."""
    users = list(data.user_names)
    m.upload = pyo.Param(m.K, initialize=dict(zip(users, data.upload.tolist(), strict=True)), doc="a_k/B (ms)")
    m.deadline = pyo.Param(m.K, initialize=dict(zip(users, data.deadline.tolist(), strict=True)), doc="T_k (ms)")
    m.weight = pyo.Param(m.K, initialize=dict(zip(users, data.weight.tolist(), strict=True)), doc="w_k")
    m.infer = pyo.Param(m.K, initialize=dict(zip(users, data.infer.tolist(), strict=True)), doc="c_k (ms)")
    m.horizon = pyo.Param(initialize=data.horizon, doc="latest deadline (ms): big-M of the deadlines")


def add_finish_rows(m: pyo.ConcreteModel, load: Callable[[pyo.ConcreteModel, int], pyo.Expression]) -> None:
    """``finish_first`` and ``finish_next[q]``: each position's completion is the previous one
    (the upload phase before the first) plus its load, ``load(m, q)``, and its inference."""
    m.finish_first = pyo.Constraint(
        expr=m.finish[1] >= m.upload_end + load(m, 1) + sum(m.infer[k] * m.assign[k, 1] for k in m.K)
    )
    m.finish_next = pyo.Constraint(
        m.Q2,
        rule=lambda m, q: m.finish[q] >= m.finish[q - 1] + load(m, q) + sum(m.infer[k] * m.assign[k, q] for k in m.K),
    )


def positions(data: ScheduleData, name: str) -> pyo.ConcreteModel:
    """What every position-based model shares: users assigned to positions that form a prefix,
    the upload phase, completion times within the deadlines, the objective. The caller adds how
    the completion times grow from one position to the next (the loads)."""
    m = pyo.ConcreteModel(name=name)
    n = data.n_users
    users, models = list(data.user_names), list(data.model_names)
    model_of = {users[k]: models[int(data.user_model[k])] for k in range(n)}

    # ---------------------------------------------------------------- sets and parameters
    m.K = pyo.Set(initialize=users, ordered=True, doc="candidate users")
    m.I = pyo.Set(initialize=models, ordered=True, doc="models requested by candidates")
    m.Q = pyo.RangeSet(1, n, doc="positions in the service order")
    m.Q2 = pyo.RangeSet(2, n, doc="positions with a predecessor")
    add_user_parameters(m, data)

    # ---------------------------------------------------------------- variables
    m.assign = pyo.Var(m.K, m.Q, domain=pyo.Binary, doc="user k is served at position q")
    m.finish = pyo.Var(m.Q, bounds=(0, None), doc="completion time of position q (ms)")

    # ---------------------------------------------------------------- derived expressions
    m.admitted = pyo.Expression(m.K, rule=lambda m, k: sum(m.assign[k, q] for q in m.Q))
    m.occupied = pyo.Expression(m.Q, rule=lambda m, q: sum(m.assign[k, q] for k in m.K))
    m.holds = pyo.Expression(m.Q, m.I, rule=lambda m, q, i: sum(m.assign[k, q] for k in m.K if model_of[k] == i))
    # Decomposition theorem: with the optimal bandwidth split all uploads end at Σ_S a_k/B.
    m.upload_end = pyo.Expression(expr=sum(m.upload[k] * m.admitted[k] for k in m.K))

    # ---------------------------------------------------------------- constraints
    m.serve_once = pyo.Constraint(m.K, rule=lambda m, k: m.admitted[k] <= 1)
    m.one_user_per_position = pyo.Constraint(m.Q, rule=lambda m, q: m.occupied[q] <= 1)
    # Symmetry breaking: occupied positions form a prefix 1..|S|.
    m.contiguous = pyo.Constraint(m.Q2, rule=lambda m, q: m.occupied[q] <= m.occupied[q - 1])
    # Occupied: finish by the deadline of the user served there. Empty: the finish equals the
    # last occupied one, which is on time, so the latest deadline is a valid (tightest) big-M.
    m.meet_deadline = pyo.Constraint(
        m.Q,
        rule=lambda m, q: (
            m.finish[q] <= sum(m.deadline[k] * m.assign[k, q] for k in m.K) + m.horizon * (1 - m.occupied[q])
        ),
    )
    m.served_weight = pyo.Objective(expr=sum(m.weight[k] * m.admitted[k] for k in m.K), sense=pyo.maximize)
    return m


def decode(m: pyo.ConcreteModel, data: ScheduleData) -> list[int]:
    """Instance indices of the admitted users, in the service order of the loaded solution."""
    names = list(m.K)
    order: list[int] = []
    for q in m.Q:
        for pos, k in enumerate(names):
            value = m.assign[k, q].value
            if value is not None and value > 0.5:
                order.append(int(data.users[pos]))
    return order


def start_values(m: pyo.ConcreteModel, data: ScheduleData, order: list[int]) -> ComponentMap | None:
    """Values of every variable for the schedule ``order`` (instance indices), as a MIP start.

    ``None`` when a user of ``order`` is not a candidate of ``data`` (such a schedule is not a
    point of the model). Empty positions repeat the last finish, as the model requires.
    """
    if data.n_users == 0:
        return None
    position = {int(k): p for p, k in enumerate(data.users.tolist())}
    if any(int(k) not in position for k in order):
        return None
    users, models = list(m.K), list(m.I)
    model_of = [int(data.user_model[p]) for p in range(data.n_users)]
    values = ComponentMap((var, 0.0) for var in m.component_data_objects(pyo.Var))
    served = [position[int(k)] for k in order]
    clock = float(sum(data.upload[p] for p in served))
    previous: int | None = None
    for q, p in enumerate(served, start=1):
        i = model_of[p]
        values[m.assign[users[p], q]] = 1.0
        if previous is None:
            clock += float(data.first_load[i])
        else:
            values[m.switch[q, models[previous], models[i]]] = 1.0
            clock += float(data.load[previous, i])
        clock += float(data.infer[p])
        values[m.finish[q]] = clock
        previous = i
    for q in range(len(served) + 1, data.n_users + 1):
        values[m.finish[q]] = clock
    return values
