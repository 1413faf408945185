"""The MILP driver of the one-model memory under frame timing: the position-based (``general``)
and the model-path (``compact``) formulations, their size estimated before they are built."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from partialloading.errors import InstanceTooLargeError, MethodNotApplicableError
from partialloading.formulations import compact, general
from partialloading.formulations.common import ScheduleData, schedule_data
from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import MilpParams
from partialloading.result import Status
from partialloading.solvers.edf import edf_schedule

from .common import Decoded, add_cap, dual_bound, outcome, run_model, with_margins

FORMULATIONS = ("auto", "general", "compact")
"""Values of the ``formulation`` option."""


MAX_NONZEROS = 5_000_000
"""Largest MILP (constraint-matrix nonzeros, estimated before building) ``milp`` builds: about
the size Pyomo builds in a minute and a few GB of memory on a 2-core machine. The position-based
model grows with ``K²`` (every user at every position) plus ``K·M²`` (the transitions), so this
is reached at about 2,000 users; the compact model grows with ``K + M²``."""


SETUP_SECONDS_PER_NONZERO = 1e-5
"""Seconds to build a model and hand it to the solver, per nonzero (measured: about 9 µs on 2
shared cores for the general model of 400 users, 1.3 million nonzeros, in 12 s)."""


@dataclass(frozen=True)
class ModelSize:
    """Estimated size of a MILP before it is built."""

    variables: int
    constraints: int
    nonzeros: int


def model_size(data: ScheduleData, formulation: str) -> ModelSize:
    """Estimate the size of the ``formulation`` model of ``data`` (counts of the component loops)."""
    n, m = data.n_users, data.n_models
    if formulation == "compact":
        # Fitted to built models (within a factor 1.3 from 10 to 100 users): it is small anyway.
        variables = n + 3 * m + m * m
        constraints = 2 * n + m * (m - 1) + 11 * m
        nonzeros = 4 * n * m + 4 * m * m
        return ModelSize(variables, constraints, nonzeros)
    variables = n * n + max(n - 1, 0) * m * m + n
    constraints = 2 * n + max(n - 1, 0) * (1 + 2 * m + 1) + 1 + n
    # assign in serve_once, one_user_per_position, contiguous (2 each), the switch rows, and the
    # finish rows (every transition of a position, every user of a position).
    nonzeros = 5 * n * n + 2 * max(n - 1, 0) * m * m + max(n - 1, 0) * (m * m + n + 2) + 2 * n * n
    return ModelSize(variables, constraints, nonzeros)


def choose_formulation(data: ScheduleData, formulation: str) -> str:
    """Resolve ``"auto"``: compact when all deadlines are equal, general otherwise."""
    if formulation not in FORMULATIONS:
        raise MethodNotApplicableError(
            f"unknown MILP formulation {formulation!r} (choose from {', '.join(FORMULATIONS)})"
        )
    if formulation == "auto":
        return "compact" if data.common_deadline else "general"
    return formulation


def build_model(instance: Instance, *, formulation: str = "auto") -> pyo.ConcreteModel:
    """The Pyomo model of ``instance`` (for inspection or writing to LP/MPS).

    Parameters
    ----------
    instance
        The instance.
    formulation
        ``"auto"``, ``"general"`` or ``"compact"``.
    """
    data = schedule_data(instance)
    return build_chosen(data, choose_formulation(data, formulation))


def build_chosen(data: ScheduleData, formulation: str) -> pyo.ConcreteModel:
    return compact.build(data) if formulation == "compact" else general.build(data)


def decode_chosen(m: pyo.ConcreteModel, data: ScheduleData, formulation: str) -> list[int]:
    return compact.decode(m, data) if formulation == "compact" else general.decode(m, data)


def solve_one_model(instance: Instance, params: MilpParams, request: SolveRequest) -> SolverOutput:
    """Solve the one-model MILP (``general`` or ``compact``) exactly or to the time limit: the
    parameters and the output are :func:`.backend.solve`'s."""
    deadline, seed = request.deadline, request.seed
    solver, formulation, solver_options = params.solver, params.formulation, params.solver_options
    started = time.perf_counter()
    data = schedule_data(instance)
    chosen = choose_formulation(data, formulation)
    weights = instance.weights
    integral = bool(np.all(weights == np.round(weights)))
    info: dict[str, Any] = {"formulation": chosen, "solver": solver, "candidates": data.n_users}
    if data.n_users == 0:
        # Nobody fits even alone: the empty schedule is optimal without building a model.
        empty = {"n_vars": 0, "n_cons": 0, "termination": "no candidates", "gap": 0.0}
        return SolverOutput([], Status.OPTIMAL, bound=0.0, info=info | empty | {"deadline_margin_ms": 0.0, "nodes": 0})
    restricted = chosen == "compact" and not data.common_deadline
    estimate = _checked_size(data, chosen)
    setup = estimate.nonzeros * SETUP_SECONDS_PER_NONZERO
    left = deadline.remaining()
    if left is not None and setup > left:
        # Pyomo would spend the whole limit building and handing over the model, and the solver
        # would start with no time left: answer at once with the baseline, saying why.
        info |= {"n_vars": estimate.variables, "n_cons": estimate.constraints}
        return _baseline(
            instance, request, info, f"time left {left:.3g} s below the estimated model setup of {setup:.1f} s"
        )
    model = build_chosen(data, chosen)
    add_cap(model, request.bound)
    info |= {"n_vars": model.nvariables(), "n_cons": model.nconstraints(), "build_s": time.perf_counter() - started}
    # Building the model counts against the time limit, like the solve.
    if deadline.expired():
        return _baseline(instance, request, info, "time limit reached while building the model")
    start = None
    if request.initial and chosen == "general":
        start = general.start_values(model, data, list(request.initial))
    results, has_solution, proven, nodes, mip_start = run_model(
        model, solver, deadline, seed, dict(solver_options or {}), start
    )
    info["mip_start"] = mip_start
    total = float(data.weight.sum())
    bound = dual_bound(results, integral, total)
    order = decode_chosen(model, data, chosen) if has_solution else []

    def resolve(data_m: ScheduleData) -> tuple[Decoded, bool]:
        model = build_chosen(data_m, chosen)
        add_cap(model, request.bound)
        _, has_solution, proven_m, _, _ = run_model(model, solver, deadline, seed, dict(solver_options or {}))
        return Decoded(decode_chosen(model, data_m, chosen) if has_solution else []), proven_m

    found, proven, margin_used = with_margins(instance, Decoded(order), proven, deadline, resolve)
    order = found.order
    objective, proven, settled = outcome(instance, order, bound, proven)
    if restricted:
        # The compact model restricts the schedules with per-user deadlines: its optimum is a
        # heuristic answer for the instance, and its bound is not a bound of the instance.
        status, reported = (Status.FEASIBLE, None)
    else:
        status, reported = (Status.OPTIMAL if proven else Status.FEASIBLE if order else Status.TIME_LIMIT), settled
    info |= {
        "termination": str(results.solver.termination_condition),
        "gap": None if reported is None else (0.0 if reported <= 0 else max(reported - objective, 0.0) / reported),
        "deadline_margin_ms": margin_used,
        "nodes": nodes,
    }
    return SolverOutput(order, status, bound=reported, info=info)


def _checked_size(data: ScheduleData, chosen: str) -> ModelSize:
    """The estimated size of the ``chosen`` model, refused beyond :data:`MAX_NONZEROS`."""
    estimate = model_size(data, chosen)
    if estimate.nonzeros > MAX_NONZEROS:
        raise InstanceTooLargeError(
            f"milp: the {chosen} model of this instance would have about {estimate.variables:,} variables and "
            f"{estimate.nonzeros:,} nonzeros ({data.n_users} candidate users, {data.n_models} models), "
            f"beyond the limit of {MAX_NONZEROS:,} nonzeros; use greedy (or cpsat, or dp for backbone "
            "sharing with one deadline)"
        )
    return estimate


def _baseline(
    instance: Instance, request: SolveRequest, info: dict[str, Any], why: str, size: dict[str, int] | None = None
) -> SolverOutput:
    """The start (or EDF's schedule) when no time is left to solve, with ``why`` as termination
    (and the estimated ``size`` of the model not built)."""
    fallback = list(request.initial) if request.initial else edf_schedule(instance)
    info |= {"termination": why, "gap": None, "nodes": 0} | (size or {})
    return SolverOutput(fallback, Status.FEASIBLE if fallback else Status.TIME_LIMIT, bound=None, info=info)
