"""Compact MILP: a prize-collecting path over the models, each visited at most once.

The server's route is a path that starts at the initial GPU state (node ``START``) and visits a
subset of the requested models; arc ``(i, i2)`` costs the loading time ``ℓ(i, i2)``. The users of a
visited model are admitted individually and served while their model is in memory.

*With one common deadline* this loses nothing (``docs/formulation.md``, compact lemma): by the
triangle inequality of the loading times, merging every later visit of a model into its first
visit never delays the last request, and only the last one matters. The whole timing is then
one knapsack-like constraint: upload phase + inference + loads along the path ≤ T.

*With per-user deadlines* the model below still solves "the best schedule that visits each
model once" (users of a model in earliest-deadline order, start times ``start[i]`` propagated
along the path with big-M), but that is a restriction: it may be worse than the true optimum.
The solver backend uses it only when forced to (``formulation="compact"``), e.g. to exhibit
the counterexample of the docs.

Subtours are eliminated with the Miller–Tucker–Zemlin constraints in the lifted form of
Desrochers and Laporte on the visiting rank ``rank[i]``: rank increases by exactly one along
every used arc between models, so a cycle of arcs cannot exist.
"""

from __future__ import annotations

import pyomo.environ as pyo

from .common import ScheduleData, empty_model

START = "START"
"""Name of the node for the initial GPU state (renamed if a model has that id)."""


