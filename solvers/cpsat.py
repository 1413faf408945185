"""Exact CP-SAT model (``method="cpsat"``): optional intervals and a circuit over the requests.

The model (see ``docs/exact_solvers.md`` for the full description)

* ``p_k`` — user ``k`` is admitted; it is the presence literal of an optional interval of length
  ``c_{m_k}`` (the inference) ending at the integer completion time ``C_k``;
* a circuit (``AddCircuit``) over a depot node ``0`` and one node per user: the arc ``0 → k``
  means "``k`` is served first", ``k → k'`` "``k'`` right after ``k``", ``k → 0`` "``k`` is served
  last", the self-loop ``k → k`` is ``¬p_k`` and the depot self-loop means "nobody is served";
* ``τ = Σ_k p_k·u_k`` with ``u_k`` the scaled ``a_k/B`` (the upload phase after the
  decomposition); the first request completes at ``C_k ≥ τ + ℓ(i0, m_k) + c_{m_k}``, the next
  one at ``C_k' ≥ C_k + ℓ(m_k, m_k') + c_{m_k'}`` (the arc literal carries the loading time as a
  setup); ``C_k ≤ T_k``. The initial model enters through the depot's outgoing arcs only, and the
  memory (with or without sharing) only through the load matrix;
* maximize ``Σ_k w_k p_k``.

Time scaling and rounding. CP-SAT works in integers. Times are counted in units of
``δ = max_k T_k / RESOLUTION`` seconds (``RESOLUTION = 10^8``: 10 ns for a 1 s deadline; finer
units make CP-SAT's presolve unreliable — from ~1e10 units on it returned wrong optima, see
``benchmarks/cpsat_resolution.py``).
Two roundings of the same model are used:

* the *outer* model rounds durations (``a_k/B``, ``ℓ + c``) down and deadlines up, to
  ``⌈T_k·(1 + ε)/δ⌉ + 2`` (``ε = timing.RELATIVE_TOLERANCE``; the 2 units absorb floating-point
  error). Every schedule the evaluator accepts (``finish ≤ T_k·(1 + ε)``) is accepted by it, so its
  optimum and bound are valid upper bounds;
* the *inner* (conservative) model rounds durations up and deadlines down, to ``⌊T_k/δ⌋``. Every
  schedule it accepts finishes by ``T_k`` in exact arithmetic: rounding can never turn a late
  schedule into an accepted one.

The outer model is solved first. Its schedule is returned only if the floating-point evaluator
(the same rule as :func:`partialloading.solve` and the verifier) accepts it; it is then optimal,
since it is optimal for a relaxation. Otherwise the instance is a knife-edge one (some schedule
is within ``(2K + 3)·δ`` of a deadline); the inner model is solved and its schedule returned,
``optimal`` if its weight reaches the outer bound, else ``feasible`` with that bound (reported in
``info["knife_edge"]``). A schedule finishing exactly on its deadline is accepted by the outer
model and by the evaluator, so it is returned unless the outer model picks another schedule of
the same weight that is late by less than the rounding (then the inner model answers and the
status says whether optimality is still proven); a schedule late by ``10^-7`` s is never returned.

Weights. Integral weights are used as they are. Decimal weights with at most
:data:`MAX_WEIGHT_DECIMALS` decimals are multiplied by ``10^d`` (exact). Other weights are
rounded at ``10^MAX_WEIGHT_DECIMALS``; the optimum is then not proven (status ``feasible``) and
the bound is widened by the rounding error.

Determinism. With one worker (the default) CP-SAT's search is deterministic for a given
``random_seed``; with several workers the portfolio is not (results may differ between runs).
A time limit also makes results depend on the machine's speed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from partialloading.errors import SolverError
from partialloading.formulations.cpsat import CpModel, build_model, dominates
from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import CpsatParams
from partialloading.progress import report
from partialloading.result import Status
from partialloading.stop import Deadline, interrupted
from partialloading.timing import servable_alone, timeline
from partialloading.tolerance import reaches

from . import edf


def _order(built: CpModel, solver: cp_model.CpSolver) -> list[int]:
    succ = {i: j for (i, j), lit in built.arcs.items() if solver.boolean_value(lit)}
    order: list[int] = []
    node = succ.get(-1, -1)
    while node != -1:
        order.append(node)
        node = succ[node]
    admitted = {k for k, lit in built.present.items() if solver.boolean_value(lit)}
    if set(order) != admitted or len(order) != len(admitted):
        raise SolverError("cpsat returned a circuit that does not match the admitted users")
    return order


def solve(instance: Instance, params: CpsatParams, request: SolveRequest) -> SolverOutput:
    """Solve with OR-Tools CP-SAT (see :class:`~partialloading.params.CpsatParams`).

    With ``hint`` the search starts from the initial schedule when one is given, else from the
    earliest-deadline-first schedule; at the time limit without a CP-SAT solution that start is
    returned.
    """
    deadline, seed = request.deadline, request.seed
    workers, symmetry, hint, resolution = params.workers, params.symmetry, params.hint, params.resolution
    # The deadline order holds with any inference times (docs/exact_solvers.md §5), but the
    # dominance (a user in another's place) and the hint's re-sorting over the same positions
    # need equal times: with per-user times the model goes without the symmetry breaking.
    symmetry = symmetry and not instance.per_user_times
    start: list[int] = []
    if hint:
        # An empty start (initial=[]: no warm start) gets the EDF hint, as no start does.
        start = list(request.initial) if request.initial else edf.edf_schedule(instance)
    if hint and symmetry:
        start = _canonical(instance, start)
    cap = request.bound
    outer = _run(instance, False, symmetry, resolution, start, deadline, seed, workers, cap)
    info: dict[str, Any] = {**outer.stats, "knife_edge": False}
    if outer.code == cp_model.UNKNOWN:
        return _fallback(instance, start, outer.best_bound, info)
    if not outer.order or timeline(instance, outer.order).feasible:
        # Optimal for a relaxation and on time: optimal.
        return SolverOutput(outer.order, _status(outer), bound=_bound(instance, outer), info=info)
    # Knife edge: the relaxation's schedule is late by less than the rounding. Solve the inner
    # model, whose schedules are on time by construction, and keep the outer bound.
    inner = _run(instance, True, symmetry, resolution, start, deadline, seed, workers, cap)
    info = {**inner.stats, "knife_edge": True, "outer": outer.stats}
    bound = _bound(instance, outer)
    if inner.code == cp_model.UNKNOWN:
        return _fallback(instance, start, bound, info)
    if inner.order and not timeline(instance, inner.order).feasible:
        # Impossible by the rounding argument; refuse rather than return a late schedule.
        raise SolverError("cpsat's conservative model returned a schedule that misses a deadline")
    weight = float(instance.weights[inner.order].sum()) if inner.order else 0.0
    if _status(inner) == Status.OPTIMAL and reaches(weight, bound):
        return SolverOutput(inner.order, Status.OPTIMAL, bound=weight, info=info)
    return SolverOutput(inner.order, Status.FEASIBLE if inner.order else Status.TIME_LIMIT, bound=bound, info=info)


@dataclass(frozen=True)
class _Run:
    code: Any
    order: list[int]
    best_bound: float
    exact_weights: bool
    stats: dict[str, Any]


def _run(
    instance: Instance,
    conservative: bool,
    symmetry: bool,
    resolution: float,
    start: Sequence[int],
    deadline: Deadline,
    seed: int,
    workers: int,
    cap: float | None = None,
) -> _Run:
    built = build_model(instance, conservative=conservative, symmetry=symmetry, resolution=resolution, cap=cap)
    if start:
        _add_hint(built, start)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    left = deadline.seconds()
    if left is not None:  # building the model counted against the limit, like the search
        solver.parameters.max_time_in_seconds = left
    code = _solve_interruptibly(solver, built.model, _Progress(built.weights.factor))
    stats: dict[str, Any] = {
        "cp_status": solver.status_name(code),
        "rounding": "inner" if conservative else "outer",
        "branches": int(solver.num_branches),
        "conflicts": int(solver.num_conflicts),
        "wall_time_s": float(solver.wall_time),
        "workers": workers,
        "time_unit_s": built.scale.unit_s,
        "weight_factor": built.weights.factor,
        "candidates": len(built.present),
    }
    if code in (cp_model.INFEASIBLE, cp_model.MODEL_INVALID):
        raise SolverError(f"cpsat failed: {solver.status_name(code)} (the empty schedule is always feasible)")
    # Rounded weights: each differs from w_k·factor by at most 1/2.
    slack = 0.0 if built.weights.exact else 0.5 * len(built.present)
    if code == cp_model.UNKNOWN:
        # Stopped before CP-SAT had a bound (e.g. during presolve): the trivial one.
        best_bound = float(sum(instance.weights[k] for k in built.present))
    else:
        best_bound = (solver.best_objective_bound + slack) / built.weights.factor
    order = [] if code == cp_model.UNKNOWN else _order(built, solver)
    return _Run(code, order, best_bound, built.weights.exact, stats)


def _fallback(instance: Instance, start: Sequence[int], bound: float, info: dict[str, Any]) -> SolverOutput:
    # No CP-SAT solution before the time limit: return the (on-time) starting schedule, if any.
    order = list(start) if start and timeline(instance, start).feasible else []
    return SolverOutput(order, Status.FEASIBLE if order else Status.TIME_LIMIT, bound=bound, info=info)


def _status(run: _Run) -> Status:
    if run.code == cp_model.OPTIMAL and run.exact_weights:
        return Status.OPTIMAL
    return Status.FEASIBLE if run.order else Status.TIME_LIMIT


def _bound(instance: Instance, run: _Run) -> float:
    if _status(run) == Status.OPTIMAL:
        return float(instance.weights[run.order].sum()) if run.order else 0.0
    return run.best_bound


def _canonical(instance: Instance, order: Sequence[int]) -> list[int]:
    """``order`` made to satisfy the symmetry breaking: dominated users swapped for their
    dominators, then each model's users in (deadline, index) order over the same positions.

    Both steps keep the schedule feasible (the exchange arguments of the model), so the result is
    a valid hint with at least the same weight."""
    current = list(order)
    candidates = servable_alone(instance).tolist()
    models = instance.user_models
    changed = True
    while changed:
        changed = False
        chosen = set(current)
        for q, k2 in enumerate(current):
            better = [
                k for k in candidates if k not in chosen and models[k] == models[k2] and dominates(instance, k, k2)
            ]
            if better:
                current[q] = better[0]
                changed = True
                break
    slots: dict[int, list[int]] = {}
    for q, k in enumerate(current):
        slots.setdefault(int(models[k]), []).append(q)
    result = list(current)
    for positions in slots.values():
        ranked = sorted((current[q] for q in positions), key=lambda k: (float(instance.deadlines[k]), k))
        for q, k in zip(positions, ranked, strict=True):
            result[q] = k
    if result and not timeline(instance, result).feasible:  # pragma: no cover - exchange argument
        return list(order)
    return result


def _add_hint(built: CpModel, order: Sequence[int]) -> None:
    chosen = [k for k in order if k in built.present]
    if len(chosen) != len(order):
        return
    used = set(zip([-1, *chosen], [*chosen, -1], strict=True))
    if not all(arc in built.arcs for arc in used):
        return  # the order violates the symmetry breaking: not worth repairing
    for k, lit in built.present.items():
        built.model.add_hint(lit, k in chosen)
    for arc, lit in built.arcs.items():
        built.model.add_hint(lit, arc in used)


class _Progress(cp_model.CpSolverSolutionCallback):
    """Reports each improving schedule with CP-SAT's bound (:mod:`partialloading.progress`), in
    weights (the model's are scaled by ``factor``)."""

    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = factor

    def on_solution_callback(self) -> None:
        report("cpsat", self.objective_value / self.factor, self.best_objective_bound / self.factor)


def _solve_interruptibly(
    solver: cp_model.CpSolver, model: cp_model.CpModel, callback: cp_model.CpSolverSolutionCallback | None = None
) -> Any:
    """``solver.solve(model)``, stopped with its incumbent once the solve is interrupted
    (Ctrl-C at the command line). CP-SAT runs in a thread while this one, free to run the
    signal's handler, watches the interrupt; CP-SAT's own Ctrl-C handling is off, so that one
    rule holds for every method."""
    solver.parameters.catch_sigint_signal = False
    outcome: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(solver.solve(model, callback))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="cpsat", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
        if interrupted():
            solver.stop_search()  # again each time: it does nothing before the search starts
    if failure:
        raise failure[0]
    return outcome[0]
