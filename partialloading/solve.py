"""One entry point for every method: :func:`solve`.

It checks the caller's arguments, loads the method's compiled code outside the time limit and
hands over to :func:`~partialloading.portfolio.solve_until`, the pipeline every solve runs
(dispatch on the declarations of :mod:`partialloading.methods`, the warm start, the backend,
re-evaluation and the combination of bounds, in :mod:`partialloading.portfolio`).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any, overload

from .errors import ParameterError
from .instance import Instance
from .methods import METHOD_NAMES, METHODS
from .network import Network
from .params import MethodParams
from .portfolio import ENUMERATE_AUTO_MAX_USERS, choose_method, solve_until
from .result import Result
from .servers import NetworkResult
from .servers.dispatch import solve_network
from .stop import Deadline


@overload
def solve(
    instance: Instance,
    method: str = "auto",
    *,
    sharing: bool = True,
    time_limit: float | None = None,
    seed: int = 0,
    params: MethodParams | Mapping[str, Any] | None = None,
    initial: Sequence[str] | None = None,
    initial_batch: Sequence[int] | None = None,
    **options: Any,
) -> Result: ...


@overload
def solve(
    instance: Network,
    method: str = "auto",
    *,
    sharing: bool = True,
    time_limit: float | None = None,
    seed: int = 0,
    params: MethodParams | Mapping[str, Any] | None = None,
    initial: Mapping[str, Sequence[str]] | None = None,
    initial_batch: Sequence[int] | None = None,
    **options: Any,
) -> NetworkResult: ...


def solve(
    instance: Instance | Network,
    method: str = "auto",
    *,
    sharing: bool = True,
    time_limit: float | None = None,
    seed: int = 0,
    params: MethodParams | Mapping[str, Any] | None = None,
    initial: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    initial_batch: Sequence[int] | None = None,
    **options: Any,
) -> Result | NetworkResult:
    """Solve ``instance`` with ``method``.

    Parameters
    ----------
    instance
        The instance to solve (its ``timing`` field selects the timing model); a
        :class:`~partialloading.network.Network` of several servers gives a
        :class:`~partialloading.servers.NetworkResult` (methods with a several-server form only).
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
        A feasible starting schedule (user ids in service order; with several servers, a
        mapping of server id to user ids). Heuristics improve it, exact
        methods use it as a warm start, and no method returns anything worse. Without it, the
        exact methods that search (``milp``, ``cpsat``, ``bnb``, ``enumerate``) start from
        greedy's schedule (computed first, within
        :data:`~partialloading.portfolio.WARM_START_SHARE` of the time limit), and
        greedy's upper bound goes with it, so an optimal start is proven at once;
        ``initial=[]`` starts them from nothing. ``result.info["incumbent_from"]`` says where
        the returned schedule came from: ``"method"``, ``"greedy"`` or ``"initial"``.
    initial_batch
        The batch numbers of ``initial`` (a solution file's ``batch``; ``None``: batches of one).
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
    deadline = Deadline.after(time_limit)
    if isinstance(instance, Network):
        if initial_batch is not None:
            raise ParameterError("initial_batch: with several servers the start has batches of one request")
        if initial is not None and not isinstance(initial, Mapping):
            raise ParameterError("initial: with several servers, a mapping of server id to user ids in service order")
        return solve_network(
            instance, method, deadline, sharing=sharing, seed=int(seed), params=params, initial=initial, **options
        )
    if isinstance(initial, Mapping):
        raise ParameterError("initial: a list of user ids in service order (one server)")
    start = {"initial": initial, "initial_batch": initial_batch}
    return solve_until(instance, method, deadline, sharing=sharing, seed=int(seed), params=params, **start, **options)


__all__ = ["ENUMERATE_AUTO_MAX_USERS", "METHODS", "METHOD_NAMES", "choose_method", "solve", "solve_until"]
