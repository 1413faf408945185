"""The solve pipeline, and how methods combine: the warm start, bound merging, status upgrade, and ``auto``.

:func:`partialloading.solve` checks its arguments and hands over to :func:`solve_until`, the
one pipeline every solve runs (the nested ones too: the warm start and ``auto``'s follow-up call
it again, in this module, under the same deadline). It checks that the method supports the
instance (timing model, memory model and case, as declared in :mod:`partialloading.methods`),
builds the typed parameters, runs the backend, rebuilds the :class:`Solution` from the returned
order (so the objective is always recomputed from the instance under its timing and memory
models), refuses infeasible output and wraps everything in a :class:`Result`. What one method's
answer does to another's:

- **Warm start** (:func:`warm_start`): the exact methods that search start from greedy's
  schedule, computed within :data:`WARM_START_SHARE` of the time left, with its upper bound.
- **Settling** (:func:`settle`): the bound is the smaller of the method's and the warm start's,
  rounded down to the weight unit; a method that stops below its start returns the start; a
  schedule that reaches the bound is ``optimal`` whichever method found it.
- **auto** (:func:`choose_method`, :func:`auto_followup`): the exact DP where it applies,
  enumeration on tiny instances, otherwise greedy, followed on small instances that greedy did
  not prove by a short CP-SAT run from greedy's schedule.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import InstanceError, MethodNotApplicableError, ParameterError, SolverError
from .instance import Instance
from .memory import memory_class
from .methods import METHOD_NAMES, METHODS, SolveRequest, SolverOutput
from .params import MethodParams, make_params
from .relaxations import level_bound, side_deadline
from .result import Result, Status
from .solution import Solution
from .stop import Deadline
from .timing import timing_of
from .tolerance import exceeds, reaches

ENUMERATE_AUTO_MAX_USERS = 8
"""``auto`` uses exhaustive search up to this many users when the DP does not apply."""

AUTO_EXACT_MAX_USERS = 60
"""``auto`` follows greedy with CP-SAT (for :data:`AUTO_EXACT_BUDGET_S`) up to this many users."""

AUTO_EXACT_BUDGET_S = 2.0
"""Seconds ``auto`` gives CP-SAT after greedy on small instances that greedy did not prove."""

WARM_START_SHARE = 0.25
"""Largest share of the time left that the warm start (greedy) may use before an exact method."""


MAX_WEIGHT_RANGE = 1e13
"""Largest total weight over the smallest positive weight the methods compare reliably: beyond
it a double-precision sum of the weights cannot tell a schedule with one more light user from
one without (``1.5`` beside ``7e17``)."""


def _check_weight_range(instance: Instance) -> None:
    weights = instance.weights
    positive = weights[weights > 0]
    if positive.size and float(positive.sum()) > MAX_WEIGHT_RANGE * float(positive.min()):
        raise InstanceError(
            "users",
            f"weights range from {float(positive.min()):g} to {float(positive.max()):g}: their total is more than "
            f"{MAX_WEIGHT_RANGE:g} times the smallest, beyond what a floating-point sum resolves (rescale them)",
            None,
        )


def initial_indices(
    instance: Instance, initial: Sequence[str], place: Callable[[int], str] = "initial[{}]".format
) -> tuple[int, ...]:
    """The user indices of the start ``initial`` (user ids in service order), each id known and
    given once; a mistake is named by ``place(position)`` (the command line names its file's
    ``schedule[q].user``)."""
    order: list[int] = []
    seen: set[str] = set()
    for pos, uid in enumerate(initial):
        if uid not in instance.user_index:
            raise ParameterError(f"{place(pos)}: unknown user {uid!r}")
        if uid in seen:
            raise ParameterError(f"{place(pos)}: a user appears twice ({uid!r})")
        seen.add(uid)
        order.append(instance.user_index[uid])
    return tuple(order)


def _initial_order(
    instance: Instance, initial: Sequence[str], sharing: bool, batch: Sequence[int] | None = None
) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """The start's user indices and batch numbers, refused unless it is an on-time schedule."""
    if isinstance(initial, str) or not isinstance(initial, Sequence):
        raise ParameterError("initial: must be a list of user ids in service order")
    order = initial_indices(instance, initial)
    try:
        start = Solution(instance, tuple(order), sharing, batch=None if batch is None else tuple(batch))
        feasible = start.feasible
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"initial_batch: {exc}") from None
    if not feasible:
        late = [start.admitted[q] for q, ok in enumerate(start.timeline.on_time) if not ok]
        raise ParameterError(
            f"initial: the starting schedule is not feasible ({', '.join(late[:5])} miss their deadline)"
        )
    return tuple(order), start.batch


