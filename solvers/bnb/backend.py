"""Exact branch-and-bound over model visits (``method="bnb"``, frame timing): the backend.

The search is in :mod:`partialloading.solvers.bnb.search`: users of one model in deadline order,
one pointer per model, labels ``(weight, t, σ)`` with dominance, and knapsack bounds per deadline
level; with numba, the path relaxation (:mod:`.paths`) and the labels layer by layer
(:mod:`.labelling`). This module is the backend: the users servable alone, the incumbent (the warm start's schedule,
else EDF's), the time and node limits, and the result.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from partialloading.instance import Instance
from partialloading.methods import SolveRequest, SolverOutput
from partialloading.params import BnbParams
from partialloading.result import Status
from partialloading.stop import Deadline
from partialloading.timing import FrameSchedule, servable_alone

from .. import edf
from . import bounds, coarse
from .batches import BatchedSearch, batch_numbers
from .bounds import SetupTree
from .paths import groups_of
from .records import VisitSearch
from .search import WRAP_UP_S, BranchAndBound

RELAX_SHARE = 0.25
"""Share of the time left that the path relaxation's multipliers may take at most."""

COARSE_SHARE = 0.2
"""Share of the time that the coarse instance's search may take at most (:mod:`.coarse`)."""


def search(
    instance: Instance,
    incumbent: Sequence[int],
    stop: Callable[[int], bool],
    ceiling: float = math.inf,
    wrap_up_s: float = WRAP_UP_S,
    compiled: bool = False,
    relax_until: Deadline | None = None,
    dive: bool = True,
    incumbent_batch: Sequence[int] | None = None,
) -> VisitSearch:
    """The branch-and-bound on ``instance`` from the feasible order ``incumbent`` (see
    :class:`~partialloading.solvers.bnb.search.BranchAndBound`), with the verifier's full
    tolerance, as ``enumerate``: the optimum proven is the one every exact method reports.
    With ``relax_until`` the path relaxation is set up (until then at most) and the labels are
    searched compiled, with a dive beside the rounds unless ``dive`` is false (per-request times
    included: each user's own time is added to its step). On an instance with batch tables the
    search's steps are batches (:class:`~.batches.BatchedSearch`, depth first; ``incumbent_batch``:
    the incumbent's batch numbers)."""
    arithmetic = FrameSchedule.build(instance, tolerance_share=1.0)
    alone = servable_alone(instance).tolist()
    tree = SetupTree.of(instance)
    if instance.batching:
        steps = BatchedSearch(arithmetic, tree, alone, incumbent, incumbent_batch, ceiling, instance.weight_unit, True)
        return _batched(steps, stop, wrap_up_s, relax_until)
    groups = groups_of(instance)
    search = BranchAndBound(arithmetic, tree, alone, incumbent, ceiling, instance.weight_unit, compiled, groups)
    if relax_until is not None and search.relax_paths(relax_until) is not None:
        # Compiled, with the path relaxation: the labels layer by layer (memoized).
        # Only with numba (relax_paths needs it): the labels are compiled.
        from .labelling import Layered, descend

        try:
            if instance.weight_unit > 0:  # one target at a time, from the bound down
                return descend(search, stop, search.root_bound(), instance.weight_unit, dive)
            return Layered(search).run(stop, search.root_bound())
        except OverflowError:  # too many models for the state codes (raised before any search)
            pass
    return search.run(stop, wrap_up_s)


def _batched(
    search: BatchedSearch, stop: Callable[[int], bool], wrap_up_s: float, relax_until: Deadline | None
) -> VisitSearch:
    """The depth-first search over batches, with the path relaxation where it can be set up."""
    if relax_until is not None:
        search.relax_paths(relax_until)
    found = search.run(stop, wrap_up_s)
    order, batch = batch_numbers(found.order)
    return dataclasses.replace(found, order=order, batch=batch)


def solve(instance: Instance, params: BnbParams, request: SolveRequest) -> SolverOutput:
    """Branch and bound from the best known schedule (the seed is not used).

    The incumbent is ``request.initial`` (with its batches) when given and non-empty, else the
    EDF schedule. At the time limit (or ``params.max_nodes``) the incumbent found so far is
    returned as ``feasible`` with the largest bound of the subtrees left open.
    """
    start, start_batch = (list(request.initial), request.initial_batch) if request.initial else edf.edf_steps(instance)
    # The search stops early enough to bound the subtrees it leaves open before the deadline.
    left = request.deadline.remaining()
    wrap_up = WRAP_UP_S if left is None else min(WRAP_UP_S, 0.1 * left)
    search_until = request.deadline if left is None else Deadline.after(left - wrap_up)

    def stop(nodes: int) -> bool:
        if params.max_nodes is not None and nodes > params.max_nodes:
            return True
        return search_until.expired()

    started = time.perf_counter()
    # The method itself runs the compiled bound (loaded before its time limit started).
    ceiling = math.inf if request.bound is None else request.bound
    compiled = params.path_bound and bounds.compiled_available() and not instance.batching
    # A share of the time proves the optimum of the coarse instance (models on one backbone
    # merged), whose optimum bounds this one's: a ceiling for the search.
    coarse_bound = coarse.ceiling(instance, start, search_until.share(COARSE_SHARE), search) if compiled else math.inf
    ceiling = min(ceiling, coarse_bound)
    # A quarter of the time left at most tunes the path relaxation's multipliers.
    relax_until = search_until.share(RELAX_SHARE) if params.path_bound else None
    found = search(instance, start, stop, ceiling, wrap_up, True, relax_until, params.dive, incumbent_batch=start_batch)
    info: dict[str, Any] = {
        "nodes": found.nodes,
        "incumbent_weight": float(instance.weights[start].sum()) if start else 0.0,
        # What the search can show for its answer: how far it went, what it kept, the bound it
        # ended with (equal to the weight found when proven) and how long it took.
        "certificate": {
            "proven": found.proven,
            "search": found.search,
            "nodes": found.nodes,
            "labels": found.labels,
            "bound": found.bound,
            "coarse_bound": None if math.isinf(coarse_bound) else coarse_bound,
            "search_s": time.perf_counter() - started,
        },
    }
    if found.proven:
        return SolverOutput(found.order, Status.OPTIMAL, bound=found.weight, info=info, batch=found.batch)
    status = Status.FEASIBLE if found.order else Status.TIME_LIMIT
    return SolverOutput(found.order, status, bound=found.bound, info=info, batch=found.batch)


def why_not(instance: Instance) -> str | None:
    """Why ``bnb`` does not cover ``instance`` (``None`` when it does): batches whose members take
    their own times (the search over batches needs each model's users to take one time)."""
    if instance.batching and instance.per_user_times:
        return (
            "bnb serves batches only when every request of a model takes the model's time, and this instance "
            "gives users their own infer_time_s; use milp or enumerate"
        )
    return None


def warm_compiled() -> None:
    """Load (or, the first time, compile) the compiled bound now, outside any time limit; nothing
    without numba, and nothing once done in this process (every solve and the command line ask)."""
    global _WARM
    if _WARM or not bounds.compiled_available():
        return
    # numba is optional (the `fast` extra): the compiled modules are imported only with it.
    from . import kernels, labelling

    kernels.warm()
    labelling.warm()
    _WARM = True


_WARM = False
