"""Exact branch-and-bound over model visits (``method="bnb"``, frame timing): the backend.

The search is in :mod:`partialloading.solvers.bnb.search`: users of one model in deadline order,
one pointer per model, labels ``(weight, t, σ)`` with dominance, and knapsack bounds per deadline
level. This module is the backend: the users servable alone, the incumbent (the warm start's schedule,
else EDF's), the time and node limits, and the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from partialloading.backend import SolveRequest, SolverOutput
from partialloading.instance import Instance
from partialloading.params import BnbParams
from partialloading.result import Status
from partialloading.timing import FrameSchedule, servable_alone

from .. import edf
from .bounds import SetupTree
from .search import BranchAndBound, VisitSearch


def search(
    instance: Instance,
    incumbent: Sequence[int],
    stop: Callable[[int], bool],
    ceiling: float = math.inf,
) -> VisitSearch:
    """The branch-and-bound on ``instance`` from the feasible order ``incumbent`` (see
    :class:`~partialloading.solvers.bnb.search.BranchAndBound`), with the verifier's full
    tolerance, as ``enumerate``: the optimum proven is the one every exact method reports."""
    arithmetic = FrameSchedule.build(instance, tolerance_share=1.0)
    alone = servable_alone(instance).tolist()
    tree = SetupTree.of(instance)
    return BranchAndBound(arithmetic, tree, alone, incumbent, ceiling, instance.weight_unit).run(stop)


def solve(instance: Instance, params: BnbParams, request: SolveRequest) -> SolverOutput:
    """Branch and bound from the best known schedule (the seed is not used).

    The incumbent is ``request.initial`` when given and non-empty, else the EDF schedule. At the
    time limit (or ``params.max_nodes``) the incumbent found so far is returned as ``feasible``
    with the largest bound of the subtrees left open.
    """
    start = list(request.initial) if request.initial else edf.edf_schedule(instance)

    def stop(nodes: int) -> bool:
        if params.max_nodes is not None and nodes > params.max_nodes:
            return True
        return request.deadline.expired()

    found = search(instance, start, stop, math.inf if request.bound is None else request.bound)
    info = {"nodes": found.nodes, "incumbent_weight": float(instance.weights[start].sum()) if start else 0.0}
    if found.proven:
        return SolverOutput(found.order, Status.OPTIMAL, bound=found.weight, info=info)
    status = Status.FEASIBLE if found.order else Status.TIME_LIMIT
    return SolverOutput(found.order, status, bound=found.bound, info=info)