def solve_until(
    instance: Instance,
    method: str,
    deadline: Deadline,
    *,
    sharing: bool = True,
    seed: int = 0,
    params: MethodParams | Mapping[str, Any] | None = None,
    initial: Sequence[str] | None = None,
    initial_batch: Sequence[int] | None = None,
    **options: Any,
) -> Result:
    """:func:`solve` with the deadline already set (the portfolio's nested solves share it)."""
    if not isinstance(instance, Instance):
        raise ParameterError(f"instance: expected an Instance (got {type(instance).__name__})")
    # The names the instance only stores, resolved (and refused) before anything else.
    timing_of(instance)
    memory_class(instance)
    _check_weight_range(instance)
    # Without sharing every model owns private copies of its blocks: the methods see that
    # instance; the solution keeps the caller's instance and says it was built without sharing.
    work = instance if sharing else instance.unshared()
    name = choose_method(work) if method == "auto" else method
    if name not in METHODS:
        raise MethodNotApplicableError(f"unknown method {method!r} (choose from {', '.join(METHOD_NAMES)})")
    entry = METHODS[name]
    typed = make_params(entry.params, params, **options)
    entry.check(work, typed)
    if initial is None and initial_batch is not None:
        raise ParameterError("initial_batch: given without initial")
    start, start_batch = (None, None) if initial is None else _initial_order(instance, initial, sharing, initial_batch)
    # A method that runs at once has its code loaded before its clock starts (a first solve in
    # a process would otherwise report the import); one that starts from greedy's schedule is
    # loaded only if that start is not proven optimal (its import can take a second).
    backend = None if entry.warm_start else entry.load()
    started = time.perf_counter()
    warm: Result | None = None
    if start is None and entry.warm_start:
        warm = warm_start(work, deadline, seed)
        start = tuple(instance.user_index[uid] for uid in warm.solution.admitted)
    request = SolveRequest(
        deadline=deadline,
        seed=seed,
        initial=start,
        bound=None if warm is None else warm.bound,
        initial_evicted=None if warm is None else warm.solution.evicted,
        initial_batch=start_batch if warm is None else warm.solution.batch,
    )
    if warm is not None and start is not None and warm.status == Status.OPTIMAL:
        # The start reaches the bound: nothing can beat it, so the method is not run at all.
        out = SolverOutput(
            list(start),
            Status.OPTIMAL,
            warm.bound,
            {"proven_by": "warm start"},
            request.initial_evicted,
            request.initial_batch,
        )
    else:
        out = (backend or entry.load())(work, typed, request)
    runtime = time.perf_counter() - started
    solution = _checked(instance, name, out, sharing)
    solution, status, bound, info = settle(
        name, out, solution, start, warm, request.initial_evicted, request.initial_batch
    )
    result = Result(method=name, status=status, solution=solution, bound=bound, runtime=runtime, info=info)
    if method == "auto":
        info["chosen_by"] = "auto"
        result = auto_followup(instance, result, sharing, deadline, seed)
    return result


def _checked(instance: Instance, name: str, out: SolverOutput, sharing: bool) -> Solution:
    """The solution of a backend's output, refused unless it is a valid, on-time schedule."""
    evicted = None if out.evicted is None else tuple(None if e is None else tuple(e) for e in out.evicted)
    batch = None if out.batch is None else tuple(out.batch)
    try:
        solution = Solution(instance, tuple(out.order), sharing, evicted, batch)
        feasible = solution.feasible
    except (IndexError, ValueError) as exc:
        raise SolverError(f"method {name!r} returned an invalid order: {exc}") from None
    if not feasible:
        late = [solution.admitted[q] for q, ok in enumerate(solution.timeline.on_time) if not ok]
        raise SolverError(f"method {name!r} returned a schedule in which {', '.join(late[:5])} miss their deadline")
    return solution


def choose_method(instance: Instance) -> str:
    """The method ``auto`` uses: the exact DP where it applies, enumeration on tiny instances,
    otherwise the greedy heuristic (each only when it supports the instance's timing and memory).

    After greedy, on instances of up to :data:`AUTO_EXACT_MAX_USERS` users that greedy did not
    prove optimal, :func:`auto_followup` gives CP-SAT :data:`AUTO_EXACT_BUDGET_S` seconds from
    greedy's schedule (where CP-SAT applies): the result is CP-SAT's, optimal when it proves it.
    (``instance`` is the one the methods see: :meth:`Instance.unshared` without sharing.)
    """
    if METHODS["dp"].why_not(instance) is None:
        return "dp"
    if instance.num_users <= ENUMERATE_AUTO_MAX_USERS and METHODS["enumerate"].why_not(instance) is None:
        return "enumerate"
    return "greedy"


