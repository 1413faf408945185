"""What every MILP driver shares: handing a Pyomo model to HiGHS (or another solver) within
the deadline, with a start and the solver's node count; the dual bound; and the numerical
safety net (an order late by the solver's tolerance is solved again with slightly earlier
deadlines, and optimality is claimed only when the on-time schedule reaches the first bound)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.opt import SolverResults, SolverStatus, TerminationCondition

from partialloading.errors import SolverError
from partialloading.formulations.common import ScheduleData, schedule_data
from partialloading.highs import reset_threads
from partialloading.instance import Instance
from partialloading.memory import PAIRWISE, memory_of
from partialloading.progress import report
from partialloading.solution import Solution
from partialloading.stop import Deadline, interrupted

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


LOAD_SECONDS_PER_VARIABLE = 1e-5
"""Seconds to read a solution back into the Pyomo model after the solver stops, per variable
(measured: 0.8 s for the 101,064 variables of the general model of 300 users), kept out of the
solver's time limit so that the whole solve ends by its deadline."""


OVERSHOOT_SECONDS_PER_NONZERO = 2e-6
"""How far HiGHS may run past its time limit, per nonzero (measured on the general model of 300
users, 839,597 nonzeros: presolve's probing stops 0.1–1.0 s late and the LP then runs 0.6 s)."""


def _nonzeros(opt: Any) -> int:
    # The nonzeros of the model handed to HiGHS (0 when it was not: another solver).
    try:
        return int(opt._solver_model.getNumNz())
    except (AttributeError, TypeError, ValueError, RuntimeError):
        return 0


def keeps_blocks(instance: Instance) -> bool:
    """Whether the instance's memory keeps several models' blocks (the registry lets the MILP
    see only the one-model memory and the capacity memory with planned evictions)."""
    return PAIRWISE not in memory_of(instance).structure


def add_cap(m: pyo.ConcreteModel, bound: float | None) -> None:
    """Add ``served_weight ≤ bound`` (a proven upper bound from the warm start), so that HiGHS
    proves a start reaching it optimal at once."""
    if bound is not None and hasattr(m, "served_weight"):
        m.known_bound = pyo.Constraint(expr=m.served_weight.expr <= float(bound) + 1e-6 * max(1.0, abs(bound)))


def solver_named(name: str) -> Any:
    # Pyomo logs an unknown name with a traceback before answering: the refusal below says it
    # in one line.
    logger = logging.getLogger("pyomo")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        opt = pyo.SolverFactory(name)
        available = opt.available(exception_flag=False)
    except Exception as exc:  # Pyomo plugins raise assorted errors for unknown/broken solvers
        raise SolverError(f"MIP solver {name!r} cannot be used: {exc}") from None
    finally:
        logger.setLevel(level)
    if not available:
        raise SolverError(f"MIP solver {name!r} is not installed or not available to Pyomo")
    return opt


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