def build(data: ScheduleData) -> pyo.ConcreteModel:
    """Build the compact MILP of ``data`` (times in ms).

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
        return empty_model("partialloading_compact")
    m = pyo.ConcreteModel(name="partialloading_compact")
    users, models = list(data.user_names), list(data.model_names)
    n_models = len(models)
    start = START
    while start in models:
        start += "_"
    m.start_node = start
    model_of = {users[k]: models[int(data.user_model[k])] for k in range(data.n_users)}
    members = {models[i]: [users[k] for k in data.users_of(i)] for i in range(n_models)}

    # ---------------------------------------------------------------- sets and parameters
    m.K = pyo.Set(initialize=users, ordered=True, doc="candidate users")
    m.I = pyo.Set(initialize=models, ordered=True, doc="models requested by candidates")
    m.N = pyo.Set(initialize=[start, *models], ordered=True, doc="nodes: initial state and models")
    m.A = pyo.Set(within=m.N * m.I, initialize=[(i, j) for i in [start, *models] for j in models if i != j], doc="arcs")
    m.upload = pyo.Param(m.K, initialize=dict(zip(users, data.upload.tolist(), strict=True)), doc="a_k/B (ms)")
    m.deadline = pyo.Param(m.K, initialize=dict(zip(users, data.deadline.tolist(), strict=True)), doc="T_k (ms)")
    m.weight = pyo.Param(m.K, initialize=dict(zip(users, data.weight.tolist(), strict=True)), doc="w_k")
    m.infer = pyo.Param(m.K, initialize=dict(zip(users, data.infer.tolist(), strict=True)), doc="c_k (ms)")
    arc_load = {(start, b): float(data.first_load[r]) for r, b in enumerate(models)}
    arc_load |= {(a, b): float(data.load[p, r]) for p, a in enumerate(models) for r, b in enumerate(models) if p != r}
    m.load_time = pyo.Param(m.A, initialize=arc_load, doc="loading time of arc (i, j) (ms)")

    # ---------------------------------------------------------------- variables
    m.admit = pyo.Var(m.K, domain=pyo.Binary, doc="user k is served")
    m.visit = pyo.Var(m.I, domain=pyo.Binary, doc="model i is loaded (once)")
    m.arc = pyo.Var(m.A, domain=pyo.Binary, doc="model j is served right after node i")
    m.rank = pyo.Var(m.I, bounds=(1, max(n_models, 1)), doc="position of model i on the path (MTZ)")

    m.upload_end = pyo.Expression(expr=sum(m.upload[k] * m.admit[k] for k in m.K))

    # ---------------------------------------------------------------- path constraints
    m.leave_start = pyo.Constraint(expr=sum(m.arc[start, j] for j in m.I) <= 1)
    m.enter_once = pyo.Constraint(m.I, rule=lambda m, j: sum(m.arc[i, j] for i in m.N if i != j) == m.visit[j])
    m.leave_once = pyo.Constraint(m.I, rule=lambda m, i: sum(m.arc[i, j] for j in m.I if j != i) <= m.visit[i])
    m.serve_visited = pyo.Constraint(m.K, rule=lambda m, k: m.admit[k] <= m.visit[model_of[k]])
    # Dominance: a model loaded for nobody can be skipped (triangle inequality), so forbid it.
    m.visit_for_users = pyo.Constraint(m.I, rule=lambda m, i: m.visit[i] <= sum(m.admit[k] for k in members[i]))
    big = n_models
    m.no_subtour = pyo.Constraint(
        [(i, j) for i in models for j in models if i != j],
        rule=lambda m, i, j: m.rank[i] - m.rank[j] + big * m.arc[i, j] + (big - 2) * m.arc[j, i] <= big - 1,
    )

    # ---------------------------------------------------------------- timing
    if data.common_deadline:
        deadline = float(data.deadline.min()) if data.n_users else 0.0
        # Only the last request matters: everything that happens before it must fit by T.
        m.meet_deadline = pyo.Constraint(
            expr=m.upload_end
            + sum(m.infer[k] * m.admit[k] for k in m.K)
            + sum(m.load_time[a] * m.arc[a] for a in m.A if m.load_time[a] > 0)
            <= deadline
        )
    else:
        _per_user_timing(m, data, start, model_of, members)

    m.served_weight = pyo.Objective(expr=sum(m.weight[k] * m.admit[k] for k in m.K), sense=pyo.maximize)
    return m


def _per_user_timing(
    m: pyo.ConcreteModel, data: ScheduleData, start: str, model_of: dict[str, str], members: dict[str, list[str]]
) -> None:
    """Start times along the path and per-user deadlines (users of a model served EDD)."""
    horizon = data.horizon
    max_upload = float(data.upload.sum())
    m.start = pyo.Var(m.I, bounds=(0, horizon), doc="time model i's first request starts inference (ms)")

    def served_time(m: pyo.ConcreteModel, i: str) -> pyo.Expression:
        return sum(m.infer[k] * m.admit[k] for k in members[i])

    m.start_first = pyo.Constraint(
        m.I,
        rule=lambda m, j: (
            m.start[j]
            >= m.upload_end + m.load_time[start, j] - (max_upload + m.load_time[start, j]) * (1 - m.arc[start, j])
        ),
    )
    m.start_next = pyo.Constraint(
        [(i, j) for i in m.I for j in m.I if i != j],
        rule=lambda m, i, j: (
            m.start[j]
            >= m.start[i]
            + served_time(m, i)
            + m.load_time[i, j]
            - (horizon + sum(m.infer[k] for k in members[i]) + m.load_time[i, j]) * (1 - m.arc[i, j])
        ),
    )

    def deadline_rule(m: pyo.ConcreteModel, k: str) -> pyo.Expression:
        i = model_of[k]
        ahead = members[i][: members[i].index(k) + 1]  # EDD order within the model, k included
        finish = m.start[i] + sum(m.infer[k2] * m.admit[k2] for k2 in ahead)
        big_m = horizon + sum(m.infer[k2] for k2 in ahead) - m.deadline[k]
        return finish <= m.deadline[k] + big_m * (1 - m.admit[k])

    m.meet_deadline = pyo.Constraint(m.K, rule=deadline_rule)


def decode(m: pyo.ConcreteModel, data: ScheduleData) -> list[int]:
    """Instance indices of the admitted users, in the service order of the loaded solution."""
    users = list(m.K)
    models = list(m.I)
    order: list[int] = []
    node = m.start_node
    seen: set[str] = set()
    while True:
        nxt = [j for j in models if j != node and (m.arc[node, j].value or 0.0) > 0.5]
        if not nxt or nxt[0] in seen:
            break
        node = nxt[0]
        seen.add(node)
        i = models.index(node)
        for p in data.users_of(i):
            if (m.admit[users[p]].value or 0.0) > 0.5:
                order.append(int(data.users[p]))
    return order
