"""The joint scheduling–bandwidth problem, before the decomposition (docs/formulation.md).

Here the bandwidth ``b_k`` is a decision variable and the upload phase ``τ`` a variable bound by
the *bilinear* constraint ``b_k·τ ≥ a_k·x_k`` (user ``k`` admitted ⇒ its upload ``a_k/b_k`` ends by
``τ``), with ``Σ_k b_k ≤ B``. The decomposition theorem says the optimum of this problem equals the
optimum of the scheduling problem with ``τ = Σ_S a_k/B``; :mod:`partialloading.validation.decomposition`
checks that numerically with the two solvers of this module, which do *not* use the closed form:

* :func:`solve_joint_scip` — the whole problem as a nonconvex MINLP for SCIP (PySCIPOpt), whose
  spatial branch and bound handles the bilinear term. Scheduling is written independently of the
  toolkit's other models: a position-based model (``y[k, q] = 1``: user ``k`` in position ``q``).
* :func:`solve_joint_enumeration` — for tiny instances: for each admitted set ``S`` (heaviest
  first) the convex bandwidth problem ``min τ s.t. a_k/b_k ≤ τ (k ∈ S), Σ b ≤ B`` is solved by
  cvxpy (CLARABEL, :func:`min_upload_phase`), then every order of ``S`` is tried with that ``τ``.

Units in the SCIP model: times in milliseconds and bandwidth as a fraction of ``B``
(``β_k = b_k/B``), so that ``β_k·τ ≥ (a_k/B)·x_k`` has coefficients of order 1–1000 and SCIP's
feasibility tolerance (1e-6) is 1e-9 s. A secondary objective term ``−ε·τ`` (``ε·τ ≤ 0.1``,
below any difference of total weights when weights are integers) makes SCIP return the smallest
``τ`` for its admitted set, so that its bandwidth split can be compared with the closed form
``b_k = B·a_k/Σ_S a``. (With ``ε·τ ≤ 10^-3`` SCIP's tolerances left the split off by up to 1e-3
relative on the 200-instance check; with 0.1 by at most 4.4e-6.)
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import cvxpy as cp
import numpy as np
from pyscipopt import Model, quicksum

from partialloading.errors import InstanceTooLargeError, SolverError
from partialloading.instance import Instance
from partialloading.memory import memory_of
from partialloading.tolerance import RELATIVE_TOLERANCE

from .positions import add_positions

MS = 1e3
"""Milliseconds per second: the time unit of the SCIP model."""

SECONDARY_WEIGHT = 0.1
"""Default largest value of the secondary term ``ε·τ`` in the SCIP objective. It must stay below
the smallest positive difference between total weights (1 for integer weights) for the primary
objective to be unchanged."""

ENUMERATION_MAX_USERS = 7
"""Size limit of :func:`solve_joint_enumeration` (it tries every set and every order)."""


@dataclass(frozen=True)
class JointSolution:
    """An optimum of the joint problem.

    Attributes
    ----------
    objective
        Total weight of the admitted users.
    order
        Admitted users in service order.
    bandwidth_hz
        Bandwidth of each admitted user, in ``order``.
    upload_end_s
        The upload phase ``τ`` of the solution.
    optimal
        Whether the solver proved optimality.
    runtime_s
        Wall-clock seconds.
    """

    objective: float
    order: tuple[int, ...]
    bandwidth_hz: tuple[float, ...]
    upload_end_s: float
    optimal: bool
    runtime_s: float


@dataclass(frozen=True)
class BandwidthComparison:
    """The convex bandwidth problem of a fixed admitted set against the closed form.

    Attributes
    ----------
    users
        The admitted set.
    upload_end_s
        Optimal ``τ`` found by the convex solver.
    bandwidth_hz
        Optimal split found by the convex solver, in ``users`` order.
    closed_form_hz
        ``B·a_k / Σ_S a``.
    max_relative_difference
        ``max_k |b_k − b*_k| / b*_k`` (0 for the empty set).
    """

    users: tuple[int, ...]
    upload_end_s: float
    bandwidth_hz: tuple[float, ...]
    closed_form_hz: tuple[float, ...]
    max_relative_difference: float


# ----------------------------------------------------------------------------- convex bandwidth
@cache
def _cached_bandwidth_problem(size: int) -> tuple[cp.Problem, cp.Parameter, cp.Variable, cp.Variable]:
    # One parametrized problem per set size, compiled once (compiling dominates solving).
    return _bandwidth_problem(size)


def _bandwidth_problem(size: int) -> tuple[cp.Problem, cp.Parameter, cp.Variable, cp.Variable]:
    # β are fractions of B and the parameter is a_k/B in milliseconds (a DPP-compliant
    # nonnegative parameter).
    work = cp.Parameter(size, nonneg=True)
    beta = cp.Variable(size, pos=True)
    tau = cp.Variable()
    problem = cp.Problem(cp.Minimize(tau), [cp.multiply(work, cp.inv_pos(beta)) <= tau, cp.sum(beta) <= 1])
    return problem, work, beta, tau


def min_upload_phase(instance: Instance, users: Sequence[int]) -> BandwidthComparison:
    """Solve ``min τ s.t. a_k/b_k ≤ τ (k ∈ users), Σ b_k ≤ B`` with cvxpy (CLARABEL).

    The closed form is computed alongside for comparison; it is not used to solve.
    """
    idx = tuple(int(k) for k in users)
    bandwidth = float(instance.bandwidth_hz)
    if not idx:
        return BandwidthComparison((), 0.0, (), (), 0.0)
    work_ms = instance.upload_work[list(idx)] / bandwidth * MS
    for build in (_cached_bandwidth_problem, _bandwidth_problem):
        problem, work, beta, tau = build(len(idx))
        work.value = work_ms
        with warnings.catch_warnings():
            # "Solution may be inaccurate": handled below by retrying on a fresh problem.
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=cp.CLARABEL)
        if problem.status == cp.OPTIMAL and beta.value is not None and tau.value is not None:
            break
        # A re-used compiled problem occasionally ends "optimal_inaccurate"; a fresh one does not.
    else:
        raise SolverError(f"cvxpy could not solve the bandwidth problem ({problem.status})")
    found = np.asarray(beta.value, dtype=float) * bandwidth
    closed = bandwidth * work_ms / work_ms.sum()
    diff = float(np.max(np.abs(found - closed) / closed))
    return BandwidthComparison(idx, float(tau.value) / MS, tuple(found.tolist()), tuple(closed.tolist()), diff)


# ----------------------------------------------------------------------------- enumeration
def _finishes(instance: Instance, order: Sequence[int], tau: float) -> list[float]:
    loads = memory_of(instance).matrix
    first = memory_of(instance).first
    t = tau
    out = []
    last: int | None = None
    for k in order:
        m = int(instance.user_models[k])
        t += float(first[m] if last is None else loads[last, m]) + float(instance.user_infer_times[k])
        out.append(t)
        last = m
    return out


def solve_joint_enumeration(instance: Instance) -> tuple[JointSolution, tuple[BandwidthComparison, ...]]:
    """Optimum of the joint problem by enumeration of admitted sets and orders.

    Sets are visited by decreasing weight; for each, ``τ`` comes from the convex bandwidth problem
    (cvxpy) and every order is tried. The first set with an on-time order is optimal.

    Returns
    -------
    tuple
        The optimum and the bandwidth comparison of every set visited.

    Raises
    ------
    InstanceTooLargeError
        More than :data:`ENUMERATION_MAX_USERS` users.
    """
    if instance.num_users > ENUMERATION_MAX_USERS:
        raise InstanceTooLargeError(
            f"joint enumeration handles at most {ENUMERATION_MAX_USERS} users (got {instance.num_users})"
        )
    started = time.perf_counter()
    weights = instance.weights
    limit = instance.deadlines * (1.0 + RELATIVE_TOLERANCE)
    subsets = [
        s for n in range(instance.num_users, -1, -1) for s in itertools.combinations(range(instance.num_users), n)
    ]
    subsets.sort(key=lambda s: (-float(weights[list(s)].sum()) if s else 0.0, -len(s), s))
    compared: list[BandwidthComparison] = []
    for subset in subsets:
        comparison = min_upload_phase(instance, subset)
        compared.append(comparison)
        for order in itertools.permutations(subset):
            finish = _finishes(instance, order, comparison.upload_end_s)
            if all(f <= limit[k] for f, k in zip(finish, order, strict=True)):
                pos = {k: q for q, k in enumerate(subset)}
                split = tuple(comparison.bandwidth_hz[pos[k]] for k in order)
                solution = JointSolution(
                    float(weights[list(order)].sum()) if order else 0.0,
                    tuple(order),
                    split,
                    comparison.upload_end_s,
                    True,
                    time.perf_counter() - started,
                )
                return solution, tuple(compared)
    raise AssertionError("the empty set is always feasible")  # pragma: no cover


# ----------------------------------------------------------------------------- SCIP
def solve_joint_scip(
    instance: Instance,
    time_limit: float | None = None,
    *,
    secondary_weight: float = SECONDARY_WEIGHT,
) -> JointSolution:
    """Optimum of the joint problem (bilinear MINLP) by SCIP's spatial branch and bound.

    Parameters
    ----------
    instance
        The instance (small: the model has ``K²`` binaries).
    time_limit
        Wall-clock limit in seconds (``None``: none).
    secondary_weight
        Largest value of the tie-breaking term ``ε·τ`` (0: do not minimize ``τ``; the split is
        then any feasible one). Keep it below the smallest difference of total weights.

    Raises
    ------
    SolverError
        SCIP found no solution (the empty schedule is always feasible, so this is a failure).
    """
    started = time.perf_counter()
    users = range(instance.num_users)
    bandwidth = float(instance.bandwidth_hz)
    work = (instance.upload_work / bandwidth * MS).tolist()  # a_k / B in ms
    horizon = float(instance.deadlines.max() * MS) if instance.num_users else 0.0
    m = Model("partialloading-joint")
    m.hideOutput()
    if time_limit is not None:
        m.setParam("limits/time", float(time_limit))
    x = {k: m.addVar(vtype="B", name=f"x[{k}]") for k in users}
    beta = {k: m.addVar(lb=0.0, ub=1.0, name=f"beta[{k}]") for k in users}
    tau = m.addVar(lb=0.0, ub=horizon, name="tau")
    positions = _Order.add(m, instance)
    # Bandwidth: the bilinear upload constraint and the shared uplink.
    for k in users:
        m.addCons(beta[k] * tau >= work[k] * x[k], name=f"upload[{k}]")
    m.addCons(quicksum(beta.values()) <= 1.0, name="uplink")
    positions.add_rows(m, instance, x, tau)

    eps = secondary_weight / horizon if horizon > 0 else 0.0
    m.setObjective(quicksum(float(instance.weights[k]) * x[k] for k in users) - eps * tau, "maximize")
    m.optimize()
    if m.getNSols() == 0:
        raise SolverError(f"SCIP found no solution to the joint problem (status {m.getStatus()})")
    sol = m.getBestSol()
    order: list[int] = []
    for q in users:  # the positions, one per user
        order.extend(k for k in users if m.getSolVal(sol, positions.y[k, q]) > 0.5)
    objective = float(sum(float(instance.weights[k]) for k in order))
    split = tuple(m.getSolVal(sol, beta[k]) * bandwidth for k in order)
    return JointSolution(
        objective,
        tuple(order),
        split,
        m.getSolVal(sol, tau) / MS,
        m.getStatus() == "optimal",
        time.perf_counter() - started,
    )


@dataclass(frozen=True)
class _Order:
    """The service order of the joint model: positions filled from the front, one user each
    (``y[k, q]``), the transition load before each (``load[q]``) and its finish time."""

    y: dict[tuple[int, int], Any]
    load: dict[int, Any]
    finish: dict[int, Any]

    @classmethod
    def add(cls, m: Model, instance: Instance) -> _Order:
        loads = (memory_of(instance).matrix * MS).tolist()
        first = (memory_of(instance).first * MS).tolist()
        y, load, _ = add_positions(m, instance.user_models.tolist(), instance.num_models, first, loads)
        finish = {q: m.addVar(lb=0.0, name=f"C[{q}]") for q in range(instance.num_users)}
        return cls(y, load, finish)

    def add_rows(self, m: Model, instance: Instance, x: dict[int, Any], tau: Any) -> None:
        """An admitted user (``x``) takes one position; each position finishes after the one
        before (the first after the upload phase ``tau``) and its load and inference, by its
        user's deadline (big-M)."""
        users = positions = range(instance.num_users)
        y, finish = self.y, self.finish
        deadline = (instance.deadlines * MS).tolist()
        infer = (instance.user_infer_times * MS).tolist()
        loads = (memory_of(instance).matrix * MS).tolist()
        big_m = max(deadline, default=0.0) + instance.num_users * (max(max(row) for row in loads) + max(infer))
        for k in users:
            m.addCons(quicksum(y[k, q] for q in positions) == x[k], name=f"assign[{k}]")
        for q in positions:
            before = tau if q == 0 else finish[q - 1]
            work_q = self.load[q] + quicksum(infer[k] * y[k, q] for k in users)
            m.addCons(finish[q] >= before + work_q, name=f"finish[{q}]")
            for k in users:
                m.addCons(finish[q] <= deadline[k] + big_m * (1 - y[k, q]), name=f"deadline[{k},{q}]")