class _Interrupted(logging.Filter):
    """Drops Pyomo's warning about HiGHS's interrupt status, which our own callback caused."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (interrupted() and "kInterrupt" in record.getMessage())


def _stop_on_interrupt(opt: Any) -> None:
    """Ask HiGHS, through its MIP interrupt callback, to stop with its incumbent once the solve
    is interrupted (Ctrl-C at the command line): a callback is Python code, so the signal's
    handler runs there, even while HiGHS is busy in C++. Without the hook HiGHS runs on to its
    time limit. The same callback reports the incumbent and bound (:mod:`partialloading.progress`)."""
    try:
        import highspy

        def check(kind: int, message: str, data_out: Any, data_in: Any, user_data: Any) -> None:
            if interrupted():
                data_in.user_interrupt = True
            # The model's objective is the served weight (maximized): its incumbent and bound.
            incumbent, bound = float(data_out.mip_primal_bound), float(data_out.mip_dual_bound)
            if math.isfinite(incumbent):
                report("milp", incumbent, bound if math.isfinite(bound) else None)

        highs = opt._solver_model
        highs.setCallback(check, None)
        highs.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    except (AttributeError, ImportError, TypeError, RuntimeError):  # another highspy: no hook
        pass


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


def _set_values(opt: Any, start: ComponentMap) -> bool:
    """Hand ``start`` to a solver of Pyomo's newer interfaces (SCIP's) as the values of the
    discrete variables to start from; whether the interface takes a start."""
    for var, value in start.items():
        var.set_value(value, skip_validation=True)
    config = getattr(opt, "config", None)
    if config is None or not hasattr(config, "warmstart_discrete_vars"):
        return False
    config.warmstart_discrete_vars = True
    return True


def run_model(
    m: pyo.ConcreteModel,
    name: str,
    deadline: Deadline,
    seed: int,
    extra: dict[str, Any],
    start: ComponentMap | None = None,
) -> tuple[SolverResults, bool, bool, int | None, bool]:
    """Solve ``m`` until ``deadline``; returns (results, has_solution, proven_optimal, nodes,
    start_accepted) with the solution loaded."""
    opt = solver_named(name)
    handed = name == "highs" and _hand_over(opt, m)
    started = start is not None and handed and _set_start(opt, m, start)
    if start is not None and not handed:
        started = _set_values(opt, start)
    if handed:
        _stop_on_interrupt(opt)
    kwargs: dict[str, Any] = {"load_solutions": False}
    time_limit = deadline.seconds()
    if time_limit is not None:
        # HiGHS ends past its limit on large models, and reading the solution back takes time
        # after it stops: both are kept out of its limit, so that the solve ends by the deadline.
        after = m.nvariables() * LOAD_SECONDS_PER_VARIABLE + _nonzeros(opt) * OVERSHOOT_SECONDS_PER_NONZERO
        kwargs["timelimit"] = max(time_limit - after, 0.01)
    if name in HIGHS_NAMES:
        kwargs["options"] = {**HIGHS_OPTIONS, "random_seed": seed, **extra}
        reset_threads()
    elif extra:
        kwargs["options"] = dict(extra)
    quiet = _Interrupted()
    handlers = logging.getLogger("pyomo").handlers
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        results = opt.solve(m, **kwargs)
    except Exception as exc:  # a crashing solver must surface as a SolverError, not a wrong answer
        raise SolverError(f"MIP solver {name!r} failed: {str(exc) or type(exc).__name__}") from None
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
    condition = results.solver.termination_condition
    if condition == TerminationCondition.unknown and interrupted():
        # Pyomo does not know HiGHS's kInterrupt (our callback's doing): an interrupted search,
        # whose incumbent is loaded as a time-limited one's.
        condition = results.solver.termination_condition = TerminationCondition.userInterrupt
        results.solver.status = SolverStatus.aborted
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


def dual_bound(results: SolverResults, integral: bool, fallback: float) -> float:
    """The solver's dual bound, never above ``fallback`` (the candidates' total weight, itself a
    bound: HiGHS stopped at the root with a start can report more)."""
    bound = results.problem.upper_bound
    if bound is None or not math.isfinite(float(bound)):
        return fallback
    bound = min(float(bound), fallback)
    # With integer weights the optimum is an integer: the floor of a bound is a bound.
    return math.floor(bound + 1e-6) if integral else bound


class Decoded(NamedTuple):
    """A schedule read from a model's solution."""

    order: list[int]
    evicted: list[tuple[int, ...]] | None = None
    """Its evictions (``None``: the memory's default rule)."""
    batch: list[int] | None = None
    """Its batch numbers (``None``: one request per batch)."""


def with_margins(
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
            return Decoded([]), False, margin_used
        margin_used = margin
        found, proven_m = resolve(schedule_data(instance, margin=margin))
        proven = proven and proven_m
    else:
        if not _on_time(instance, found):
            raise SolverError("the model's schedule misses a deadline even with a safety margin")
    return found, proven, margin_used


def outcome(instance: Instance, order: list[int], bound: float, proven: bool) -> tuple[float, bool, float]:
    """The objective of ``order``, whether it is still proven optimal, and the bound to report:
    a margin re-solve that lost value (objective below the first solve's bound) is not proven."""
    objective = float(instance.weights[list(order)].sum()) if order else 0.0
    bound = max(bound, objective)
    proven = proven and objective >= bound - 1e-6 * max(1.0, abs(bound))
    return objective, proven, objective if proven else bound


def _on_time(instance: Instance, found: Decoded) -> bool:
    evicted = None if found.evicted is None else tuple(found.evicted)
    batch = None if found.batch is None else tuple(found.batch)
    return Solution(instance, tuple(found.order), evicted=evicted, batch=batch).feasible
