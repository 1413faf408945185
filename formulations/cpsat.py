"""The CP-SAT model of the scheduling problem (OR-Tools, not Pyomo): optional intervals and a
circuit over the requests, in integer time units with an inner and an outer rounding; the
method that solves it is :mod:`partialloading.solvers.cpsat` (whose docstring, with
``docs/exact_solvers.md``, describes the model and its roundings).

The model is built, as PyJobShop builds its CP models, from one small function per role: the
variables (:class:`_Variables`), the inferences, the circuit, the redundant last-finish row and
the objective.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from partialloading.instance import Instance
from partialloading.memory import memory_of
from partialloading.timing import servable_alone
from partialloading.tolerance import RELATIVE_TOLERANCE

MAX_WEIGHT_DECIMALS = 6
"""Weights with at most this many decimals are scaled to integers exactly."""


RESOLUTION = 10**8
"""Number of integer time units in the largest deadline."""


OUTER_SLACK = 2
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
        return math.ceil(seconds * (1.0 + RELATIVE_TOLERANCE) / self.unit_s) + OUTER_SLACK


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
class CpModel:
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
) -> CpModel:
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
    return CpModel(model, v.present, arcs, scale, wscale)


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
            if symmetry and same and dominates(instance, k, k2):
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


def dominates(instance: Instance, k: int, k2: int) -> bool:
    # Same model: k is at least as good as k2 in upload, deadline and weight, ties by index.
    a, t, w = instance.upload_work, instance.deadlines, instance.weights
    key = (a[k], -t[k], -w[k])
    key2 = (a[k2], -t[k2], -w[k2])
    if not all(x <= y for x, y in zip(key, key2, strict=True)):
        return False
    return key != key2 or k < k2
