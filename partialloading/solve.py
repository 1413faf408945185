"""One entry point for every method: :func:`solve` (dispatch only).

It checks the arguments, resolves ``auto``, checks that the method supports the instance
(timing model, memory model and case, as declared in :mod:`partialloading.backend`), builds the
typed parameters, runs the backend under one :class:`~partialloading.stop.Deadline`, rebuilds
the :class:`Solution` from the returned order (so the objective is always recomputed from the
instance under its timing and memory models), refuses infeasible output and wraps everything in
a :class:`Result`. How methods combine — the warm start, bounds, ``auto`` — is
:mod:`partialloading.portfolio`'s.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .backend import METHOD_NAMES, METHODS, SolveRequest, SolverOutput
from .errors import InstanceError, MethodNotApplicableError, ParameterError, SolverError
from .instance import Instance
from .params import MethodParams, make_params
from .portfolio import ENUMERATE_AUTO_MAX_USERS, auto_followup, choose_method, settle, warm_start
from .result import Result, Status
from .solution import Solution
from .stop import Deadline

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
        exact methods that search (``milp``, ``cpsat``, ``bnb``, ``enumerate``) start from
        greedy's schedule (computed first, within
        :data:`~partialloading.portfolio.WARM_START_SHARE` of the time limit), and
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
    if isinstance(method, str) and method in METHODS:
        # Compiled code is loaded (or, the first time ever, compiled) before the limit starts.
        METHODS[method].prepare()
    return solve_until(
        instance,
        method,
        Deadline.after(time_limit),
        sharing=sharing,
        seed=int(seed),
        params=params,
        initial=initial,
        **options,
    )


def solve_until(
    instance: Instance,
    method: str,
    deadline: Deadline,
    *,
    sharing: bool = True,
    seed: int = 0,
    params: MethodParams | Mapping[str, Any] | None = None,
    initial: Sequence[str] | None = None,
    **options: Any,
) -> Result:
    """:func:`solve` with the deadline already set (the portfolio's nested solves share it)."""
    if not isinstance(instance, Instance):
        raise ParameterError(f"instance: expected an Instance (got {type(instance).__name__})")
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
    start = None if initial is None else _initial_order(instance, initial, sharing)
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
    )
    if warm is not None and start is not None and warm.status == Status.OPTIMAL:
        # The start reaches the bound: nothing can beat it, so the method is not run at all.
        out = SolverOutput(
            list(start), Status.OPTIMAL, warm.bound, {"proven_by": "warm start"}, request.initial_evicted
        )
    else:
        out = entry.load()(work, typed, request)
    runtime = time.perf_counter() - started
    solution = _checked(instance, name, out, sharing)
    solution, status, bound, info = settle(name, out, solution, start, warm, request.initial_evicted)
    result = Result(method=name, status=status, solution=solution, bound=bound, runtime=runtime, info=info)
    if method == "auto":
        info["chosen_by"] = "auto"
        result = auto_followup(instance, result, sharing, deadline, seed)
    return result


def _checked(instance: Instance, name: str, out: SolverOutput, sharing: bool) -> Solution:
    """The solution of a backend's output, refused unless it is a valid, on-time schedule."""
    evicted = None if out.evicted is None else tuple(None if e is None else tuple(e) for e in out.evicted)
    try:
        solution = Solution(instance, tuple(out.order), sharing, evicted)
        feasible = solution.feasible
    except (IndexError, ValueError) as exc:
        raise SolverError(f"method {name!r} returned an invalid order: {exc}") from None
    if not feasible:
        late = [solution.admitted[q] for q, ok in enumerate(solution.timeline.on_time) if not ok]
        raise SolverError(f"method {name!r} returned a schedule in which {', '.join(late[:5])} miss their deadline")
    return solution


__all__ = ["ENUMERATE_AUTO_MAX_USERS", "METHODS", "METHOD_NAMES", "choose_method", "solve", "solve_until"]
