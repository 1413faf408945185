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

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from partialloading.errors import SolverError
from partialloading.instance import Instance
from partialloading.memory import memory_of
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import CpsatParams
from partialloading.progress import report
from partialloading.result import Status
from partialloading.stop import Deadline, interrupted
from partialloading.timing import servable_alone, timeline
from partialloading.tolerance import RELATIVE_TOLERANCE, reaches

from . import edf

MAX_WEIGHT_DECIMALS = 6
"""Weights with at most this many decimals are scaled to integers exactly."""

RESOLUTION = 10**8
"""Number of integer time units in the largest deadline."""

_OUTER_SLACK = 2
"""Units added to the outer model's deadlines to absorb floating-point error in the durations."""


@dataclass(frozen=True)
class TimeScale:
    """Conversion of seconds to CP-SAT's integer time units, rounding one way.

    Attributes
    ----------
    unit_s
        Length ``δ`` of one time unit in seconds.
    conservative
        ``True``: durations up, deadlines down (inner model, every accepted schedule is on
        time); ``False``: durations down, deadlines up (outer model, a relaxation).
    """

    unit_s: float
    conservative: bool

    @classmethod
    def for_instance(
        cls, instance: Instance, users: Sequence[int], conservative: bool, resolution: float = RESOLUTION
    ) -> TimeScale:
        """The unit ``δ = max T_k / resolution`` over ``users``."""
        t_max = float(np.max(instance.deadlines[list(users)])) if users else 1.0
        return cls(t_max / resolution, conservative)

    def duration(self, seconds: float) -> int:
        """A duration in units."""
        units = seconds / self.unit_s
        return math.ceil(units) if self.conservative else math.floor(units)

    def deadline(self, seconds: float) -> int:
        """A deadline in units."""
        if self.conservative:
            return math.floor(seconds / self.unit_s)
        return math.ceil(seconds * (1.0 + RELATIVE_TOLERANCE) / self.unit_s) + _OUTER_SLACK


@dataclass(frozen=True)
class WeightScale:
    """Integer weights for the CP-SAT objective.

    Attributes
    ----------
    factor
        Integer weights are ``round(w_k · factor)``.
    exact
        Whether ``w_k · factor`` is integral for every user (the optimum is then exact).
    """

    factor: int
    exact: bool

    @classmethod
    def for_weights(cls, weights: Sequence[float]) -> WeightScale:
        """The smallest power of ten (up to ``10^MAX_WEIGHT_DECIMALS``) that makes weights integral."""
        w = np.asarray(weights, dtype=float)
        for decimals in range(MAX_WEIGHT_DECIMALS + 1):
            scaled = w * 10**decimals
            if np.allclose(scaled, np.round(scaled), rtol=1e-12, atol=1e-9):
                return cls(10**decimals, True)
        return cls(10**MAX_WEIGHT_DECIMALS, False)

    def scale(self, weight: float) -> int:
        """Integer weight of ``weight``."""
        return round(weight * self.factor)


@dataclass(frozen=True)
class _Built:
    model: cp_model.CpModel
    present: dict[int, cp_model.IntVar]
    arcs: dict[tuple[int, int], cp_model.IntVar]
    scale: TimeScale
    weights: WeightScale


def build_model(
    instance: Instance,
    *,
    conservative: bool,
    symmetry: bool = True,
    resolution: float = RESOLUTION,
    cap: float | None = None,
) -> _Built:
    """Build the CP-SAT model of ``instance`` (users that cannot be served alone are left out).

    Parameters
    ----------
    conservative
        Round towards the inner model (``True``) or the outer one (``False``).
    symmetry
        Add the symmetry-breaking and dominance constraints between users of the same model
        (valid for every optimum; see ``docs/exact_solvers.md``).
    resolution
        Number of time units in the largest deadline.
    cap
        A proven upper bound on the served weight, added as ``Σ w_k p_k ≤ cap`` (valid for every
        schedule, so both roundings stay what they were); with it CP-SAT proves a start that
        reaches it optimal at once.
    """
    users = servable_alone(instance).tolist()
    scale = TimeScale.for_instance(instance, users, conservative, resolution)
    wscale = WeightScale.for_weights(instance.weights.tolist())
    model = cp_model.CpModel()
    model.name = f"partialloading-cpsat-{instance.name}"
    v = _Variables.of(model, instance, users, scale)
    _add_inferences(model, v)
    arcs = _add_circuit(model, instance, v, symmetry)
    _add_last_finish(model, instance, v, arcs)
    objective = sum(wscale.scale(float(instance.weights[k])) * v.present[k] for k in users)
    if cap is not None and wscale.exact and users:
        model.add(objective <= math.floor(cap * wscale.factor + 1e-6))
    model.maximize(objective)
    return _Built(model, v.present, arcs, scale, wscale)


@dataclass(frozen=True)
class _Variables:
    """The users of the model with their durations in time units, and the variables of each:
    whether it is served (``present``), when it finishes (``finish``), and the end of the
    upload phase (``tau``, the admitted users' uploads, all of them before any inference)."""

    users: list[int]
    scale: TimeScale
    upload: dict[int, int]
    deadline: dict[int, int]
    infer: dict[int, int]
    present: dict[int, cp_model.IntVar]
    finish: dict[int, cp_model.IntVar]
    tau: cp_model.IntVar

    @classmethod
    def of(cls, model: cp_model.CpModel, instance: Instance, users: list[int], scale: TimeScale) -> _Variables:
        infer = instance.user_infer_times
        upload = {k: scale.duration(float(instance.upload_times[k])) for k in users}
        deadline = {k: scale.deadline(float(instance.deadlines[k])) for k in users}
        infer_u = {k: scale.duration(float(infer[k])) for k in users}
        present = {k: model.new_bool_var(f"p[{k}]") for k in users}
        finish = {k: model.new_int_var(0, deadline[k], f"C[{k}]") for k in users}
        tau = model.new_int_var(0, sum(upload.values()), "tau")
        model.add(tau == sum(upload[k] * present[k] for k in users))
        return cls(users, scale, upload, deadline, infer_u, present, finish, tau)


