"""Exact MILP backend (``method="milp"``): Pyomo models solved with HiGHS (or another MIP solver).

Two formulations (:mod:`partialloading.formulations`):

* ``"general"`` — position-based, valid for every instance;
* ``"compact"`` — a path over the models visiting each at most once, exact when all users share
  one deadline (and a restriction otherwise).

``"auto"`` picks the compact one exactly when all deadlines are equal.

Numerical safety. The model works in milliseconds with the solver's feasibility tolerances
tightened to 1e-9, and the order read from the solution is re-evaluated in seconds by the
toolkit's evaluator (the MILP's own times are never reported). If that order misses a deadline
— only possible by the solver's tolerance, i.e. by ~1e-12 s — the model is solved again with
every deadline reduced by a small margin (1e-6 ms, then 100× more, ...) until the order is on
time. The bound reported is the one of the *first* solve (exact deadlines), and the status is
``optimal`` only when the on-time schedule reaches it, so a margin never hides a loss.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.opt import SolverResults, TerminationCondition

from partialloading.errors import InstanceTooLargeError, MethodNotApplicableError, SolverError
from partialloading.formulations import capacity, compact, general
from partialloading.formulations.common import ScheduleData, schedule_data
from partialloading.instance import Instance
from partialloading.memory import PAIRWISE, memory_of
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import MilpParams
from partialloading.result import Status
from partialloading.solution import Solution
from partialloading.solvers.edf import edf_schedule
from partialloading.stop import Deadline

FORMULATIONS = ("auto", "general", "compact")
"""Values of the ``formulation`` option."""

HIGHS_NAMES = ("highs", "appsi_highs")
"""Pyomo names of the HiGHS interfaces (through highspy); ``"highs"`` is the default."""

HIGHS_OPTIONS: dict[str, Any] = {
    "mip_rel_gap": 0.0,
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
    "threads": 1,
}
"""HiGHS options for exact answers: no gap tolerance, tight feasibility tolerances."""

_MARGINS_MS = (1e-6, 1e-4, 1e-2)
"""Deadline margins (ms) tried, in turn, when an order is late by floating-point noise."""

_INCUMBENT = {
    TerminationCondition.optimal: True,
    TerminationCondition.maxTimeLimit: False,
    TerminationCondition.maxIterations: False,
    TerminationCondition.maxEvaluations: False,
    TerminationCondition.userInterrupt: False,
}
"""Terminations after which a solution may be loaded (``True``: proven optimal)."""


MAX_NONZEROS = 5_000_000
"""Largest MILP (constraint-matrix nonzeros, estimated before building) ``milp`` builds: about
the size Pyomo builds in a minute and a few GB of memory on a 2-core machine. The position-based
model grows with ``K²`` (every user at every position) plus ``K·M²`` (the transitions), so this
is reached at about 2,000 users; the compact model grows with ``K + M²``."""


SETUP_SECONDS_PER_NONZERO = 1e-5
"""Seconds to build a model and hand it to the solver, per nonzero (measured: about 9 µs on 2
shared cores for the general model of 400 users, 1.3 million nonzeros, in 12 s)."""


LOAD_SECONDS_PER_VARIABLE = 1e-5
"""Seconds to read a solution back into the Pyomo model after the solver stops, per variable
(measured: 0.8 s for the 101,064 variables of the general model of 300 users), kept out of the
solver's time limit so that the whole solve ends by its deadline."""


OVERSHOOT_SECONDS_PER_NONZERO = 2e-6
"""How far HiGHS may run past its time limit, per nonzero (measured on the general model of 300
users, 839,597 nonzeros: presolve's probing stops 0.1–1.0 s late and the LP then runs 0.6 s)."""


SCIP_OVERSHOOT_SECONDS_PER_ROW = 5e-6
"""How far SCIP may run past its time limit, per variable and constraint (measured: 0.47 s on the
pipelined model of 300 users, 91,199 variables and 100,770 constraints)."""


def _nonzeros(opt: Any) -> int:
    # The nonzeros of the model handed to HiGHS (0 when it was not: another solver).
    try:
        return int(opt._solver_model.getNumNz())
    except (AttributeError, TypeError, ValueError, RuntimeError):
        return 0


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
    return _build(data, choose_formulation(data, formulation))


def _build(data: ScheduleData, formulation: str) -> pyo.ConcreteModel:
    return compact.build(data) if formulation == "compact" else general.build(data)


