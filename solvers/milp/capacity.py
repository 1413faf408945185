"""The MILP driver of a memory with a capacity (frame timing): the position-based model with
block residency (:mod:`partialloading.formulations.capacity`), its evictions decoded."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo

from partialloading.formulations import capacity, general
from partialloading.formulations.common import ScheduleData, schedule_data
from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import MilpParams
from partialloading.result import Status

from .common import Decoded, add_cap, dual_bound, outcome, run_model, with_margins


def solve_capacity(instance: Instance, params: MilpParams, request: SolveRequest) -> SolverOutput:
    """The capacity MILP (:mod:`partialloading.formulations.capacity`): the order and the
    evictions, with the same safety net as the one-model MILP."""
    deadline, seed, options = request.deadline, request.seed, dict(params.solver_options or {})
    info: dict[str, Any] = {"formulation": capacity.FORMULATION, "solver": params.solver}

    def build(data_m: ScheduleData) -> tuple[pyo.ConcreteModel, capacity.BlockData]:
        blocks = capacity.blocks_of_instance(data_m, instance)
        model = capacity.build(data_m, blocks)
        add_cap(model, request.bound)
        return model, blocks

    def resolve(data_m: ScheduleData) -> tuple[Decoded, bool]:
        if data_m.n_users == 0:
            return Decoded([]), True
        model, blocks = build(data_m)
        _, has_solution, proven_m, _, _ = run_model(model, params.solver, deadline, seed, options)
        order = general.decode(model, data_m) if has_solution else []
        return Decoded(order, capacity.decode_evictions(model, blocks, len(order)) if order else []), proven_m

    data = schedule_data(instance)
    info["candidates"] = data.n_users
    if data.n_users == 0:
        return SolverOutput([], Status.OPTIMAL, bound=0.0, info=info | {"termination": "no candidates", "gap": 0.0})
    model, blocks = build(data)
    info |= {"n_vars": model.nvariables(), "n_cons": model.nconstraints(), "blocks": len(blocks.ids)}
    results, has_solution, proven, nodes, _ = run_model(model, params.solver, deadline, seed, options)
    total = float(data.weight.sum())
    integral = bool(np.all(instance.weights == np.round(instance.weights)))
    bound = dual_bound(results, integral, total)
    order = general.decode(model, data) if has_solution else []
    found = Decoded(order, capacity.decode_evictions(model, blocks, len(order)))
    found, proven, margin_used = with_margins(instance, found, proven, deadline, resolve)
    order, evicted = found.order, found.evicted
    objective, proven, reported = outcome(instance, order, bound, proven)
    status = Status.OPTIMAL if proven else Status.FEASIBLE if order else Status.TIME_LIMIT
    info |= {
        "termination": str(results.solver.termination_condition),
        "gap": 0.0 if reported <= 0 else max(reported - objective, 0.0) / reported,
        "deadline_margin_ms": margin_used,
        "nodes": nodes,
    }
    return SolverOutput(order, status, bound=reported, info=info, evicted=evicted)
