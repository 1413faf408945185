"""The MILP driver of batched schedules: the batch-slot model
(:mod:`partialloading.formulations.batched`) under frame timing and the one-model memory."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from partialloading.formulations import batched
from partialloading.formulations.common import ScheduleData, schedule_data
from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import MilpParams
from partialloading.result import Status

from .common import Decoded, add_cap, dual_bound, outcome, run_model, with_margins

FORMULATION = "batched"
"""The name the output's ``info`` gives the model."""


def solve_batched(instance: Instance, params: MilpParams, request: SolveRequest) -> SolverOutput:
    """Solve the batch-slot MILP exactly or to the time limit (the parameters and the output are
    :func:`.backend.solve`'s; the output carries the batch numbers)."""
    deadline, seed, options = request.deadline, request.seed, dict(params.solver_options or {})
    started = time.perf_counter()
    info: dict[str, Any] = {"formulation": FORMULATION, "solver": params.solver}
    data = schedule_data(instance)
    info["candidates"] = data.n_users
    if data.n_users == 0:
        return SolverOutput([], Status.OPTIMAL, bound=0.0, info=info | {"termination": "no candidates", "gap": 0.0})

    def build(data_m: ScheduleData) -> tuple[Any, batched.BatchData]:
        tables = batched.BatchData.of(instance, data_m)
        model = batched.build(data_m, tables)
        add_cap(model, request.bound)
        return model, tables

    model, tables = build(data)
    info |= {"n_vars": model.nvariables(), "n_cons": model.nconstraints(), "build_s": time.perf_counter() - started}
    start = None
    if request.initial:
        initial_batch = None if request.initial_batch is None else list(request.initial_batch)
        start = batched.start_values(model, data, tables, list(request.initial), initial_batch)
    results, has_solution, proven, nodes, mip_start = run_model(model, params.solver, deadline, seed, options, start)
    info["mip_start"] = mip_start
    integral = bool(np.all(instance.weights == np.round(instance.weights)))
    bound = dual_bound(results, integral, float(data.weight.sum()))
    found = Decoded(*_decoded(model, data, has_solution))

    def resolve(data_m: ScheduleData) -> tuple[Decoded, bool]:
        if data_m.n_users == 0:
            return Decoded([]), True
        again, _ = build(data_m)
        _, has, proven_m, _, _ = run_model(again, params.solver, deadline, seed, options)
        return Decoded(*_decoded(again, data_m, has)), proven_m

    found, proven, margin_used = with_margins(instance, found, proven, deadline, resolve)
    objective, proven, reported = outcome(instance, found.order, bound, proven)
    status = Status.OPTIMAL if proven else Status.FEASIBLE if found.order else Status.TIME_LIMIT
    info |= {
        "termination": str(results.solver.termination_condition),
        "gap": 0.0 if reported <= 0 else max(reported - objective, 0.0) / reported,
        "deadline_margin_ms": margin_used,
        "nodes": nodes,
    }
    return SolverOutput(found.order, status, bound=reported, info=info, batch=found.batch)


def _decoded(model: Any, data: ScheduleData, has_solution: bool) -> tuple[list[int], None, list[int] | None]:
    if not has_solution:
        return [], None, None
    order, batch = batched.decode(model, data)
    return order, None, batch
