"""Data shared by the MILP formulations: the instance reduced to what the models need, in milliseconds.

After the decomposition theorem (``docs/formulation.md``) the bandwidth is no longer a decision:
the upload phase of an admitted set ``S`` lasts ``τ = Σ_{k∈S} a_k/B``, which is linear in the
admission variables. What remains is a scheduling problem whose data are, per user, its upload
share ``a_k/B``, its model, deadline and weight, and, per model, its inference time and the
loading times between models.

Times are expressed in **milliseconds** in the models. In seconds, loads and deadlines of typical
instances are 1e-4 … 1 and the solver's absolute feasibility tolerance (1e-9) would be a large
relative error on the shortest deadlines; in milliseconds the same tolerance is 1e-12 s. The
solver backend re-evaluates the returned order in seconds anyway (see
:mod:`partialloading.solvers.milp`) and never trusts the MILP's own times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from partialloading.instance import FloatArray, Instance, IntArray
from partialloading.memory import memory_of
from partialloading.timing import finish_alone
from partialloading.tolerance import RELATIVE_TOLERANCE

TIME_UNIT_S = 1e-3
"""Seconds per model time unit: the MILPs measure time in milliseconds."""


@dataclass(frozen=True)
class ScheduleData:
    """The instance as the formulations see it (times in milliseconds).

    Only *candidate* users appear — those who meet their deadline when served alone — and only
    the models they request: a user who is late even alone can never be admitted, and a model
    nobody requests is never worth loading (dropping it from an order shortens every later
    finish, by the triangle inequality of the loading times).

    Attributes
    ----------
    users
        Indices (in the instance) of the candidate users; the models index them ``0..n-1``.
    models
        Indices (in the instance) of the models the candidates request.
    user_model
        Position in :attr:`models` of each candidate's model.
    upload
        ``a_k/B`` of each candidate (ms).
    infer
        Inference time ``c_k`` of each candidate's request (ms): its own, else its model's.
    load
        ``ℓ(i, i')`` between the models of :attr:`models` (ms), ``[from, to]``.
    first_load
        Loading time of each model when it is served first, from the initial GPU state (ms).
    deadline
        Deadline of each candidate (ms) as the evaluator applies it, ``T_k·(1 + 1e-9)``, reduced
        by ``margin``.
    weight
        Weight of each candidate.
    margin
        Safety margin (ms) subtracted from every deadline (0 unless the backend asks for it).
    common_deadline
        Whether every user of the instance has the same deadline.
    user_names, model_names
        Ids of the candidate users and of their models (the set elements of the Pyomo models).
    """

    users: IntArray
    models: IntArray
    user_model: IntArray
    upload: FloatArray
    infer: FloatArray
    load: FloatArray
    first_load: FloatArray
    deadline: FloatArray
    weight: FloatArray
    margin: float
    common_deadline: bool
    user_names: tuple[str, ...]
    model_names: tuple[str, ...]

    @property
    def n_users(self) -> int:
        """Number of candidate users."""
        return int(self.users.size)

    @property
    def n_models(self) -> int:
        """Number of models requested by candidates."""
        return int(self.models.size)

    @property
    def horizon(self) -> float:
        """Latest deadline (ms): no admitted user finishes later, the natural big-M."""
        return float(self.deadline.max()) if self.deadline.size else 0.0

    def users_of(self, model: int) -> list[int]:
        """Candidates (positions ``0..n-1``) requesting ``model``, earliest deadline first."""
        mine = [k for k in range(self.n_users) if self.user_model[k] == model]
        return sorted(mine, key=lambda k: (self.deadline[k], k))


def schedule_data(instance: Instance, margin: float = 0.0) -> ScheduleData:
    """Reduce ``instance`` to the data of the formulations.

    Parameters
    ----------
    instance
        The instance.
    margin
        Subtract this many milliseconds from every deadline (used by the backend only when a
        solution found with exact deadlines turns out late by floating-point noise).
    """
    scale = 1.0 / TIME_UNIT_S
    upload = instance.upload_times * scale
    infer = instance.user_infer_times * scale
    first = memory_of(instance).first * scale
    # The evaluator accepts finish ≤ T·(1 + RELATIVE_TOLERANCE); the MILP uses the same rule, so
    # both agree on what is feasible.
    deadline = instance.deadlines * (1.0 + RELATIVE_TOLERANCE) * scale
    model_of = instance.user_models
    # Same rule as the evaluator's `servable_alone`, but against deadlines lowered by `margin`.
    alone = finish_alone(instance) * scale
    candidates = np.flatnonzero(alone <= deadline - margin)
    models = np.unique(model_of[candidates])
    position = {int(m): p for p, m in enumerate(models)}
    load = memory_of(instance).matrix[np.ix_(models, models)] * scale
    return ScheduleData(
        users=candidates.astype(np.int64),
        models=models.astype(np.int64),
        user_model=np.array([position[int(model_of[k])] for k in candidates], dtype=np.int64),
        upload=upload[candidates],
        infer=infer[candidates],
        load=load,
        first_load=first[models],
        deadline=deadline[candidates] - margin,
        weight=instance.weights[candidates],
        margin=margin,
        common_deadline=bool(np.unique(instance.deadlines).size <= 1),
        user_names=tuple(instance.users[int(k)].id for k in candidates),
        model_names=tuple(instance.models[int(i)].id for i in models),
    )


def empty_model(name: str) -> pyo.ConcreteModel:
    """The model when no user can be served: no decision at all, objective 0 — still a valid,
    writable model (``partialloading formulation`` writes it like any other)."""
    m = pyo.ConcreteModel(name=name)
    m.K = pyo.Set(initialize=[], doc="candidate users (none can meet its deadline alone)")
    m.admit = pyo.Var(m.K, domain=pyo.Binary, doc="user k is served")
    m.served_weight = pyo.Objective(expr=sum(m.admit[k] for k in m.K), sense=pyo.maximize)
    return m
