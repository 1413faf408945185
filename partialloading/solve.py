"""One entry point for every method: :func:`solve` (dispatch only).

It resolves ``auto``, checks that the method supports the instance (timing model and case, as
declared in :mod:`partialloading.backend`), builds the typed parameters, runs the backend, times
it, rebuilds the :class:`Solution` from the returned order (so the objective is always
recomputed from the instance under its timing model), refuses infeasible output and wraps
everything in a :class:`Result`.
"""

from __future__ import annotations

import dataclasses
import numbers
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .backend import METHOD_NAMES, METHODS, SolveRequest
from .bounds import level_bound, side_budget
from .errors import InstanceError, MethodNotApplicableError, ParameterError, SolverError
from .instance import Instance
from .params import MethodParams, make_params
from .result import Result, Status
from .solution import Solution
from .tolerance import exceeds, reaches

ENUMERATE_AUTO_MAX_USERS = 8
"""``auto`` uses exhaustive search up to this many users when the DP does not apply."""

AUTO_EXACT_MAX_USERS = 60
"""``auto`` follows greedy with CP-SAT (for :data:`AUTO_EXACT_BUDGET_S`) up to this many users."""

AUTO_EXACT_BUDGET_S = 2.0
"""Seconds ``auto`` gives CP-SAT after greedy on small instances that greedy did not prove."""

WARM_START_SHARE = 0.25
"""Largest share of the time limit the warm start (greedy) may use before an exact method."""


def choose_method(instance: Instance) -> str:
    """The method ``auto`` uses: the exact DP where it applies, enumeration on tiny instances,
    otherwise the greedy heuristic (each only when it supports the instance's timing model).

    After greedy, on instances of up to :data:`AUTO_EXACT_MAX_USERS` users that greedy did not
    prove optimal, :func:`solve` also gives CP-SAT :data:`AUTO_EXACT_BUDGET_S` seconds from
    greedy's schedule (frame timing): the result is CP-SAT's, optimal when it proves it.
    (``instance`` is the one the methods see: :meth:`Instance.unshared` without sharing.)"""
    if METHODS["dp"].why_not(instance) is None:
        return "dp"
    if instance.num_users <= ENUMERATE_AUTO_MAX_USERS and METHODS["enumerate"].why_not(instance) is None:
        return "enumerate"
    return "greedy"


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


def _initial_order(instance: Instance, initial: Sequence[str], sharing: bool) -> tuple[int, ...]:
    if isinstance(initial, str) or not isinstance(initial, Sequence):
        raise ParameterError("initial: must be a list of user ids in service order")
    order = []
    for pos, uid in enumerate(initial):
        if uid not in instance.user_index:
            raise ParameterError(f"initial[{pos}]: unknown user {uid!r}")
        order.append(instance.user_index[uid])
    if len(set(order)) != len(order):
        raise ParameterError("initial: a user appears twice")
    start = Solution(instance, tuple(order), sharing)
    if not start.feasible:
        late = [start.admitted[q] for q, ok in enumerate(start.timeline.on_time) if not ok]
        raise ParameterError(
            f"initial: the starting schedule is not feasible ({', '.join(late[:5])} miss their deadline)"
        )
    return tuple(order)