def _add_inferences(model: cp_model.CpModel, v: _Variables) -> None:
    """One optional interval per user's inference, none overlapping, all after the uploads."""
    intervals = []
    for k in v.users:
        intervals.append(
            model.new_optional_fixed_size_interval_var(
                v.finish[k] - v.infer[k], v.infer[k], v.present[k], f"infer[{k}]"
            )
        )
        # Redundant (implied by the first arc and the chain) but tightens propagation.
        model.add(v.finish[k] >= v.tau + v.infer[k]).only_enforce_if(v.present[k])
    model.add_no_overlap(intervals)


def _add_circuit(
    model: cp_model.CpModel, instance: Instance, v: _Variables, symmetry: bool
) -> dict[tuple[int, int], cp_model.IntVar]:
    """The service order as a circuit through a depot (node 0; user ``k`` is node ``k + 1``): an
    arc's literal makes the next user finish at least its load and inference later. Returns the
    arcs, ``-1`` standing for the depot."""
    loads, first = memory_of(instance).matrix, memory_of(instance).first
    infer, models, users, present, finish = (
        instance.user_infer_times,
        instance.user_models,
        v.users,
        v.present,
        v.finish,
    )
    arcs: dict[tuple[int, int], cp_model.IntVar] = {}
    circuit: list[tuple[int, int, cp_model.LiteralT]] = []
    nobody = model.new_bool_var("nobody")
    circuit.append((0, 0, nobody))
    # The depot is skipped exactly when nobody is served (else the users could form a circuit of
    # their own, unattached to the upload phase).
    model.add_bool_or([nobody, *present.values()])
    for lit in present.values():
        model.add_implication(lit, ~nobody)
    for k in users:
        node = k + 1
        circuit.append((node, node, ~present[k]))
        start = model.new_bool_var(f"first[{k}]")
        end = model.new_bool_var(f"last[{k}]")
        arcs[(-1, k)] = start
        arcs[(k, -1)] = end
        circuit.append((0, node, start))
        circuit.append((node, 0, end))
        step = v.scale.duration(float(first[models[k]] + infer[k]))
        model.add(finish[k] >= v.tau + step).only_enforce_if(start)
    # Within a model, admitted users can be served by (deadline, index) and a dominated user is
    # admitted only if its dominator is (exchange arguments in docs/exact_solvers.md).
    rank = {k: (float(instance.deadlines[k]), k) for k in users}
    for k in users:
        for k2 in users:
            if k == k2:
                continue
            same = models[k] == models[k2]
            if symmetry and same and _dominates(instance, k, k2):
                model.add_implication(present[k2], present[k])
            if symmetry and same and rank[k2] < rank[k]:
                continue  # k2 must come before k: the arc k -> k2 is never used
            lit = model.new_bool_var(f"x[{k},{k2}]")
            arcs[(k, k2)] = lit
            circuit.append((k + 1, k2 + 1, lit))
            step = v.scale.duration(float(loads[models[k], models[k2]] + infer[k2]))
            model.add(finish[k2] >= finish[k] + step).only_enforce_if(lit)
            if symmetry and same:
                model.add(finish[k2] >= finish[k] + v.infer[k2]).only_enforce_if(present[k], present[k2])
    model.add_circuit(circuit)
    return arcs


def _add_last_finish(
    model: cp_model.CpModel, instance: Instance, v: _Variables, arcs: dict[tuple[int, int], cp_model.IntVar]
) -> None:
    """Redundant: the last request served finishes by the latest deadline. With a common deadline
    this is the knapsack-like constraint whose LP relaxation gives CP-SAT a useful bound. (The
    tighter right-hand side ``Σ_k D_k·last_k`` — the last user's own deadline — put huge
    coefficients on literals and made CP-SAT's presolve return wrong optima with fine units.)"""
    loads, first = memory_of(instance).matrix, memory_of(instance).first
    infer, models = instance.user_infer_times, instance.user_models
    steps = [
        v.scale.duration(float((first[models[j]] if i < 0 else loads[models[i], models[j]]) + infer[j])) * lit
        for (i, j), lit in arcs.items()
        if j >= 0
    ]
    model.add(v.tau + sum(steps) <= max(v.deadline.values(), default=0))


def _dominates(instance: Instance, k: int, k2: int) -> bool:
    # Same model: k is at least as good as k2 in upload, deadline and weight, ties by index.
    a, t, w = instance.upload_work, instance.deadlines, instance.weights
    key = (a[k], -t[k], -w[k])
    key2 = (a[k2], -t[k2], -w[k2])
    if not all(x <= y for x, y in zip(key, key2, strict=True)):
        return False
    return key != key2 or k < k2


def _order(built: _Built, solver: cp_model.CpSolver) -> list[int]:
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
    # The symmetry breaking serves a model's users in deadline order, an exchange argument that
    # needs equal inference times: with per-user times the model goes without it.
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
                k for k in candidates if k not in chosen and models[k] == models[k2] and _dominates(instance, k, k2)
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


def _add_hint(built: _Built, order: Sequence[int]) -> None:
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
