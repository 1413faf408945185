"""One entry point for every method: :func:`solve`.

It checks the caller's arguments, loads the method's compiled code outside the time limit and
hands over to :func:`~partialloading.portfolio.solve_until`, the pipeline every solve runs
(dispatch on the declarations of :mod:`partialloading.methods`, the warm start, the backend,
re-evaluation and the combination of bounds), or, for several servers, to
:func:`~partialloading.servers.dispatch.solve_network`.
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


@overload  # The result's type follows the instance's (the keywords are the implementation's).
def solve(instance: Instance, method: str = "auto", **keywords: Any) -> Result: ...
@overload
def solve(instance: Network, method: str = "auto", **keywords: Any) -> NetworkResult: ...


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
        The instance to solve (its ``timing`` field selects the timing model), or a
        :class:`~partialloading.network.Network` of several servers.
    method
        One of :data:`METHOD_NAMES`; ``"auto"`` picks with :func:`choose_method`.
    sharing
        Schedule with parameter sharing (``False``: every switch loads whole models).
    time_limit
        Wall-clock limit in seconds for methods that search (``None``: no limit).
    seed
        Seed of randomized methods; the same instance, method and seed give the same result.
    params
        The method's parameters (:mod:`partialloading.params`): the dataclass or a mapping.
    initial
        A feasible start (user ids in service order; several servers: server id to user ids),
        which heuristics improve and exact methods warm-start from; no method returns worse.
        Without it, the exact methods that search start from greedy's schedule and bound
        (within :data:`~partialloading.portfolio.WARM_START_SHARE` of the limit); ``[]`` (``{}``)
        starts them from nothing. ``result.info["incumbent_from"]``: where the answer came from.
    initial_batch
        The batch numbers of ``initial`` (a solution file's ``batch``; ``None``: batches of one).
    **options
        Parameters as keywords (``formulation="compact"``), overriding ``params``.

    Returns
    -------
    Result or NetworkResult
        Status, objective, bound, runtime and the solution (with several servers, one per server).

    Raises
    ------
    MethodNotApplicableError
        Unknown method, or one that does not support the instance (its timing, memory, case).
    ParameterError, SolverError
        A bad parameter, seed, time limit or start; a backend that failed or was late.
    """
    if time_limit is not None and (isinstance(time_limit, bool) or not time_limit > 0):
        raise ParameterError(f"time limit must be positive (got {time_limit})")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) < 2**63:
        raise ParameterError(f"seed must be an integer from 0 to 2**63 - 1 (got {seed!r})")
    if isinstance(method, str) and method in METHODS:
        METHODS[method].prepare()  # compiled code loads (the first time, compiles) before the limit starts
    deadline = Deadline.after(time_limit)
    common: dict[str, Any] = {"sharing": sharing, "seed": int(seed), "params": params, "initial": initial}
    if isinstance(instance, Network):
        return solve_network(instance, method, deadline, initial_batch=initial_batch, **common, **options)
    return solve_until(instance, method, deadline, initial_batch=initial_batch, **common, **options)


__all__ = ["ENUMERATE_AUTO_MAX_USERS", "METHODS", "METHOD_NAMES", "choose_method", "solve", "solve_until"]