def _add_cap(m: pyo.ConcreteModel, bound: float | None) -> None:
    """Add ``served_weight ≤ bound`` (a proven upper bound from the warm start), so that HiGHS
    proves a start reaching it optimal at once."""
    if bound is not None and hasattr(m, "served_weight"):
        m.known_bound = pyo.Constraint(expr=m.served_weight.expr <= float(bound) + 1e-6 * max(1.0, abs(bound)))


def _decode(m: pyo.ConcreteModel, data: ScheduleData, formulation: str) -> list[int]:
    return compact.decode(m, data) if formulation == "compact" else general.decode(m, data)


def _solver(name: str) -> Any:
    try:
        opt = pyo.SolverFactory(name)
        available = opt.available(exception_flag=False)
    except Exception as exc:  # Pyomo plugins raise assorted errors for unknown/broken solvers
        raise SolverError(f"MIP solver {name!r} cannot be used: {exc}") from None
    if not available:
        raise SolverError(f"MIP solver {name!r} is not installed or not available to Pyomo")
    return opt


def _reset_highs_threads() -> None:
    """Let the next HiGHS solve choose its thread count again.

    HiGHS keeps one thread scheduler per process, created by the first solve: once another
    caller in the process (a user's own Pyomo model, say) has solved with the default threads,
    asking for ``threads=1`` fails with an error that Pyomo reports as an unknown termination.
    """
    try:
        import highspy

        highspy.Highs.resetGlobalScheduler(True)
    except (ImportError, AttributeError):  # pragma: no cover - an older highspy without the call
        pass


def _node_count(opt: Any) -> int | None:
    # Pyomo's legacy results drop HiGHS's node count; its HiGHS interfaces keep the highspy
    # object, which has it. Other solvers: unknown.
    highs = getattr(opt, "_solver_model", None)
    try:
        nodes = int(highs.getInfo().mip_node_count)  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        return None
    return nodes if nodes >= 0 else None


def _hand_over(opt: Any, m: pyo.ConcreteModel) -> bool:
    """Hand ``m`` to HiGHS now (``set_instance``, which a later ``solve`` of the same model
    reuses), so that the seconds it takes (several at 300 users) are spent before the solver's
    time limit is set; whether it worked (if not, ``solve`` hands it over itself)."""
    try:
        opt.set_instance(m)
        # The model does not change after this: the solve need not look for changes.
        updates = opt.config.auto_updates
        for flag in (
            "check_for_new_or_removed_constraints",
            "check_for_new_or_removed_vars",
            "check_for_new_or_removed_params",
            "check_for_new_objective",
            "update_constraints",
            "update_vars",
            "update_parameters",
            "update_named_expressions",
            "update_objective",
        ):
            if hasattr(updates, flag):
                setattr(updates, flag, False)
    except (AttributeError, KeyError, TypeError, ValueError, RuntimeError):
        return False
    return True


def _set_start(opt: Any, m: pyo.ConcreteModel, start: ComponentMap) -> bool:
    """Hand ``start`` to HiGHS (the model already handed over) as its first incumbent; whether
    it was accepted.

    Pyomo's HiGHS interface has no warm-start argument, so the values are set on the highspy
    object it keeps. Any change in those internals disables the start, never the solve.
    """
    try:
        highs = opt._solver_model
        columns = opt._pyomo_var_to_solver_var_map
        index = np.array([columns[id(var)] for var in start], dtype=np.int32)
        value = np.array(list(start.values()), dtype=np.float64)
        status = highs.setSolution(len(index), index, value)
    except (AttributeError, KeyError, TypeError, ValueError, RuntimeError):
        return False
    return str(status).endswith("kOk")


