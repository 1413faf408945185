"""The backend of the sharing-aware greedy heuristic with local search for the general problem (``method="greedy"``).

Arbitrary block sharing, per-user deadlines, weights and an initial model. The method has
three phases (``docs/greedy.md`` states the rules and their complexity):

1. **Candidate sequences.** Priority sequences of all users: earliest deadline first (EDF);
   a nearest-neighbour tour of the model groups over the loading times ``ℓ`` (the next model
   is the one cheapest to load among the ``w`` groups with the earliest deadlines; ``w = 1`` is
   EDF over groups); the tour inside deadline buckets (so a model may be visited once per
   bucket); cheapest users first; and tiers of cheap users, each in deadline order.
2. **Admission.** Each sequence is admitted by one of two rules. *Append with drops*
   (Moore–Hodgson-like): users are appended in sequence order when everyone stays on time (an
   O(1) test: admitting ``k`` delays every admitted user by ``a_k/B``, so the running minimum
   slack must be at least ``a_k/B``); when ``k`` does not fit it is appended anyway and the
   admitted user with the largest time saved per weight is dropped until everyone is on time —
   the new set is kept when it is heavier, or as heavy and shorter. Without loading costs, with
   unit weights and negligible uploads this is the Moore–Hodgson rule on the EDF sequence,
   hence exact. *Best insertion*: each user
   is inserted at the feasible position that lengthens the schedule least (all positions are
   checked in one O(n) numpy pass). The baselines' own schedules are starts too: ``edf``, and
   when models share blocks the result of this very method on the instance without sharing
   (:meth:`~partialloading.instance.Instance.unshared`, whole-model loads) — an order feasible
   without sharing stays feasible with it, since ``ℓ ≤ ℓ_ns``. So the result is never worse
   than ``edf``, nor than greedy (hence ``edf``) without sharing.
3. **Improvement** (:mod:`partialloading.solvers.local_search`), from the best start, plus
   seeded randomized restarts on small instances. It never returns worse than its start.

Shortcuts end the work early, each with a proof of optimality (status ``optimal``). When
the EDF schedule (or the given start) already serves every user who can meet the deadline alone,
nothing better exists and it is returned at once. On frame instances of at most
:data:`BNB_USERS` users the branch-and-bound over model visits
(:mod:`partialloading.solvers.bnb`) runs from the best start within :data:`BNB_NODES`
nodes; when it finishes its schedule is optimal, otherwise it is one more start. On instances
of at most :data:`EXACT_SET_USERS` users the admitted sets heavier than the best start are tried heaviest
first with the exact order search
(:func:`~partialloading.solvers.order_search.find_order`), so the first feasible one is the
heaviest there is; the phases above run only if that search exceeds :data:`EXACT_SET_NODES`.
Above that size the bound includes the blocks-per-level relaxation
(:func:`partialloading.relaxations.level_bound`): every phase stops once its schedule reaches the
bound (then ``optimal``), and up to :data:`PROVE_FIRST_USERS` users the constructed schedule is
compared with it before any local search.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from partialloading.errors import SolverError
from partialloading.instance import Instance, IntArray
from partialloading.memory import BOUNDED, DEFAULT_MEMORY, PAIRWISE, memory_of
from partialloading.methods import METHODS, SolveRequest, SolverOutput
from partialloading.params import GreedyParams
from partialloading.relaxations import best_cheap_bound, level_bound, side_deadline
from partialloading.result import Status
from partialloading.stop import Deadline
from partialloading.timing import schedule
from partialloading.tolerance import reaches

from .. import edf
from ..enumeration import MAX_EVICTABLE, evictable
from ..local_search import better
from .admission import EDF_DROP_EFFORT, append_admit, construct
from .capacity import capacity_phase, one_model_evictions
from .exact import BNB_NODES, BNB_USERS, EXACT_SET_NODES, EXACT_SET_USERS, exact_set_search
from .orderings import edf_sequence, tour_sequence
from .restarts import default_effort, restarts_for, run


def alone_weight(instance: Instance) -> float:
    """Upper bound on the objective: the smaller of the served-alone weight and the time-per-level
    knapsack bound (:mod:`partialloading.relaxations`)."""
    return best_cheap_bound(instance)


PROVE_FIRST_USERS = 20
"""Up to this many users greedy constructs first and stops there when the constructed schedule
reaches the blocks-per-level bound (see :func:`solve`)."""


def solve(instance: Instance, params: GreedyParams, request: SolveRequest) -> SolverOutput:
    """Greedy construction and local search (see :class:`~partialloading.params.GreedyParams`).

    The initial schedule, if given, is one more start (and the result is never worse than it).
    Under a memory with a capacity see :func:`solve_bounded`; with batch tables,
    :func:`~partialloading.solvers.greedy.batching.solve_batched`.
    """
    if instance.batching:
        # Batches of one first (the whole method, on the instance without tables), then batches.
        from .batching import solve_batched

        alone = request if request.initial_batch is None else dataclasses.replace(request, initial=None)
        alone = dataclasses.replace(alone, deadline=request.deadline.share(0.5), initial_batch=None)
        return solve_batched(instance, params, request, lambda: solve(instance.unbatched(), params, alone))
    memory = memory_of(instance)
    if BOUNDED in memory.structure and PAIRWISE not in memory.structure:
        return solve_bounded(instance, params, request)
    return solve_any_memory(instance, params, request)


def solve_any_memory(instance: Instance, params: GreedyParams, request: SolveRequest) -> SolverOutput:
    """The method on any memory (see :func:`solve`)."""
    deadline, seed = request.deadline, request.seed
    improve, effort, restarts = params.improve, params.effort, params.restarts
    n = instance.num_users
    effort = default_effort(n) if effort is None else float(effort)
    restarts = restarts_for(n) if restarts is None else int(restarts)
    kwargs: dict[str, Any] = {"improve_": improve, "effort": effort, "restarts": restarts, "seed": seed}
    info: dict[str, Any] = {}
    also: list[tuple[str, IntArray]] = []
    if request.initial is not None:
        also.append(("initial", np.asarray(request.initial, dtype=np.int64)))
    bound = alone_weight(instance)
    if improve:
        shortcut = _shortcut(instance, also, bound, deadline)
        if isinstance(shortcut, SolverOutput):
            return shortcut
        also.extend(shortcut)
    if improve and n > EXACT_SET_USERS:
        target = None
        if n <= PROVE_FIRST_USERS:
            # Small instances: when the constructed schedule reaches the relaxation's bound it is
            # optimal (the LP relaxation, solved first, often suffices), and the search stops at
            # once; otherwise it is one more start.
            built = construct(schedule(instance), [_edf_start(instance), *also], lambda: False)[0]
            target = float(instance.weights[built].sum()) if built.size else 0.0
            also.append(("construct", built))
        relaxation = level_bound(instance, time_limit=side_deadline(deadline).remaining(), target=target)
        info["level_bound"] = {"value": relaxation.value, "proven": relaxation.proven, "runtime_s": relaxation.runtime}
        bound = min(bound, relaxation.value)
        if target is not None and reaches(target, bound):
            info.update(
                {"start": "construct", "start_objective": target, "result_from": "construct (reaches the bound)"}
            )
            return SolverOutput(order=[int(k) for k in also[-1][1]], status=Status.OPTIMAL, bound=bound, info=info)
    if instance.timing != "frame":
        # A frame-feasible order is feasible under every other timing model (each upload ends by
        # the frame schedule's start), so greedy is never worse than its own frame schedule.
        frame_request = dataclasses.replace(request, initial=None, deadline=deadline.share(1 / 3))
        framed = solve(dataclasses.replace(instance, timing="frame"), params, frame_request)
        # With the memory's default evictions, which depend on the order alone, it carries over.
        if framed.evicted is None:
            also.append(("greedy-frame", np.asarray(framed.order, dtype=np.int64)))
        info["frame"] = {"objective": float(instance.weights[list(framed.order)].sum())}
    if instance.shares_blocks:
        # A schedule without sharing stays feasible with it (ℓ ≤ ℓ_ns). The no-sharing run is
        # exactly `greedy` on the unshared instance (same budgets and seed), so greedy is never
        # worse than greedy — nor edf — without sharing. It gets a third of any time limit.
        unshared = instance.unshared()
        third = deadline.share(1 / 3)
        ns_order, ns_info = _greedy(unshared, [], bound=alone_weight(unshared), deadline=third, **kwargs)
        # Under a memory whose default evictions are not optimal the carry-over is checked.
        if memory_of(instance).structure & {PAIRWISE} or schedule(instance).feasible(ns_order):
            also.append(("greedy-no-sharing", ns_order))
        info["no_sharing"] = {"objective": float(instance.weights[ns_order].sum()), "start": ns_info["start"]}
    # The small-instance path above already tried every constructive sequence ("construct").
    rebuild = not any(name == "construct" for name, _ in also)
    order, run_info = _greedy(instance, also, bound=bound, deadline=deadline, sequences_too=rebuild, **kwargs)
    info.update(run_info)
    status = Status.OPTIMAL if _reaches(instance, order, bound) else Status.FEASIBLE
    return SolverOutput(order=[int(k) for k in order], status=status, bound=bound, info=info)


def _edf_start(instance: Instance) -> tuple[str, IntArray]:
    return "edf", np.asarray(edf.edf_schedule(instance), dtype=np.int64)


def _reaches(instance: Instance, order: IntArray, bound: float) -> bool:
    weight = float(instance.weights[order].sum()) if order.size else 0.0
    return reaches(weight, bound)


def _shortcut(
    instance: Instance,
    also: list[tuple[str, IntArray]],
    bound: float,
    deadline: Deadline,
) -> SolverOutput | list[tuple[str, IntArray]]:
    """The answer when it is found cheaply and provably as good as the full search's, else the
    extra starts the attempt produced (for the full search).

    Either the EDF schedule (or the given start) serves every user who can be served alone — no
    schedule serves more — or, on a frame instance of at most :data:`BNB_USERS` users, the
    branch-and-bound proves its optimum within :data:`BNB_NODES` nodes, or the instance is small
    enough for the exact set search.
    """
    p = schedule(instance)
    starts = [_edf_start(instance), *also]
    for name, order in starts:
        if not p.feasible(order):
            raise SolverError(f"greedy: start {name} is infeasible")
    name, best = starts[0]
    for other, order in starts[1:]:
        if better(p, order, best):
            name, best = other, order
    info: dict[str, Any] = {"start": name, "start_objective": p.score(best)[0]}
    if reaches(p.score(best)[0], bound):
        info["result_from"] = f"{name} (reaches the bound)"
        return SolverOutput([int(k) for k in best], Status.OPTIMAL, bound=bound, info=info)
    out_of_time = deadline.expired
    extra: list[tuple[str, IntArray]] = []
    # (Not with per-request times: greedy's answers there stay those of its own parts, which the
    # trace replays of the online pages report; the search itself takes such times.)
    if instance.num_users <= BNB_USERS and not instance.per_user_times and METHODS["bnb"].why_not(instance) is None:
        # EDF and the tour with the drop rule (one O(K) pass each) are better incumbents than
        # EDF: the better the incumbent, the fewer nodes the proof takes.
        for seq in (edf_sequence(p), tour_sequence(p)):
            dropped = append_admit(p, seq, drop_effort=EDF_DROP_EFFORT)
            if better(p, dropped, best):
                best = dropped
        # The branch-and-bound is loaded only by the small frame instances that run it.
        from ..bnb.backend import search

        searched = search(instance, [int(k) for k in best], lambda nodes: nodes > BNB_NODES or out_of_time(), bound)
        info["bnb_nodes"] = searched.nodes
        if searched.proven:
            info["result_from"] = "branch-and-bound"
            return SolverOutput(searched.order, Status.OPTIMAL, bound=searched.weight, info=info)
        extra.append(("branch-and-bound", np.asarray(searched.order, dtype=np.int64)))
    if instance.num_users > EXACT_SET_USERS:
        return extra

    # The exact search uses the verifier's full tolerance, as `enumerate` does, so that the set
    # it proves heaviest is the optimum the exact methods report.
    exact = schedule(instance, tolerance_share=1.0)
    found, nodes, evicted = exact_set_search(exact, best, EXACT_SET_NODES, out_of_time)
    if found is None:
        return extra
    info.update({"result_from": "exact set search", "nodes": nodes})
    heaviest = float(instance.weights[found].sum()) if found.size else 0.0
    return SolverOutput([int(k) for k in found], Status.OPTIMAL, bound=heaviest, info=info, evicted=evicted)


def _greedy(
    instance: Instance,
    also: list[tuple[str, IntArray]],
    *,
    bound: float,
    improve_: bool,
    effort: float,
    restarts: int,
    seed: int,
    deadline: Deadline,
    sequences_too: bool = True,
) -> tuple[IntArray, dict[str, Any]]:
    """One run; ``also``: feasible orders used as starts (and returned when
    the search ends below them); ``sequences_too=False`` when one of them is already the best
    constructed schedule."""
    p = schedule(instance)
    best, info = run(
        p,
        [_edf_start(instance), *also],
        bound=bound,
        improve_=improve_,
        effort=effort,
        restarts=restarts,
        rng=np.random.default_rng(seed),
        deadline=deadline,
        sequences_too=sequences_too,
    )
    info["result_from"] = "search" if improve_ else info["start"]
    for name, order in also:
        if not p.feasible(order):
            raise SolverError(f"greedy: start {name} is infeasible")
        if better(p, order, best):
            best = order
            info["result_from"] = name
    return best, info


CAPACITY_EXACT_USERS = 12
"""Under a memory with a capacity, instances up to this many users also run the whole method on
the memory itself (every test an exact evaluation of the order), beside the fast one-model run."""


CAPACITY_DIRECT_USERS = 4
"""Under a memory with a capacity, instances up to this many users skip the one-model run: the
exact set search on the memory itself is cheaper there."""


def solve_bounded(instance: Instance, params: GreedyParams, request: SolveRequest) -> SolverOutput:
    """Greedy under a memory whose loads the one-model memory bounds (a capacity).

    0. Shortcuts: when every user fits in deadline order, that is optimal; up to
       :data:`CAPACITY_DIRECT_USERS` users the whole method runs on the memory itself.
    1. The whole method runs on the instance with the one-model memory
       (:data:`~partialloading.memory.DEFAULT_MEMORY`, the same initial state): it is fast, and
       its schedule is on time here too, since no request
       loads more than after the one-model memory.
    2. Its order is evaluated with this memory's default evictions; should they make someone
       late (the rule is not optimal), the one-model evictions are reported instead.
    3. The capacity phase inserts rejected users (heaviest first) where the memory now has room,
       each at a few gaps around its deadline position, every test a whole-order evaluation
       (:data:`CAPACITY_TRIALS` at most).
    4. Up to :data:`CAPACITY_EXACT_USERS` users the whole method also runs on the memory itself
       (its exact set search chooses evictions); the better schedule wins.
    """
    p = schedule(instance)
    everyone = np.asarray(edf.edf_order(instance), dtype=np.int64)
    if p.feasible(everyone):  # the cheapest proof there is (rounds of a lightly loaded server)
        total = float(instance.weights.sum())
        return SolverOutput(everyone.tolist(), Status.OPTIMAL, bound=total, info={"result_from": "everyone (edf)"})
    if instance.num_users <= CAPACITY_DIRECT_USERS and evictable(instance) <= MAX_EVICTABLE:
        # So few users that the exact set search on the memory itself is the cheaper way.
        return solve_any_memory(instance, params, request)
    surrogate = solve(dataclasses.replace(instance, memory=DEFAULT_MEMORY), params, request)
    order = np.asarray(surrogate.order, dtype=np.int64)
    evicted: list[tuple[int, ...]] | None = None
    if not p.feasible(order):
        evicted = one_model_evictions(instance, order)
    elif params.improve:
        order = capacity_phase(p, order)
    bound = alone_weight(instance)
    info: dict[str, Any] = {
        "one_model": {
            "objective": float(instance.weights[list(surrogate.order)].sum()),
            "status": str(surrogate.status),
        },
        "result_from": "one-model run" if evicted is not None else "one-model run + capacity phase",
    }
    best = SolverOutput([int(k) for k in order], Status.FEASIBLE, bound=bound, info=info, evicted=evicted)
    served = float(instance.weights[order].sum()) if order.size else 0.0
    if reaches(served, bound):  # everyone who can be served alone is: nothing can do better
        return dataclasses.replace(best, status=Status.OPTIMAL)
    if params.improve and instance.num_users <= CAPACITY_EXACT_USERS and evictable(instance) <= MAX_EVICTABLE:
        # Its own status is already optimal when it reaches a bound (never above `bound`).
        generic = solve_any_memory(instance, params, request)
        theirs = float(instance.weights[list(generic.order)].sum()) if len(generic.order) else 0.0
        if theirs > served or (generic.status == Status.OPTIMAL and theirs >= served):
            best = generic
    return best
