"""The driver of the pipelined MINLP (:mod:`partialloading.formulations.pipelined`), solved by
SCIP, with the same safety net as the MILPs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from partialloading.formulations import pipelined
from partialloading.formulations.common import ScheduleData, schedule_data
from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import MilpParams
from partialloading.result import Status
from partialloading.solvers.edf import edf_schedule
from partialloading.stop import Deadline, interrupt

from .common import Decoded, outcome, with_margins

SCIP_OVERSHOOT_SECONDS_PER_ROW = 5e-6
"""How far SCIP may run past its time limit, per variable and constraint (measured: 0.47 s on the
pipelined model of 300 users, 91,199 variables and 100,770 constraints)."""


def solve_pipelined(instance: Instance, params: MilpParams, request: SolveRequest) -> SolverOutput:
    """The pipelined MINLP (:mod:`partialloading.formulations.pipelined`) solved by SCIP.

    Same safety net as the MILP: the order is re-evaluated in seconds and, if late by the
    solver's tolerance, the model is solved again with slightly earlier deadlines; the status
    is ``optimal`` only when the on-time schedule reaches the first solve's bound.
    """
    deadline, seed = request.deadline, request.seed
    data = schedule_data(instance)
    weights = instance.weights
    integral = bool(np.all(weights == np.round(weights)))
    info: dict[str, Any] = {"formulation": "pipelined", "solver": "scip", "candidates": data.n_users}
    if data.n_users == 0:
        return SolverOutput([], Status.OPTIMAL, bound=0.0, info=info | {"termination": "no candidates", "gap": 0.0})
    built = pipelined.build(data, deadline.seconds(), seed)
    # A start helps SCIP's search: the given one, else earliest deadline first.
    start = request.initial if request.initial is not None else tuple(edf_schedule(instance))
    _pipelined_start(built, data, start)
    _scip_limit(built.model, deadline)
    _optimize(built.model)
    status_name = built.model.getStatus()
    proven = status_name == "optimal"
    total = float(data.weight.sum())
    dual = built.model.getDualbound()
    bound = total if not math.isfinite(dual) else (math.floor(dual + 1e-6) if integral else float(dual))
    bound = min(bound, total)
    order = pipelined.decode(built, data)
    info |= {"n_vars": built.model.getNVars(), "n_cons": built.model.getNConss(), "nodes": built.model.getNNodes()}

    def resolve(data_m: ScheduleData) -> tuple[Decoded, bool]:
        again = pipelined.build(data_m, deadline.seconds(), seed)
        _scip_limit(again.model, deadline)
        _optimize(again.model)
        return Decoded(pipelined.decode(again, data_m)), again.model.getStatus() == "optimal"

    found, proven, margin_used = with_margins(instance, Decoded(order), proven, deadline, resolve)
    order = found.order
    objective, proven, reported = outcome(instance, order, bound, proven)
    status = Status.OPTIMAL if proven else Status.FEASIBLE if order else Status.TIME_LIMIT
    info |= {
        "termination": status_name,
        "gap": 0.0 if reported <= 0 else max(reported - objective, 0.0) / reported,
        "deadline_margin_ms": margin_used,
    }
    return SolverOutput(order, status, bound=reported, info=info)


def _scip_limit(model: Any, deadline: Deadline) -> None:
    # Building the model and its start took part of the limit: SCIP gets what is left, less how
    # far past its limit it may stop.
    left = deadline.seconds()
    if left is not None:
        late = (model.getNVars() + model.getNConss()) * SCIP_OVERSHOOT_SECONDS_PER_ROW
        model.setParam("limits/time", max(left - late, 0.01))


def _pipelined_start(built: Any, data: ScheduleData, initial: tuple[int, ...]) -> None:
    # A partial solution (the assignment) as SCIP's warm start; SCIP completes the rest.
    position = {int(k): p for p, k in enumerate(data.users.tolist())}
    if any(k not in position for k in initial):
        return
    m = built.model
    sol = m.createPartialSol()
    chosen = {(position[k], q) for q, k in enumerate(initial)}
    for (k, q), var in built.assign.items():
        m.setSolVal(sol, var, 1.0 if (k, q) in chosen else 0.0)
    m.addSol(sol)


def _optimize(model: Any) -> None:
    """SCIP's solve. SCIP catches Ctrl-C itself and stops with its incumbent (status
    ``userinterrupt``); the interrupt is then raised for the rest of the solve too."""
    model.optimize()
    if model.getStatus() == "userinterrupt":
        interrupt()