def _run(
    m: pyo.ConcreteModel,
    name: str,
    deadline: Deadline,
    seed: int,
    extra: dict[str, Any],
    start: ComponentMap | None = None,
) -> tuple[SolverResults, bool, bool, int | None, bool]:
    """Solve ``m`` until ``deadline``; returns (results, has_solution, proven_optimal, nodes,
    start_accepted) with the solution loaded."""
    opt = _solver(name)
    handed = name == "highs" and _hand_over(opt, m)
    started = start is not None and handed and _set_start(opt, m, start)
    kwargs: dict[str, Any] = {"load_solutions": False}
    time_limit = deadline.seconds()
    if time_limit is not None:
        # HiGHS ends past its limit on large models, and reading the solution back takes time
        # after it stops: both are kept out of its limit, so that the solve ends by the deadline.
        after = m.nvariables() * LOAD_SECONDS_PER_VARIABLE + _nonzeros(opt) * OVERSHOOT_SECONDS_PER_NONZERO
        kwargs["timelimit"] = max(time_limit - after, 0.01)
    if name in HIGHS_NAMES:
        kwargs["options"] = {**HIGHS_OPTIONS, "random_seed": seed, **extra}
        _reset_highs_threads()
    elif extra:
        kwargs["options"] = dict(extra)
    try:
        results = opt.solve(m, **kwargs)
    except Exception as exc:  # a crashing solver must surface as a SolverError, not a wrong answer
        raise SolverError(f"MIP solver {name!r} failed: {str(exc) or type(exc).__name__}") from None
    condition = results.solver.termination_condition
    if condition == TerminationCondition.infeasible:
        # The empty schedule is always feasible: an 'infeasible' verdict is a solver failure.
        raise SolverError(f"MIP solver {name!r} reported the model infeasible, which it never is")
    if condition not in _INCUMBENT:
        raise SolverError(f"MIP solver {name!r} stopped with termination condition {condition}")
    has_solution = len(results.solution) > 0
    if has_solution:
        # Pyomo warns when loading the incumbent of an 'aborted' (time-limited) solve; that is
        # exactly what we mean to do, so silence that one message.
        logger = logging.getLogger("pyomo.core")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            m.solutions.load_from(results)
        finally:
            logger.setLevel(level)
    elif _INCUMBENT[condition]:
        raise SolverError(f"MIP solver {name!r} reported optimality without a solution")
    return results, has_solution, _INCUMBENT[condition], _node_count(opt), started


def _dual_bound(results: SolverResults, integral: bool, fallback: float) -> float:
    bound = results.problem.upper_bound
    if bound is None or not math.isfinite(float(bound)):
        return fallback
    bound = float(bound)
    # With integer weights the optimum is an integer: the floor of a bound is a bound.
    return math.floor(bound + 1e-6) if integral else bound


def solve(instance: Instance, params: MilpParams, request: SolveRequest) -> SolverOutput:
    """Solve the scheduling MILP exactly (or to the time limit).

    ``params`` (:class:`~partialloading.params.MilpParams`) names the solver (default
    ``"highs"``: HiGHS through highspy), the formulation (``"auto"``: compact for one common
    deadline, else general; with per-user deadlines the compact model is a restriction, no
    longer exact) and extra solver options (override the defaults above).

    Returns
    -------
    SolverOutput
        ``optimal`` when the solver proved optimality; ``feasible`` at the time limit with an
        incumbent that serves someone; ``time_limit`` otherwise. ``info`` holds the formulation,
        the gap, the model size and the solver's termination.
    """
    # What the MILP refuses (why_not_exact, precheck) the registry checks before any work.
    if instance.timing == "pipelined":
        return _solve_pipelined(instance, params, request)
    if _keeps_blocks(instance):
        return _solve_capacity(instance, params, request)
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
        empty = {
            "n_vars": 0,
            "n_cons": 0,
            "termination": "no candidates",
            "gap": 0.0,
            "deadline_margin_ms": 0.0,
            "nodes": 0,
        }
        return SolverOutput([], Status.OPTIMAL, bound=0.0, info=info | empty)
    restricted = chosen == "compact" and not data.common_deadline
    estimate = model_size(data, chosen)
    if estimate.nonzeros > MAX_NONZEROS:
        raise InstanceTooLargeError(
            f"milp: the {chosen} model of this instance would have about {estimate.variables:,} variables and "
            f"{estimate.nonzeros:,} nonzeros ({data.n_users} candidate users, {data.n_models} models), "
            f"beyond the limit of {MAX_NONZEROS:,} nonzeros; use greedy (or cpsat, or dp for backbone "
            "sharing with one deadline)"
        )
    setup = estimate.nonzeros * SETUP_SECONDS_PER_NONZERO
    left = deadline.remaining()
    if left is not None and setup > left:
        # Pyomo would spend the whole limit building and handing over the model, and the solver
        # would start with no time left: answer at once with the baseline, saying why.
        fallback = list(request.initial) if request.initial else edf_schedule(instance)
        info |= {
            "termination": f"time left {left:.3g} s below the estimated model setup of {setup:.1f} s",
            "gap": None,
            "nodes": 0,
            "n_vars": estimate.variables,
            "n_cons": estimate.constraints,
        }
        return SolverOutput(fallback, Status.FEASIBLE if fallback else Status.TIME_LIMIT, bound=None, info=info)
    model = _build(data, chosen)
    _add_cap(model, request.bound)
    info |= {"n_vars": model.nvariables(), "n_cons": model.nconstraints(), "build_s": time.perf_counter() - started}
    # Building the model counts against the time limit, like the solve.
    if deadline.expired():
        fallback = list(request.initial) if request.initial else edf_schedule(instance)
        info |= {"termination": "time limit reached while building the model", "gap": None, "nodes": 0}
        status = Status.FEASIBLE if fallback else Status.TIME_LIMIT
        return SolverOutput(fallback, status, bound=None, info=info)
    start = None
    if request.initial and chosen == "general":
        start = general.start_values(model, data, list(request.initial))
    results, has_solution, proven, nodes, mip_start = _run(
        model, solver, deadline, seed, dict(solver_options or {}), start
    )
    info["mip_start"] = mip_start
    total = float(data.weight.sum())
    bound = _dual_bound(results, integral, total)
    order = _decode(model, data, chosen) if has_solution else []

    def resolve(data_m: ScheduleData) -> tuple[Decoded, bool]:
        model = _build(data_m, chosen)
        _add_cap(model, request.bound)
        _, has_solution, proven_m, _, _ = _run(model, solver, deadline, seed, dict(solver_options or {}))
        return ((_decode(model, data_m, chosen) if has_solution else []), None), proven_m

    (order, _), proven, margin_used = _with_margins(instance, (order, None), proven, deadline, resolve)
    objective, proven, settled = _outcome(instance, order, bound, proven)
    reported: float | None = settled
    if restricted:
        # The compact model restricts the schedules with per-user deadlines: its optimum is a
        # heuristic answer for the instance, and its bound is not a bound of the instance.
        proven, reported = False, None
    if proven:
        status = Status.OPTIMAL
    elif order or restricted:
        status = Status.FEASIBLE
    else:
        status = Status.TIME_LIMIT
    info |= {
        "termination": str(results.solver.termination_condition),
        "gap": None if reported is None else (0.0 if reported <= 0 else max(reported - objective, 0.0) / reported),
        "deadline_margin_ms": margin_used,
        "nodes": nodes,
    }
    return SolverOutput(order, status, bound=reported, info=info)


