"""Position-based MINLP for pipelined timing, solved by SCIP (PySCIPOpt).

Pipelined timing (docs/formulation.md): the GPU loads from time 0; the request at position ``q``
starts inference at ``start[q]``, no earlier than the end of its load (which follows the previous
completion) and no earlier than its own upload's arrival. By the pipelined decomposition theorem
the order is feasible iff some inference starts satisfy the machine constraints and

    Σ_q a_{π_q} / start[q] ≤ B,

so the model keeps one bandwidth *share* ``share[q] ∈ [0, 1]`` per position (``Σ share ≤ 1``) and
the hyperbolic constraint ``share[q]·start[q] ≥ Σ_k (a_k/B)·assign[k, q]``: the upload of the
user at ``q``, with bandwidth ``B·share[q]``, has arrived by ``start[q]``. With ``share, start ≥ 0``
this is a rotated second-order cone (``share·start ≥ z²`` with ``z = Σ_k √(a_k/B)·assign[k, q]``,
since at most one user holds a position): convex, and SCIP solves the whole model to proven
optimality. Everything else is the position-based MILP of the frame model
(:mod:`partialloading.formulations.general`) without the upload phase: assignment, contiguous
positions, transition loads, completions and deadlines.

Times are in milliseconds, as in the other formulations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyscipopt import Model, quicksum

from .common import ScheduleData
from .positions import add_positions, label


@dataclass(frozen=True)
class PipelinedModel:
    """The SCIP model and the variables needed to read a schedule back."""

    model: Model
    assign: dict[tuple[int, int], Any]
    share: dict[int, Any]
    start: dict[int, Any]


def build(data: ScheduleData, time_limit: float | None = None, seed: int = 0) -> PipelinedModel:
    """Build the pipelined MINLP of ``data`` (see the module docstring).

    Parameters
    ----------
    data
        The reduced instance (:func:`~partialloading.formulations.common.schedule_data`).
    time_limit
        SCIP's time limit in seconds (``None``: none).
    seed
        SCIP's random seed shift.
    """
    n = data.n_users
    n_models = len(data.models)
    users = range(n)
    positions = range(n)
    upload = data.upload.tolist()  # a_k / B (ms)
    deadline = data.deadline.tolist()
    infer = data.infer.tolist()
    loads = data.load.tolist()
    first = data.first_load.tolist()
    user_model = data.user_model.tolist()
    horizon = float(max(deadline, default=0.0))
    big_m = horizon + n * (max((max(row) for row in loads), default=0.0) + max(infer, default=0.0))

    m = Model("partialloading-pipelined")
    m.hideOutput()
    m.setParam("randomization/randomseedshift", int(seed) % 2**31)
    # Exact answers: no gap tolerance (the schedule is re-evaluated in seconds anyway).
    m.setParam("limits/gap", 0.0)
    if time_limit is not None:
        m.setParam("limits/time", max(float(time_limit), 0.01))
    assign, load, _ = add_positions(m, user_model, n_models, first, loads)
    share = {q: m.addVar(lb=0.0, ub=1.0, name=label("share", q)) for q in positions}
    start = {q: m.addVar(lb=0.0, ub=big_m, name=label("start", q)) for q in positions}
    finish = {q: m.addVar(lb=0.0, ub=big_m, name=label("finish", q)) for q in positions}
    for k in users:
        m.addCons(quicksum(assign[k, q] for q in positions) <= 1, name=label("serve_once", k))
    for q in positions:
        ready = load[0] if q == 0 else finish[q - 1] + load[q]
        m.addCons(start[q] >= ready, name=label("after_load", q))
        m.addCons(finish[q] >= start[q] + quicksum(infer[k] * assign[k, q] for k in users), name=label("finish", q))
        for k in users:
            m.addCons(finish[q] <= deadline[k] + big_m * (1 - assign[k, q]), name=label("meet_deadline", k, q))
        # The upload of the user at q, with bandwidth B·share[q], has arrived by start[q].
        m.addCons(share[q] * start[q] >= quicksum(upload[k] * assign[k, q] for k in users), name=label("upload", q))
    m.addCons(quicksum(share.values()) <= 1.0, name="uplink")
    weight = data.weight.tolist()
    m.setObjective(quicksum(weight[k] * assign[k, q] for k in users for q in positions), "maximize")
    return PipelinedModel(m, assign, share, start)


def decode(built: PipelinedModel, data: ScheduleData) -> list[int]:
    """Instance indices of the admitted users, in the service order of SCIP's best solution."""
    m = built.model
    if m.getNSols() == 0:
        return []
    sol = m.getBestSol()
    order: list[int] = []
    n = data.n_users
    for q in range(n):
        for k in range(n):
            if m.getSolVal(sol, built.assign[k, q]) > 0.5:
                order.append(int(data.users[k]))
    return order