def warm_start(instance: Instance, deadline: Deadline, seed: int) -> Result:
    """Greedy's schedule and bound, the start of an exact method (within :data:`WARM_START_SHARE`
    of the time left)."""
    warm = solve_until(instance, "greedy", deadline.share(WARM_START_SHARE), seed=seed)
    if warm.status == Status.OPTIMAL or "level_bound" in warm.info:
        return warm
    # Up to ten users greedy's bound is the cheap one (its exact set search usually proves
    # instead); an exact method gets the relaxation's bound all the same.
    relaxation = level_bound(instance, time_limit=side_deadline(deadline).remaining())
    bound = relaxation.value if warm.bound is None else min(warm.bound, relaxation.value)
    info = {**warm.info, "level_bound": {"value": relaxation.value, "proven": relaxation.proven}}
    status = Status.OPTIMAL if reaches(warm.objective, bound) else warm.status
    return dataclasses.replace(warm, bound=bound, status=status, info=info)


def settle(
    name: str,
    out: SolverOutput,
    solution: Solution,
    start: tuple[int, ...] | None,
    warm: Result | None,
    start_evicted: tuple[tuple[int, ...] | None, ...] | None = None,
    start_batch: tuple[int, ...] | None = None,
) -> tuple[Solution, Status, float | None, dict[str, Any]]:
    """The reported solution, status, bound and info of method ``name``'s output ``out``
    (``solution``: its schedule), given the start it had (``warm``: greedy's, when it was;
    ``start_evicted`` and ``start_batch``: the start's evictions and batches)."""
    instance = solution.instance
    info = dict(out.info)
    status = out.status
    bound = out.bound
    if warm is not None and warm.bound is not None:
        # Greedy's bound (the relaxations of :mod:`partialloading.relaxations`) is valid here too.
        bound = warm.bound if bound is None else min(bound, warm.bound)
    if bound is not None:
        # Every served weight is a multiple of the weight unit, so is the best one.
        bound = instance.round_bound(bound)
    if warm is not None:
        info["warm_start"] = {
            "method": warm.method,
            "objective": warm.objective,
            "bound": warm.bound,
            "runtime_s": warm.runtime,
        }
    if start is not None:
        info["incumbent_from"] = "method"
        given = Solution(instance, start, solution.sharing, start_evicted, start_batch)
        if exceeds(given.objective, solution.objective):
            # The method stopped below its start (a time limit): the start is the better answer.
            if status == Status.OPTIMAL:
                raise SolverError(f"method {name!r} claims optimality below the starting schedule's value")
            solution, info["incumbent_from"] = given, "initial" if warm is None else "greedy"
            status = Status.FEASIBLE
        elif warm is not None and [int(k) for k in out.order] == list(start):
            info["incumbent_from"] = "greedy"
    if bound is not None and status != Status.OPTIMAL and reaches(solution.objective, bound):
        status = Status.OPTIMAL
    return solution, status, bound, info


def auto_followup(instance: Instance, found: Result, sharing: bool, deadline: Deadline, seed: int) -> Result:
    """``auto`` on a small instance that greedy did not prove: CP-SAT for a short budget, from greedy's schedule.

    CP-SAT often proves such instances optimal in well under a second; it starts from greedy's
    schedule, so the answer is never worse, and the result says which method produced it.
    """
    if (
        found.status == Status.OPTIMAL
        or found.method != "greedy"
        or instance.num_users > AUTO_EXACT_MAX_USERS
        or METHODS["cpsat"].why_not(instance if sharing else instance.unshared()) is not None
    ):
        return found
    budget = deadline.capped(AUTO_EXACT_BUDGET_S)
    left = budget.remaining()
    if left is not None and left <= 0.05:
        return found
    exact = solve_until(instance, "cpsat", budget, sharing=sharing, seed=seed, initial=found.solution.admitted)
    if exact.objective + 1e-9 < found.objective:  # pragma: no cover - the start makes this impossible
        return found
    info = {**exact.info, "chosen_by": "auto", "auto_steps": ["greedy", "cpsat"], "greedy_objective": found.objective}
    bound = exact.bound if found.bound is None or exact.bound is None else min(exact.bound, found.bound)
    status = Status.OPTIMAL if bound is not None and bound <= exact.objective + 1e-9 else exact.status
    if status == Status.TIME_LIMIT:
        status = Status.FEASIBLE
    return Result(
        method="cpsat" if exact.objective > found.objective or status == Status.OPTIMAL else "greedy",
        status=status,
        solution=exact.solution,
        bound=bound,
        runtime=found.runtime + exact.runtime,
        info=info,
    )


__all__ = [
    "AUTO_EXACT_BUDGET_S",
    "AUTO_EXACT_MAX_USERS",
    "ENUMERATE_AUTO_MAX_USERS",
    "MAX_WEIGHT_RANGE",
    "WARM_START_SHARE",
    "auto_followup",
    "choose_method",
    "initial_indices",
    "settle",
    "solve_until",
    "warm_start",
]