Decoded = tuple[list[int], list[tuple[int, ...]] | None]
"""An order and its evictions (``None``: the memory's default rule)."""


def _with_margins(
    instance: Instance,
    found: Decoded,
    proven: bool,
    deadline: Deadline,
    resolve: Callable[[ScheduleData], tuple[Decoded, bool]],
) -> tuple[Decoded, bool, float]:
    """``found`` made on time: while it is late by the solver's tolerance, ``resolve`` the model with
    deadlines lowered by the next margin (until ``deadline``: then nothing is found, and the
    caller's start stands). Returns the order and evictions, whether optimality is still proven,
    and the margin used (ms)."""
    margin_used = 0.0
    for margin in _MARGINS_MS:
        if _on_time(instance, found):
            break
        if deadline.expired():
            return ([], None), False, margin_used
        margin_used = margin
        found, proven_m = resolve(schedule_data(instance, margin=margin))
        proven = proven and proven_m
    else:
        if not _on_time(instance, found):
            raise SolverError("the model's schedule misses a deadline even with a safety margin")
    return found, proven, margin_used


def _outcome(instance: Instance, order: list[int], bound: float, proven: bool) -> tuple[float, bool, float]:
    """The objective of ``order``, whether it is still proven optimal, and the bound to report:
    a margin re-solve that lost value (objective below the first solve's bound) is not proven."""
    objective = float(instance.weights[list(order)].sum()) if order else 0.0
    bound = max(bound, objective)
    proven = proven and objective >= bound - 1e-6 * max(1.0, abs(bound))
    return objective, proven, objective if proven else bound


def _on_time(instance: Instance, found: Decoded) -> bool:
    order, evicted = found
    return Solution(instance, tuple(order), evicted=None if evicted is None else tuple(evicted)).feasible


def precheck(instance: Instance, params: MilpParams) -> None:
    """Refuse, before any work (the warm start included), what the MILP does not define: a
    formulation other than the position-based one for a memory with a capacity or pipelined
    timing, solver options under pipelined timing (SCIP solves that model), and a solver Pyomo
    does not have."""
    if _keeps_blocks(instance) and params.formulation not in ("auto", "general"):
        raise MethodNotApplicableError(
            f"formulation {params.formulation!r} is not defined for a memory with a capacity (the capacity model is "
            "position-based: use auto or general)"
        )
    if instance.timing == "pipelined":
        if params.formulation not in ("auto", "general"):
            raise MethodNotApplicableError(
                f"formulation {params.formulation!r} is not defined for pipelined timing (the pipelined model is "
                "position-based: use auto or general)"
            )
        if params.solver != "highs" or params.solver_options:
            raise MethodNotApplicableError(
                "under pipelined timing the model is solved by SCIP: solver options do not apply"
            )
    elif params.solver != "highs":
        _solver(params.solver)


