"""The driver of batched schedules: the batch-slot model (:mod:`partialloading.formulations.batched`),
a MILP for HiGHS under frame timing, a MINLP for SCIP under pipelined timing; with the one-model
memory or the resident blocks of a memory with a capacity. With tables of one entry every slot
holds one request, so it also serves unbatched instances the position-based models do not cover
(a capacity under pipelined timing)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from partialloading.formulations import batched, capacity
from partialloading.formulations.capacity import BlockData
from partialloading.formulations.common import ScheduleData, schedule_data
from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import MilpParams
from partialloading.result import Status

from .common import Decoded, add_cap, dual_bound, keeps_blocks, outcome, run_model, with_margins

FORMULATION = "batched"
"""The name the output's ``info`` gives the model."""

PIPELINED_SOLVER = "scip_direct"
"""Pyomo's interface to SCIP (through PySCIPOpt), which solves the pipelined slots' cones."""


def solve_batched(instance: Instance, params: MilpParams, request: SolveRequest) -> SolverOutput:
    """Solve the batch-slot model exactly or to the time limit (the parameters and the output are
    :func:`.backend.solve`'s; the output carries the batch numbers, and the evictions with a
    capacity). Under pipelined timing SCIP solves it, whatever ``params.solver`` names."""
    deadline, seed, options = request.deadline, request.seed, dict(params.solver_options or {})
    started = time.perf_counter()
    pipelined = instance.timing == "pipelined"
    solver = PIPELINED_SOLVER if pipelined else params.solver
    info: dict[str, Any] = {"formulation": FORMULATION, "solver": "scip" if pipelined else params.solver}
    data = schedule_data(instance)
    info["candidates"] = data.n_users
    if data.n_users == 0:
        return SolverOutput([], Status.OPTIMAL, bound=0.0, info=info | {"termination": "no candidates", "gap": 0.0})
    with_blocks = keeps_blocks(instance)  # (precheck refuses solver options under pipelined timing)

    def build(data_m: ScheduleData) -> tuple[Any, batched.BatchData, BlockData | None]:
        tables = batched.BatchData.of(instance, data_m)
        blocks = capacity.blocks_of_instance(data_m, instance) if with_blocks else None
        model = batched.build(data_m, tables, blocks, pipelined)
        add_cap(model, request.bound)
        return model, tables, blocks

    model, tables, blocks = build(data)
    info |= {"n_vars": model.nvariables(), "n_cons": model.nconstraints(), "build_s": time.perf_counter() - started}
    start = None
    if request.initial and blocks is None:  # (a start would need the resident blocks of each slot)
        initial_batch = None if request.initial_batch is None else list(request.initial_batch)
        start = batched.start_values(model, data, tables, list(request.initial), initial_batch)
    results, has_solution, proven, nodes, mip_start = run_model(model, solver, deadline, seed, options, start)
    info["mip_start"] = mip_start
    integral = bool(np.all(instance.weights == np.round(instance.weights)))
    bound = dual_bound(results, integral, float(data.weight.sum()))
    found = _decoded(model, data, blocks, has_solution)

    def resolve(data_m: ScheduleData) -> tuple[Decoded, bool]:
        if data_m.n_users == 0:
            return Decoded([]), True
        again, _, blocks_m = build(data_m)
        _, has, proven_m, _, _ = run_model(again, solver, deadline, seed, options)
        return _decoded(again, data_m, blocks_m, has), proven_m

    found, proven, margin_used = with_margins(instance, found, proven, deadline, resolve)
    objective, proven, reported = outcome(instance, found.order, bound, proven)
    status = Status.OPTIMAL if proven else Status.FEASIBLE if found.order else Status.TIME_LIMIT
    info |= {
        "termination": str(results.solver.termination_condition),
        "gap": 0.0 if reported <= 0 else max(reported - objective, 0.0) / reported,
        "deadline_margin_ms": margin_used,
        "nodes": nodes,
    }
    return SolverOutput(found.order, status, bound=reported, info=info, batch=found.batch, evicted=found.evicted)


def _decoded(model: Any, data: ScheduleData, blocks: BlockData | None, has_solution: bool) -> Decoded:
    if not has_solution:
        return Decoded([], [] if blocks is not None else None, None)
    order, batch = batched.decode(model, data)
    if blocks is None:
        return Decoded(order, None, batch)
    # The evictions of a batch go on its first request (none on the others).
    per_slot = capacity.decode_evictions(model, blocks, batch[-1] + 1 if batch else 0)
    evicted: list[tuple[int, ...]] = []
    for q, number in enumerate(batch):
        evicted.append(per_slot[number] if q == 0 or batch[q - 1] != number else ())
    return Decoded(order, evicted, batch)