def solve(
    instance: Instance,
    method: str = "auto",
    *,
    sharing: bool = True,
    time_limit: float | None = None,
    seed: int = 0,
    params: MethodParams | Mapping[str, Any] | None = None,
    initial: Sequence[str] | None = None,
    **options: Any,
) -> Result:
    """Solve ``instance`` with ``method``.

    Parameters
    ----------
    instance
        The instance to solve (its ``timing`` field selects the timing model).
    method
        One of :data:`METHOD_NAMES`; ``"auto"`` picks with :func:`choose_method`.
    sharing
        Schedule and evaluate with parameter sharing (``False``: whole models are loaded on
        every switch, the baseline of the seed paper).
    time_limit
        Wall-clock limit in seconds for methods that search (``None``: no limit).
    seed
        Seed of randomized methods; the same instance, method and seed give the same result.
    params
        The method's parameters (:mod:`partialloading.params`), as the dataclass or a mapping.
    initial
        A feasible starting schedule (user ids in service order). Heuristics improve it, exact
        methods use it as a warm start, and no method returns anything worse. Without it, the
        exact methods that search (``milp``, ``cpsat``, ``enumerate``) start from greedy's
        schedule (computed first, within :data:`WARM_START_SHARE` of the time limit), and
        greedy's upper bound goes with it, so an optimal start is proven at once;
        ``initial=[]`` starts them from nothing. ``result.info["incumbent_from"]`` says where
        the returned schedule came from: ``"method"``, ``"greedy"`` or ``"initial"``.
    **options
        Parameters as keywords (e.g. ``formulation="compact"`` for the MILP); they override
        ``params``.

    Returns
    -------
    Result
        Status, objective, bound, runtime and the solution.

    Raises
    ------
    MethodNotApplicableError
        Unknown method, or a method asked to solve an instance it does not support (timing
        model, or outside its exact case).
    ParameterError
        An unknown or ill-typed parameter, a bad seed or time limit, or an infeasible start.
    SolverError
        The backend failed or returned a schedule that misses a deadline.
    """
    if time_limit is not None and (isinstance(time_limit, bool) or not time_limit > 0):
        raise ParameterError(f"time limit must be positive (got {time_limit})")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) < 2**63:
        raise ParameterError(f"seed must be an integer from 0 to 2**63 - 1 (got {seed!r})")
    _check_weight_range(instance)
    # Without sharing every model owns private copies of its blocks: the methods see that
    # instance; the solution keeps the caller's instance and says it was built without sharing.
    work = instance if sharing else instance.unshared()
    name = choose_method(work) if method == "auto" else method
    if name not in METHODS:
        raise MethodNotApplicableError(f"unknown method {method!r} (choose from {', '.join(METHOD_NAMES)})")
    entry = METHODS[name]
    refusal = entry.unsupported(work)
    if refusal is not None:
        raise MethodNotApplicableError(refusal)
    typed = make_params(entry.params, params, **options)
    start = None if initial is None else _initial_order(instance, initial, sharing)
    backend = entry.load()
    started = time.perf_counter()
    warm: Result | None = None
    if start is None and entry.warm_start:
        warm = _warm_start(work, time_limit, int(seed))
        start = tuple(instance.user_index[uid] for uid in warm.solution.admitted)
    remaining = time_limit
    if time_limit is not None and warm is not None:
        remaining = max(time_limit - (time.perf_counter() - started), 0.01)
    request = SolveRequest(
        time_limit=remaining,
        seed=int(seed),
        initial=start,
        bound=None if warm is None else warm.bound,
    )
    out = backend(work, typed, request)
    runtime = time.perf_counter() - started
    try:
        solution = Solution(instance, tuple(out.order), sharing)
        feasible = solution.feasible
    except (IndexError, ValueError) as exc:
        raise SolverError(f"method {name!r} returned an invalid order: {exc}") from None
    if not feasible:
        late = [solution.admitted[q] for q, ok in enumerate(solution.timeline.on_time) if not ok]
        raise SolverError(f"method {name!r} returned a schedule in which {', '.join(late[:5])} miss their deadline")
    info = dict(out.info)
    status = out.status
    bound = out.bound
    if warm is not None and warm.bound is not None:
        # Greedy's bound (the relaxations of :mod:`partialloading.bounds`) is valid here too.
        bound = warm.bound if bound is None else min(bound, warm.bound)
    if bound is not None:
        # Every served weight is a multiple of the weight unit, so is the best one.
        bound = instance.round_bound(bound)
    if warm is not None:
        info["warm_start"] = _warm_info(warm)
    if start is not None:
        info["incumbent_from"] = "method"
        given = Solution(instance, start, sharing)
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
    result = Result(method=name, status=status, solution=solution, bound=bound, runtime=runtime, info=info)
    if method == "auto":
        info["chosen_by"] = "auto"
        result = _try_exact(instance, result, sharing, time_limit, int(seed))
    return result


def _warm_start(instance: Instance, time_limit: float | None, seed: int) -> Result:
    """Greedy's schedule, the start of an exact method (within :data:`WARM_START_SHARE` of the limit)."""
    budget = None if time_limit is None else WARM_START_SHARE * time_limit
    warm = solve(instance, "greedy", time_limit=budget, seed=seed)
    if warm.status == Status.OPTIMAL or "level_bound" in warm.info:
        return warm
    # Up to ten users greedy's bound is the cheap one (its exact set search usually proves
    # instead); an exact method gets the relaxation's bound all the same.
    relaxation = level_bound(instance, time_limit=side_budget(time_limit))
    bound = relaxation.value if warm.bound is None else min(warm.bound, relaxation.value)
    info = {**warm.info, "level_bound": {"value": relaxation.value, "proven": relaxation.proven}}
    status = Status.OPTIMAL if reaches(warm.objective, bound) else warm.status
    return dataclasses.replace(warm, bound=bound, status=status, info=info)


def _warm_info(warm: Result) -> dict[str, Any]:
    return {"method": warm.method, "objective": warm.objective, "bound": warm.bound, "runtime_s": warm.runtime}


def _try_exact(instance: Instance, found: Result, sharing: bool, time_limit: float | None, seed: int) -> Result:
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
    budget = AUTO_EXACT_BUDGET_S if time_limit is None else min(AUTO_EXACT_BUDGET_S, time_limit - found.runtime)
    if budget <= 0.05:
        return found
    exact = solve(instance, "cpsat", sharing=sharing, time_limit=budget, seed=seed, initial=found.solution.admitted)
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


__all__ = ["ENUMERATE_AUTO_MAX_USERS", "METHODS", "METHOD_NAMES", "choose_method", "solve"]