def _keeps_blocks(instance: Instance) -> bool:
    """Whether the instance's memory keeps several models' blocks (the registry lets the MILP
    see only the one-model memory and the capacity memory with planned evictions)."""
    return PAIRWISE not in memory_of(instance).structure


def why_not_exact(instance: Instance) -> str | None:
    """Why the MILP does not cover ``instance`` (``None`` when it does): the capacity memory is
    modelled under frame timing only."""
    if _keeps_blocks(instance) and instance.timing != "frame":
        return (
            "milp models a memory with a capacity under frame timing only (its pipelined model is written on "
            "one-model loads); use enumerate or greedy"
        )
    return None


def _solve_capacity(instance: Instance, params: MilpParams, request: SolveRequest) -> SolverOutput:
    """The capacity MILP (:mod:`partialloading.formulations.capacity`): the order and the
    evictions, with the same safety net as the one-model MILP."""
    deadline, seed, options = request.deadline, request.seed, dict(params.solver_options or {})
    memory = memory_of(instance)
    info: dict[str, Any] = {"formulation": "capacity", "solver": params.solver}

    def build(data_m: ScheduleData) -> tuple[pyo.ConcreteModel, capacity.BlockData]:
        blocks = capacity.block_data(
            data_m,
            [(b.id, float(b.size_bytes)) for b in instance.blocks],
            [sorted(own) for own in memory.blocks_of],
            instance.initial_resident,
            float(instance.load_speed_bytes_per_s),
            float(instance.memory_bytes or math.inf),
        )
        model = capacity.build(data_m, blocks)
        _add_cap(model, request.bound)
        return model, blocks

    def resolve(data_m: ScheduleData) -> tuple[Decoded, bool]:
        if data_m.n_users == 0:
            return ([], None), True
        model, blocks = build(data_m)
        _, has_solution, proven_m, _, _ = _run(model, params.solver, deadline, seed, options)
        order = general.decode(model, data_m) if has_solution else []
        return (order, capacity.decode_evictions(model, blocks, len(order)) if order else []), proven_m

    data = schedule_data(instance)
    info["candidates"] = data.n_users
    if data.n_users == 0:
        return SolverOutput([], Status.OPTIMAL, bound=0.0, info=info | {"termination": "no candidates", "gap": 0.0})
    model, blocks = build(data)
    info |= {"n_vars": model.nvariables(), "n_cons": model.nconstraints(), "blocks": len(blocks.ids)}
    results, has_solution, proven, nodes, _ = _run(model, params.solver, deadline, seed, options)
    total = float(data.weight.sum())
    integral = bool(np.all(instance.weights == np.round(instance.weights)))
    bound = _dual_bound(results, integral, total)
    order = general.decode(model, data) if has_solution else []
    found: Decoded = (order, capacity.decode_evictions(model, blocks, len(order)))
    (order, evicted), proven, margin_used = _with_margins(instance, found, proven, deadline, resolve)
    objective, proven, reported = _outcome(instance, order, bound, proven)
    status = Status.OPTIMAL if proven else Status.FEASIBLE if order else Status.TIME_LIMIT
    info |= {
        "termination": str(results.solver.termination_condition),
        "gap": 0.0 if reported <= 0 else max(reported - objective, 0.0) / reported,
        "deadline_margin_ms": margin_used,
        "nodes": nodes,
    }
    return SolverOutput(order, status, bound=reported, info=info, evicted=evicted)


def _solve_pipelined(instance: Instance, params: MilpParams, request: SolveRequest) -> SolverOutput:
    """The pipelined MINLP (:mod:`partialloading.formulations.pipelined`) solved by SCIP.

    Same safety net as the MILP: the order is re-evaluated in seconds and, if late by the
    solver's tolerance, the model is solved again with slightly earlier deadlines; the status
    is ``optimal`` only when the on-time schedule reaches the first solve's bound.
    """
    from partialloading.formulations import pipelined

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
    built.model.optimize()
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
        again.model.optimize()
        return (pipelined.decode(again, data_m), None), again.model.getStatus() == "optimal"

    (order, _), proven, margin_used = _with_margins(instance, (order, None), proven, deadline, resolve)
    objective, proven, reported = _outcome(instance, order, bound, proven)
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
